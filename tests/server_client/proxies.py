"""A real HTTP proxy for the client tests: in front of a real server, it plays a load
balancer whose replicas fail (503s) or a network that loses answers."""

from __future__ import annotations

import http.server
import threading
import urllib.error
import urllib.request
from typing import Any


class FlakyProxy:
    """A real HTTP proxy in front of a real server that answers ``503`` to the first
    ``failures`` requests (a load balancer while a replica restarts), then forwards."""

    def __init__(self, target: str, failures: int, lose_answers: str | None = None) -> None:
        """With ``lose_answers`` (a path), the first ``failures`` requests to that path
        are forwarded, and their answers dropped (the connection closed) instead."""
        self.target = target
        self.failures = failures
        self.lose_answers = lose_answers
        self.seen = 0
        self.forwarded: list[bytes] = []
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def relay(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                if proxy.lose_answers is not None and self.path == proxy.lose_answers:
                    proxy.seen += 1
                    reply = self.forward(body)
                    proxy.forwarded.append(body or b"")
                    if proxy.seen <= proxy.failures:
                        self.close_connection = True  # the answer is lost on the way back
                        return
                    self.answer(*reply)
                    return
                if proxy.lose_answers is None:
                    proxy.seen += 1
                if proxy.lose_answers is None and proxy.seen <= proxy.failures:
                    self.send_response(503)
                    self.send_header("Retry-After", "0")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.answer(*self.forward(body))

            def forward(self, body: bytes | None) -> tuple[int, bytes, str]:
                headers = {k: v for k, v in self.headers.items() if k.lower() != "host"}
                request = urllib.request.Request(
                    proxy.target + self.path, data=body, headers=headers, method=self.command
                )
                try:
                    with urllib.request.urlopen(request) as reply:
                        status, data, kind = reply.status, reply.read(), reply.headers
                except urllib.error.HTTPError as error:
                    status, data, kind = error.code, error.read(), error.headers
                return status, data, kind.get("Content-Type", "application/json")

            def answer(self, status: int, data: bytes, kind: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = relay

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
