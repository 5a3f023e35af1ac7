"""A real ``mlcli ui`` for the tests: a subprocess on 127.0.0.1, port 0 (the server
says which port it got), and a small HTTP client for its API."""

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
from urllib.parse import urlencode

from rawhttp import Reply

_LISTENING = re.compile(r"on (http://127\.0\.0\.1:(\d+)/)")


class UiServer:
    def __init__(self, process: subprocess.Popen[bytes], log_path: Path) -> None:
        self.process = process
        self.log_path = log_path
        self.url = ""
        self.port = 0

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def request(
        self,
        method: str,
        path: str,
        params: dict[str, Any] | None = None,
        body: Any = None,
        headers: dict[str, str] | None = None,
    ) -> Reply:
        if params:
            path += "?" + urlencode(params)
        data = json.dumps(body).encode() if isinstance(body, (dict, list)) else body
        sent = dict(headers or {})
        if isinstance(body, (dict, list)):
            sent.setdefault("Content-Type", "application/json")
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            connection.request(method, path, body=data, headers=sent)
            response = connection.getresponse()
            got = {k.lower(): v for k, v in response.getheaders()}
            return Reply(response.status, got, response.read())
        finally:
            connection.close()

    def get(self, url: str, /, **params: Any) -> Reply:
        return self.request("GET", url, params or None)

    def api(self, endpoint: str, /, **params: Any) -> Any:
        reply = self.get(f"/api/{endpoint}", **params)
        assert reply.status == 200, (reply.status, reply.body[:500])
        return reply.json()

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode


def start_ui(store: Path, log_path: Path, args: list[str] | None = None) -> UiServer:
    """``mlcli ui --port 0`` over ``store``, once it listens."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLCLI_")}
    env["MLCLI_STORE"] = str(store)
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "mlcli", "ui", "--port", "0", *(args or [])],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
        )
    server = UiServer(process, log_path)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        found = _LISTENING.search(server.log())
        if found:
            server.url, server.port = found.group(1), int(found.group(2))
            return server
        if process.poll() is not None:
            raise AssertionError(f"mlcli ui exited with {process.returncode}: {server.log()}")
        time.sleep(0.05)
    server.stop()
    raise AssertionError(f"mlcli ui did not start: {server.log()}")
