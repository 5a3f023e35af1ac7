"""A real HTTP proxy for the client tests: in front of a real server, it plays a load
balancer whose replicas fail (503s) or a network that loses answers."""

from __future__ import annotations

import http.client
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


class Balancer:
    """A round-robin load balancer in front of several real servers, as nginx's
    ``proxy_pass`` to an upstream group: a request goes to the next backend; a backend
    that refuses the connection is skipped (nothing was sent); one that dies after the
    request was sent gets the client a 502, which the client may retry."""

    def __init__(self, targets: list[str]) -> None:
        self.targets = list(targets)
        self.turn = 0
        self.lock = threading.Lock()
        self.bad_gateways = 0
        self.in_flight = dict.fromkeys(self.targets, 0)  # requests sent, answer not back
        balancer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def relay(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                headers = {k: v for k, v in self.headers.items() if k.lower() != "host"}
                for target in balancer.order():
                    request = urllib.request.Request(
                        target + self.path, data=body, headers=headers, method=self.command
                    )
                    balancer.count(target, 1)
                    try:
                        with urllib.request.urlopen(request, timeout=120) as reply:
                            self.answer(reply.status, reply.read(), reply.headers)
                        return
                    except urllib.error.HTTPError as error:
                        self.answer(error.code, error.read(), error.headers)
                        return
                    except urllib.error.URLError as error:
                        if isinstance(error.reason, ConnectionRefusedError):
                            continue  # never reached it: the next one
                        break
                    except (ConnectionError, http.client.HTTPException):
                        break
                    finally:
                        balancer.count(target, -1)
                with balancer.lock:
                    balancer.bad_gateways += 1
                self.answer(502, b'{"error_code": "BAD_GATEWAY"}', {})

            def answer(self, status: int, data: bytes, headers: Any) -> None:
                self.send_response(status)
                self.send_header("Content-Type", headers.get("Content-Type", "application/json"))
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = relay

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def count(self, target: str, change: int) -> None:
        with self.lock:
            self.in_flight[target] += change

    def order(self) -> list[str]:
        with self.lock:
            self.turn += 1
            start = self.turn % len(self.targets)
        return self.targets[start:] + self.targets[:start]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
