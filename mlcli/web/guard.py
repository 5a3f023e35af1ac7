"""Who may talk to an mlcli HTTP server, as one ASGI middleware in front of the app.

``mlcli serve``, ``mlcli server`` and ``mlcli ui`` all sit behind it:

- A server listening on a loopback address answers only requests whose Host header
  names a loopback address (``localhost``, ``127.0.0.1``, ``[::1]``...), so a web page
  cannot reach it through DNS rebinding (a name of the attacker's that resolves to
  127.0.0.1). A server listening on a network address is reached by names this
  middleware cannot know, and answers for any; a token is what protects it.
- With a token, every request must carry ``Authorization: Bearer <token>`` (what
  MLflow's clients send for ``MLFLOW_TRACKING_TOKEN``); anything else is a 401 before
  the request is read.
- With ``browser_login`` (``mlcli server``, whose dashboard a browser opens), the
  session cookie of the interim login form (:mod:`mlcli.web.login`) counts as the
  token, ``/login`` answers without one, and a browser opening a page without
  credentials is sent to ``/login`` (an API client still gets the 401).

Refusals are JSON ``{"error_code", "message"}`` like every other error of the servers.
Requests that change something must also be JSON (checked by each app, see
``mlcli.web.bodies``), which a foreign page cannot send without a CORS preflight
that no mlcli server grants.
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

Refusal = tuple[int, str, str]  # (HTTP status, error code, message)


class Guard:
    """Wraps ``app``; ``host`` is the address the server listens on, ``token`` the
    bearer token every request must carry (None: no authentication)."""

    def __init__(
        self, app: ASGIApp, host: str, token: str | None = None, *, browser_login: bool = False
    ) -> None:
        self.app = app
        self.loopback_only = is_loopback(host)
        self.token = token
        self.expected = None if token is None else f"bearer {token}".encode()
        self.browser_login = browser_login and token is not None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        if self.browser_login:
            await self.with_browser_login(scope, receive, send, headers)
            return
        refusal = self.refusal(headers)
        if refusal is None:
            await self.app(scope, receive, send)
        else:
            await refuse(send, *refusal)

    async def with_browser_login(
        self, scope: Scope, receive: Receive, send: Send, headers: dict[bytes, bytes]
    ) -> None:
        from mlcli.web import login

        assert self.token is not None
        refusal = self.host_refusal(headers)
        if refusal is None and scope["path"] in login.LOGIN_PATHS:
            await login.login(scope, receive, send, self.token)
            return
        if refusal is None and not login.has_session(headers, self.token):
            refusal = self.refusal(headers)
            if refusal is not None and login.wants_page(scope, headers):
                await login.redirect_to_login(scope, send)
                return
        if refusal is None:
            await self.app(scope, receive, send)
        else:
            await refuse(send, *refusal)

    def host_refusal(self, headers: dict[bytes, bytes]) -> Refusal | None:
        """A loopback server's refusal of a foreign Host header (DNS rebinding), or None."""
        if self.loopback_only:
            host = host_name(headers.get(b"host", b"").decode("latin-1"))
            if host and not is_loopback(host):  # no Host at all: HTTP/1.0, not a browser
                return 403, "PERMISSION_DENIED", f"this server does not answer for host {host!r}"
        return None

    def refusal(self, headers: dict[bytes, bytes]) -> Refusal | None:
        """Why the request must not reach the app, or None."""
        if (refusal := self.host_refusal(headers)) is not None:
            return refusal
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
    """Whether ``host`` (a name or an address) names this machine's loopback interface."""
    host = host.strip("[]").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def host_name(host: str) -> str:
    """The name in a Host header, without the port (and without IPv6 brackets)."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1 : host.find("]")] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


async def refuse(
    send: Send,
    status: int,
    code: str,
    message: str,
    headers: list[tuple[bytes, bytes]] | None = None,
) -> None:
    """Answer a refused request with a JSON error body, without reading it."""
    body = json.dumps({"error_code": code, "message": message}).encode()
    sent = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        *(headers or []),
    ]
    if status == 401 and not any(name == b"www-authenticate" for name, _ in sent):
        sent.append((b"www-authenticate", b'Bearer realm="mlcli"'))
    await send({"type": "http.response.start", "status": status, "headers": sent})
    await send({"type": "http.response.body", "body": body})
