"""``serve_ui``: bind the address, then run the dashboard on uvicorn until stopped.

The socket is bound before the server starts, so a taken port is a one-line error
and ``--port 0`` can say which port it got. Ctrl-C or SIGTERM stops the server after
the requests in flight finish; that is its normal end, so it returns 0.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import webbrowser
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from mlcli.errors import EnvironmentFailure, InvalidInputError

if TYPE_CHECKING:
    from mlcli.client import MlcliClient

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 5005


@dataclass(frozen=True)
class UiConfig:
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    open_browser: bool = False

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

    store = client.store  # a missing store is an error before anything listens
    app = create_app(client, config.host)
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
    _quiet_exit_server()(settings).run(sockets=[sock])
    return 0


def bind_socket(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port`` (port 0: any free port)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise EnvironmentFailure(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    sock.listen(128)  # connections wait in the backlog until uvicorn accepts them
    return sock


def page_url(host: str, port: int) -> str:
    if host in ("0.0.0.0", "::"):
        host = "127.0.0.1"  # what a browser on this machine can open
    return f"http://[{host}]:{port}/" if ":" in host else f"http://{host}:{port}/"


def _quiet_exit_server() -> type:
    """uvicorn's Server, except that after a graceful shutdown on Ctrl-C or SIGTERM it
    returns instead of re-raising the signal: stopping is a server's normal end."""
    import uvicorn

    class QuietExitServer(uvicorn.Server):
        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            with super().capture_signals():
                yield
                captured = getattr(self, "_captured_signals", None)
                if isinstance(captured, list):
                    captured.clear()

    return QuietExitServer
