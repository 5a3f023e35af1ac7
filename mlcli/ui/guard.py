"""The dashboard's HTTP hygiene, as one ASGI middleware around the app.

- Security headers on every response: a Content-Security-Policy that allows scripts,
  styles and connections from the dashboard's own origin only (no inline scripts, no
  ``eval``), ``X-Content-Type-Options: nosniff``, no framing, no referrer. A response
  that sets its own CSP (artifact files: a sandbox) keeps it.
- The Host header must name an address the server listens on (or ``localhost``), so
  a web page cannot reach the dashboard through DNS rebinding.
- A request that changes something (POST) must come from the dashboard's own pages:
  its ``Origin``, when sent, is the dashboard's, and its body is JSON (which a foreign
  page cannot send without a CORS preflight that this server never grants).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import Any
from urllib.parse import urlsplit

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
LOOPBACK_NAMES = frozenset({"127.0.0.1", "localhost", "::1"})
ANY_ADDRESS = frozenset({"0.0.0.0", "::", ""})
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class Guard:
    """Wraps ``app``; ``host`` is the address the server listens on."""

    def __init__(self, app: ASGIApp, host: str) -> None:
        self.app = app
        self.any_host = host in ANY_ADDRESS
        self.hosts = LOOPBACK_NAMES | {host.strip("[]").lower()}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        refusal = self.refusal(scope["method"], headers)
        if refusal is not None:
            await _refuse(send, *refusal)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = _with_security_headers(message.get("headers") or [])
            await send(message)

        await self.app(scope, receive, send_with_headers)

    def refusal(self, method: str, headers: dict[str, str]) -> tuple[int, str] | None:
        """(status, message) when the request must not reach the app."""
        host = _host_name(headers.get("host", ""))
        if not self.any_host and host not in self.hosts:
            return 421, f"this server does not answer for host {host!r}"
        if method in SAFE_METHODS:
            return None
        origin = headers.get("origin")
        if origin is not None and _host_port(origin) != headers.get("host", "").lower():
            return 403, "requests that change something must come from the dashboard's pages"
        media_type = headers.get("content-type", "").split(";")[0].strip().lower()
        if media_type != "application/json":
            return 415, "send the request body as JSON (Content-Type: application/json)"
        return None


def _with_security_headers(headers: Iterable[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    result = list(headers)
    present = {name.lower() for name, _ in result}
    if b"content-security-policy" not in present:
        result.append((b"content-security-policy", CONTENT_SECURITY_POLICY.encode()))
    result += [(name, value) for name, value in SECURITY_HEADERS if name not in present]
    return result


async def _refuse(send: Send, status: int, message: str) -> None:
    body = json.dumps({"error_code": "PERMISSION_DENIED", "message": message}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": _with_security_headers(
                [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"cache-control", b"no-store"),
                ]
            ),
        }
    )
    await send({"type": "http.response.body", "body": body})


def _host_name(host: str) -> str:
    """The name in a Host header, without the port (and without IPv6 brackets)."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1 : host.find("]")] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def _host_port(origin: str) -> str:
    try:
        return (urlsplit(origin).netloc or "").lower()
    except ValueError:
        return ""
