"""The server's own lines on stderr: one access line per request, and notices.

    127.0.0.1:51234 "POST /invocations HTTP/1.1" 200 52B 1.9ms v3
    mlcli serve: models:/iris@champion moved to version 4: now serving it

The access log is a pure ASGI wrapper (no logging module, one ``write`` per line) so
that it costs a few microseconds, not a share of every request.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any, TextIO

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

VERSION_HEADER = b"x-mlcli-model-version"


class ServerLog:
    """``name`` starts each notice: ``mlcli serve``, or ``mlcli server`` for the tracking
    server."""

    def __init__(self, stream: TextIO | None = None, name: str = "mlcli serve") -> None:
        self._stream = stream
        self.name = name

    @property
    def stream(self) -> TextIO:
        return self._stream or sys.stderr

    def info(self, text: str) -> None:
        self.stream.write(f"{self.name}: {text}\n")

    def line(self, text: str) -> None:
        self.stream.write(text + "\n")


class AccessLog:
    """ASGI middleware writing one line per HTTP request when its response is sent."""

    def __init__(self, app: ASGIApp, log: ServerLog) -> None:
        self.app = app
        self.log = log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 0
        size = 0
        version = ""

        async def sending(message: Message) -> None:
            nonlocal status, size, version
            if message["type"] == "http.response.start":
                status = message["status"]
                for name, value in message.get("headers", ()):
                    if name == VERSION_HEADER:
                        version = f" v{value.decode()}"
            elif message["type"] == "http.response.body":
                size += len(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            client = scope.get("client")
            peer = f"{client[0]}:{client[1]}" if client else "-"
            raw_query = scope.get("query_string")
            query = f"?{raw_query.decode('latin-1')}" if raw_query else ""
            elapsed = (time.perf_counter() - started) * 1000
            self.log.line(
                f'{peer} "{scope["method"]} {scope["path"]}{query} HTTP/{scope["http_version"]}" '
                f"{status or '-'} {size}B {elapsed:.1f}ms{version}"
            )
