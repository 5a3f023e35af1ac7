"""Who may talk to the tracking server, as one ASGI middleware in front of the app.

- With a token (``--auth-token-file``), every request must carry
  ``Authorization: Bearer <token>`` (what MLflow's clients send for
  ``MLFLOW_TRACKING_TOKEN``); anything else is a 401 before the request is read.
- A server listening on a loopback address answers only requests whose Host header
  names a loopback address, so a web page cannot reach it through DNS rebinding.
  (Requests that change something must also be JSON or an artifact PUT, which a
  foreign page cannot send without a CORS preflight this server never grants.)
"""

from __future__ import annotations

import hmac
import ipaddress
import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})


class Guard:
    def __init__(self, app: ASGIApp, host: str, token: str | None) -> None:
        self.app = app
        self.loopback_only = is_loopback(host)
        self.expected = None if token is None else f"bearer {token}".encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        refusal = self.refusal(dict(scope["headers"]))
        if refusal is None:
            await self.app(scope, receive, send)
        else:
            await _refuse(send, *refusal)

    def refusal(self, headers: dict[bytes, bytes]) -> tuple[int, str, str] | None:
        """(status, error code, message) when the request must not reach the app."""
        if self.loopback_only:
            host = _host_name(headers.get(b"host", b"").decode("latin-1"))
            if host and not (host in LOOPBACK_NAMES or is_loopback(host)):
                return 403, "PERMISSION_DENIED", f"this server does not answer for host {host!r}"
        if self.expected is not None:
            given = headers.get(b"authorization", b"")
            scheme, _, credential = given.partition(b" ")
            if not hmac.compare_digest(scheme.lower() + b" " + credential.strip(), self.expected):
                what = "a wrong token" if given else "no token"
                return (
                    401,
                    "UNAUTHENTICATED",
                    f"this server needs 'Authorization: Bearer <token>' (the request had "
                    f"{what}); MLflow clients send MLFLOW_TRACKING_TOKEN",
                )
        return None


def is_loopback(host: str) -> bool:
    host = host.strip("[]").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


async def _refuse(send: Send, status: int, code: str, message: str) -> None:
    body = json.dumps({"error_code": code, "message": message}).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
    ]
    if status == 401:
        headers.append((b"www-authenticate", b'Bearer realm="mlcli"'))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _host_name(host: str) -> str:
    """The name in a Host header, without the port (and without IPv6 brackets)."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1 : host.find("]")] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host
