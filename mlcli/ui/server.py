"""``serve_ui``: bind the address, then run the dashboard on uvicorn until stopped.

The socket is bound before the server starts, so a taken port is a one-line error
and ``--port 0`` can say which port it got. Ctrl-C or SIGTERM stops the server after
the requests in flight finish; that is its normal end, so it returns 0.
"""

from __future__ import annotations

import threading
import webbrowser
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from mlcli.errors import InvalidInputError
from mlcli.web.uvicorn_runner import bind_socket, check_exposure, clean_exit_server_class

if TYPE_CHECKING:
    from mlcli.client import MlcliClient

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 5005


@dataclass(frozen=True)
class UiConfig:
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    open_browser: bool = False
    auth_token_file: str | None = None  # requests must bear the token in this file
    allow_unauthenticated: bool = False  # a network address without a token (see check_exposure)

    def __post_init__(self) -> None:
        if not 0 <= self.port <= 65535:
            raise InvalidInputError(f"invalid port {self.port}: expected 0 to 65535")


def serve_ui(
    config: UiConfig,
    client: MlcliClient,
    announce: Callable[[str], None] = lambda text: None,
) -> int:
    """Serve until stopped; ``announce`` is told the URL once the port is open."""
    import uvicorn

    from mlcli.ui.app import create_app

    token = None
    if config.auth_token_file is not None:
        from mlcli.web.settings import read_token

        token = read_token(Path(config.auth_token_file))
    check_exposure(
        config.host,
        authenticated=token is not None,
        allow_unauthenticated=config.allow_unauthenticated,
        exposes="read every run, artifact and model in the store and promote models",
    )
    store = client.store  # a missing store is an error before anything listens
    app = create_app(client, config.host, token)
    sock = bind_socket(config.host, config.port)
    url = page_url(*sock.getsockname()[:2])
    settings = uvicorn.Config(
        app,
        log_level="warning",
        access_log=False,
        lifespan="off",
        timeout_graceful_shutdown=5,
    )
    announce(f"serving the dashboard of {store.root} on {url} (Ctrl-C to stop)")
    if config.open_browser:
        threading.Timer(0.5, webbrowser.open, args=(url,)).start()
    clean_exit_server_class()(settings).run(sockets=[sock])
    return 0


def page_url(host: str, port: int) -> str:
    if host in ("0.0.0.0", "::"):
        host = "127.0.0.1"  # what a browser on this machine can open
    return f"http://[{host}]:{port}/" if ":" in host else f"http://{host}:{port}/"
