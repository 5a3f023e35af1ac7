"""The dashboard's HTTP hygiene, as one ASGI middleware around the app.

- Who may talk to it at all (the Host header, against DNS rebinding, and a token when
  there is one) is decided by the guard every mlcli server shares
  (:mod:`mlcli.web.guard`), inside this one.
- Security headers on every response, refusals included: a Content-Security-Policy
  that allows scripts, styles and connections from the dashboard's own origin only (no
  inline scripts, no ``eval``), ``X-Content-Type-Options: nosniff``, no framing, no
  referrer. A response that sets its own CSP (artifact files: a sandbox) keeps it.
- A request that changes something (POST) must come from the dashboard's own pages:
  its ``Origin``, when sent, is the dashboard's, and it says its body is JSON (which a
  foreign page cannot send without a CORS preflight that this server never grants).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import Any
from urllib.parse import urlsplit

from mlcli.web.bodies import JSON_MEDIA_TYPE, media_type
from mlcli.web.guard import Refusal, refuse

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)
# Artifact files: nothing in them may run, nor load anything (an SVG may hold scripts).
FILE_CSP_HEADER = {
    "content-security-policy": "default-src 'none'; img-src 'self' data:; "
    "style-src 'unsafe-inline'; sandbox"
}
SECURITY_HEADERS = (
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
)
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class Guard:
    """Wraps ``app`` (already behind :class:`mlcli.web.guard.Guard`)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = _with_security_headers(message.get("headers") or [])
            await send(message)

        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        refusal = self.refusal(scope["method"], headers)
        if refusal is not None:
            await refuse(send_with_headers, *refusal, [(b"cache-control", b"no-store")])
            return
        await self.app(scope, receive, send_with_headers)

    def refusal(self, method: str, headers: dict[str, str]) -> Refusal | None:
        """Why a request must not reach the app, or None."""
        if method in SAFE_METHODS:
            return None
        origin = headers.get("origin")
        if origin is not None and _host_port(origin) != headers.get("host", "").lower():
            return (
                403,
                "PERMISSION_DENIED",
                "requests that change something must come from the dashboard's pages",
            )
        if media_type(headers.get("content-type")) != JSON_MEDIA_TYPE:
            return (
                415,
                "UNSUPPORTED_MEDIA_TYPE",
                f"send the request as JSON (Content-Type: {JSON_MEDIA_TYPE})",
            )
        return None


def _with_security_headers(headers: Iterable[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    result = list(headers)
    present = {name.lower() for name, _ in result}
    if b"content-security-policy" not in present:
        result.append((b"content-security-policy", CONTENT_SECURITY_POLICY.encode()))
    result += [(name, value) for name, value in SECURITY_HEADERS if name not in present]
    return result


def _host_port(origin: str) -> str:
    try:
        return (urlsplit(origin).netloc or "").lower()
    except ValueError:
        return ""
