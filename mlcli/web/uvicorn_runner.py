"""Running mlcli's ASGI apps (``serve``, ``ui``, ``server``) on uvicorn, the same way.

The socket is bound before uvicorn starts, so a taken port is a one-line error and
``--port 0`` can say which port it got; and a SIGTERM or Ctrl-C that stops the
server after its requests finish is its normal end, so the process exits 0.

None of them listens on a network address without authentication unless told to
(:func:`check_exposure`): on a loopback address only this machine's users reach it,
on any other address anyone who can route a packet to it does.
"""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Iterator

from mlcli.errors import EnvironmentFailure, InvalidInputError

BACKLOG = 2048  # uvicorn's own default


def check_exposure(
    host: str, *, authenticated: bool, allow_unauthenticated: bool, exposes: str
) -> None:
    """Refuse to serve on a non-loopback ``host`` without a token, unless the user
    passed ``--allow-unauthenticated``; ``exposes`` says what anyone could then do."""
    from mlcli.web.guard import is_loopback

    if authenticated or allow_unauthenticated or is_loopback(host):
        return
    raise InvalidInputError(
        f"refusing to listen on {host} without authentication: anyone who can reach it "
        f"could {exposes}; give --auth-token-file FILE, or --allow-unauthenticated if a "
        "firewall or an authenticating proxy already guards this address"
    )


def bind_socket(host: str, port: int) -> socket.socket:
    """A listening-ready TCP socket on ``host:port`` (port 0: any free port)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP named explicitly: asyncio sets TCP_NODELAY on accepted connections only
    # when the socket says TCP. Without it, Nagle's algorithm and delayed ACKs add 40 ms
    # to every keep-alive request (uvicorn's own bind for --workers has that problem).
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        reason = exc.strerror or str(exc)
        raise EnvironmentFailure(f"cannot listen on {host}:{port}: {reason}") from None
    sock.listen(BACKLOG)  # from now on, connections wait in the backlog until uvicorn runs
    sock.set_inheritable(True)
    return sock


def clean_exit_server_class() -> type:
    """uvicorn's Server, except that after a graceful shutdown on SIGTERM or Ctrl-C the
    process exits 0 instead of re-raising the signal at itself: stopping is the normal
    end of a server's life, not a failure (and the caller sees "stopped")."""
    import uvicorn

    class CleanExitServer(uvicorn.Server):
        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            with super().capture_signals():
                yield
                captured = getattr(self, "_captured_signals", None)
                if isinstance(captured, list):
                    captured.clear()

    return CleanExitServer
