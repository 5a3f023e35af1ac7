"""``mlcli server``: the store behind MLflow's REST API, for ``import mlflow`` code.

    ServerConfig        what to serve and how (host, port, workers, token, limits)
    run_server(config)  serve until SIGTERM (uvicorn; imported when called)
    create_app(config)  the ASGI app itself

Nothing here imports Starlette or uvicorn until a server starts.
"""

from __future__ import annotations

from typing import Any

from mlcli.tracking_server.config import ServerConfig

__all__ = ["ServerConfig", "create_app", "run_server"]


def run_server(config: ServerConfig, log: Any = None) -> int:
    from mlcli.tracking_server.launch import run_server as run

    return run(config, log)


def create_app(config: ServerConfig, log: Any = None) -> Any:
    from mlcli.tracking_server.app import create_app as create

    return create(config, log)
