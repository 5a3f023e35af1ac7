"""A tracking server for the length of one block: ``mlcli run --mlflow-compat``.

It listens on a free loopback port, in a thread of this process, and answers only
requests carrying a bearer token made for it (other local users cannot write to the
store through it). ``environment()`` gives what an MLflow client needs to log into a
given run: ``MLFLOW_TRACKING_URI``, ``MLFLOW_TRACKING_TOKEN``, ``MLFLOW_RUN_ID`` and
``MLFLOW_EXPERIMENT_ID``.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from mlcli.errors import EnvironmentFailure
from mlcli.tracking_server.config import ServerConfig

START_TIMEOUT = 15.0


@dataclass(frozen=True)
class EphemeralServer:
    url: str
    token: str

    def environment(self, run_id: str, experiment_id: str) -> dict[str, str]:
        return {
            "MLFLOW_TRACKING_URI": self.url,
            "MLFLOW_TRACKING_TOKEN": self.token,
            "MLFLOW_RUN_ID": run_id,
            "MLFLOW_EXPERIMENT_ID": experiment_id,
        }


@contextlib.contextmanager
def ephemeral_server(store_root: Path) -> Iterator[EphemeralServer]:
    """Serve ``store_root`` until the block ends; the requests in flight then finish."""
    import uvicorn

    from mlcli.tracking_server.app import create_app
    from mlcli.web.uvicorn_runner import bind_socket

    token = secrets.token_urlsafe(32)
    with tempfile.TemporaryDirectory(prefix="mlcli-server-") as directory:
        token_file = Path(directory) / "token"
        token_file.write_text(token)
        os.chmod(token_file, 0o600)
        config = ServerConfig(
            str(store_root), port=0, auth_token_file=str(token_file), access_log=False
        )
        app = create_app(config)
    sock = bind_socket("127.0.0.1", 0)
    port = sock.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off")
    )
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name="mlflow-compat-server", daemon=True
    )
    thread.start()
    try:
        _wait_started(server, thread)
        yield EphemeralServer(f"http://127.0.0.1:{port}", token)
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()


def _wait_started(server: object, thread: threading.Thread) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while not getattr(server, "started", False):
        if not thread.is_alive() or time.monotonic() > deadline:
            raise EnvironmentFailure("the MLflow-compatible tracking server did not start")
        time.sleep(0.01)
