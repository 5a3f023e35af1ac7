"""``run_server``: bind the address, then serve the store on uvicorn until SIGTERM.

The socket is bound first (a taken port is a one-line error; ``--port 0`` says which
port it got). One worker runs in this process; with ``--workers N`` uvicorn's
supervisor starts N processes sharing the socket, each with its own app, and its own
metrics kept in a private folder that ``/metrics`` adds up
(:func:`mlcli.web.metrics.worker_metrics`).
SIGTERM or Ctrl-C lets the requests in flight finish (for up to 30 s), then the
server exits 0. The server buffers no writes: a request that was answered is in the
store, so there is nothing to flush.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from mlcli.tracking_server.config import CONFIG_VARIABLE, ServerConfig
from mlcli.web.log import ServerLog
from mlcli.web.metrics import worker_metrics
from mlcli.web.uvicorn_runner import bind_socket, check_exposure, clean_exit_server_class

FACTORY = "mlcli.tracking_server.app:app_from_environment"


def run_server(config: ServerConfig, log: ServerLog | None = None) -> int:
    log = log or ServerLog(name="mlcli server")
    token = config.token()  # a bad token file is an error before anything listens
    if config.auth_db is not None:  # so is a missing auth database
        from mlcli.tracking_server.auth.database import AuthDatabase

        AuthDatabase.open(config.auth_db).close()
    check_exposure(
        config.host,
        authenticated=token is not None or config.auth_db is not None,
        allow_unauthenticated=config.allow_unauthenticated,
        exposes="read, change and delete everything in the store",
    )
    with worker_metrics(config.workers):
        return _serve(config, log, token)


def _serve(config: ServerConfig, log: ServerLog, token: str | None) -> int:
    import uvicorn

    from mlcli.tracking_server.app import create_app

    if config.workers == 1:
        app: Callable[..., Any] | str = create_app(config, log)
    else:
        os.environ[CONFIG_VARIABLE] = config.to_json()
        app = FACTORY
    settings = uvicorn.Config(
        app,
        factory=config.workers > 1,
        workers=config.workers,
        log_level="warning",
        access_log=False,  # ours (mlcli.web.log) is cheaper
        lifespan="on",  # a team store flushes its buffer on shutdown (app.py)
        timeout_graceful_shutdown=30,
        timeout_keep_alive=30,
    )
    sock = bind_socket(config.host, config.port)
    host, port = sock.getsockname()[:2]
    where = f"[{host}]" if ":" in host else host
    auth = "bearer token required" if token else "no authentication"
    if config.auth_db is not None:
        from mlcli.tracking_server.auth.connection import shown

        auth = f"users and permissions of {shown(config.auth_db)}"
    log.info(
        f"serving the store {config.store} over MLflow's REST API on http://{where}:{port} "
        f"({auth}; {config.workers} worker{'s' if config.workers > 1 else ''}; pid {os.getpid()})"
    )
    if config.workers == 1:
        clean_exit_server_class()(settings).run(sockets=[sock])
    else:
        from uvicorn.supervisors import Multiprocess

        Multiprocess(settings, sockets=[sock]).run()
    log.info("stopped")
    return 0
