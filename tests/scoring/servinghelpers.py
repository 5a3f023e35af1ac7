"""Real scoring servers for the tests: ``mlcli serve`` subprocesses on 127.0.0.1, and
the models they serve (built with the real scikit-learn and mlcli APIs)."""

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from rawhttp import Reply

HERE = Path(__file__).resolve().parent
_LISTENING = re.compile(r"on http://([\d.]+):(\d+) with")


def request(
    host: str,
    port: int,
    method: str,
    path: str,
    body: bytes | str | None = None,
    content_type: str | None = "application/json",
    headers: dict[str, str] | None = None,
    timeout: float = 30,
) -> Reply:
    connection = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        sent = dict(headers or {})
        if content_type is not None:
            sent["Content-Type"] = content_type
        data = body.encode() if isinstance(body, str) else body
        connection.request(method, path, body=data, headers=sent)
        response = connection.getresponse()
        headers_got = {k.lower(): v for k, v in response.getheaders()}
        return Reply(response.status, headers_got, response.read())
    finally:
        connection.close()


class Server:
    """A running ``mlcli serve``; its stdout and stderr go to ``log_path``."""

    def __init__(self, process: subprocess.Popen[bytes], log_path: Path) -> None:
        self.process = process
        self.log_path = log_path
        self.host = "127.0.0.1"
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def request(self, method: str, path: str, body: Any = None, **kwargs: Any) -> Reply:
        return request(self.host, self.port, method, path, body, **kwargs)

    def post(self, body: Any, content_type: str | None = "application/json", **kw: Any) -> Reply:
        if isinstance(body, dict | list):
            body = json.dumps(body)
        return self.request("POST", "/invocations", body, content_type=content_type, **kw)

    def wait_ready(self, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"mlcli serve exited {self.process.returncode}:\n{self.log()}")
            match = _LISTENING.search(self.log())
            if match and not self.port:
                self.host, self.port = match[1], int(match[2])
            if self.port:
                try:
                    if self.request("GET", "/ping", timeout=5).status == 200:
                        return
                except OSError:
                    pass
            time.sleep(0.05)
        raise AssertionError(f"mlcli serve was not ready in {timeout} s:\n{self.log()}")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode


def start_server(
    args: list[str], log_path: Path, env: dict[str, str] | None = None, wait: bool = True
) -> Server:
    """``mlcli serve ARGS --port 0`` (any free port, read from its first line)."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("MLCLI_")}
    environ["MLCLI_DATA_DIR"] = os.environ["MLCLI_DATA_DIR"]  # the test's own trust records
    environ.update(env or {})
    # the custom test models are classes of this folder's modules, pickled by reference
    environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(HERE), environ.get("PYTHONPATH")]))
    log = log_path.open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "mlcli", "serve", *args, "--port", "0"],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=environ,
    )
    log.close()
    server = Server(process, log_path)
    if wait:
        try:
            server.wait_ready()
        except BaseException:
            server.stop()
            raise
    return server
