"""Requests with bodies too large to send whole, over a raw socket: the body goes out in
small pieces (chunked or not) until the server answers, as a real client's upload
does when a server refuses it early. Shared by the server, serving and ui tests."""

from __future__ import annotations

import http.client
import json
import select
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

PIECE = 64 * 1024


@dataclass
class Reply:
    """An HTTP answer as every test client here returns it."""

    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def text(self) -> str:
        return self.body.decode()


def pieces(
    size: int, fill: bytes = b"x", prefix: bytes = b"", suffix: bytes = b""
) -> Iterable[bytes]:
    """``prefix + fill * n + suffix`` of ``size`` bytes in all, a piece at a time."""
    middle = size - len(prefix) - len(suffix)
    yield prefix
    line = fill * (PIECE // len(fill))
    while middle > 0:
        piece = line[:middle]
        middle -= len(piece)
        yield piece
    yield suffix


def send(
    port: int,
    method: str,
    path: str,
    body: Iterable[bytes],
    *,
    headers: dict[str, str] | None = None,
    content_length: int | None = None,
    host: str = "127.0.0.1",
    timeout: float = 60,
) -> tuple[Reply, int]:
    """Send the request, the body piece by piece (chunked unless ``content_length`` is
    given), and stop sending as soon as the server answers. Returns the reply and how
    many body bytes went out."""
    sock = socket.create_connection((host, port), timeout=timeout)
    try:
        head = [f"{method} {path} HTTP/1.1", f"Host: {host}:{port}", "Connection: close"]
        head += [f"{name}: {value}" for name, value in (headers or {}).items()]
        chunked = content_length is None
        head.append(
            "Transfer-Encoding: chunked" if chunked else f"Content-Length: {content_length}"
        )
        sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode("latin-1"))
        sent = 0
        try:
            for piece in body:
                if not piece:
                    continue
                if select.select([sock], [], [], 0)[0]:
                    break  # the server has answered (or closed): stop sending
                sock.sendall(b"%x\r\n%s\r\n" % (len(piece), piece) if chunked else piece)
                sent += len(piece)
            else:
                if chunked:
                    sock.sendall(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server closed the connection after answering
        response = http.client.HTTPResponse(sock)
        response.begin()
        got = {k.lower(): v for k, v in response.getheaders()}
        return Reply(response.status, got, response.read()), sent
    finally:
        sock.close()
