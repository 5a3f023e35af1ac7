"""The server's own lines on stderr: one access line per request, and notices.

    127.0.0.1:51234 "POST /invocations HTTP/1.1" 200 52B 1.9ms v3
    mlcli serve: models:/iris@champion moved to version 4: now serving it

or, with ``json_lines`` (``mlcli server --log-format json``), one JSON object per
request, for a log collector::

    {"time": "2026-01-05T10:00:00.123Z", "client": "127.0.0.1:51234", "method": "GET",
     "route": "/api/2.0/mlflow/runs/get", "path": "/api/2.0/mlflow/runs/get",
     "query": "run_id=...", "status": 200, "bytes": 52, "duration_ms": 1.9, "user": null}

The access log is a pure ASGI wrapper (no logging module, one ``write`` per line) so
that it costs a few microseconds, not a share of every request.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Awaitable, Callable, MutableMapping
from datetime import datetime, timezone
from typing import Any, TextIO

from mlcli.web.routes import route_template

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
    """ASGI middleware writing one line per HTTP request when its response is sent:
    text, or a JSON object when ``json_lines``."""

    def __init__(self, app: ASGIApp, log: ServerLog, json_lines: bool = False) -> None:
        self.app = app
        self.log = log
        self.json_lines = json_lines

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
            elapsed = (time.perf_counter() - started) * 1000
            if self.json_lines:
                self.log.line(_json_line(scope, status, size, elapsed))
            else:
                self.log.line(_text_line(scope, status, size, elapsed, version))


def _text_line(scope: Scope, status: int, size: int, elapsed: float, version: str) -> str:
    client = scope.get("client")
    peer = f"{client[0]}:{client[1]}" if client else "-"
    raw_query = scope.get("query_string")
    query = f"?{raw_query.decode('latin-1')}" if raw_query else ""
    return (
        f'{peer} "{scope["method"]} {scope["path"]}{query} HTTP/{scope["http_version"]}" '
        f"{status or '-'} {size}B {elapsed:.1f}ms{version}"
    )


def _json_line(scope: Scope, status: int, size: int, elapsed: float) -> str:
    """``status`` 0: the client went away before an answer. ``user`` stays None until
    the server knows its users (issue 18, item 2)."""
    client = scope.get("client")
    now = datetime.now(timezone.utc).isoformat(timespec="milliseconds")
    return json.dumps(
        {
            "time": now.replace("+00:00", "Z"),
            "client": f"{client[0]}:{client[1]}" if client else None,
            "method": scope["method"],
            "route": route_template(scope),
            "path": scope["path"],
            "query": scope.get("query_string", b"").decode("latin-1"),
            "status": status,
            "bytes": size,
            "duration_ms": round(elapsed, 3),
            "user": None,
        },
        ensure_ascii=False,
    )
