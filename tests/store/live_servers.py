"""Real ``mlcli server`` and ``mlcli ui`` processes on 127.0.0.1 over a test's store,
and a small HTTP client for them (the store tests' own: they check what the servers do
with the files, not the HTTP protocol)."""

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

_LISTENING = re.compile(r"on http://127\.0\.0\.1:(\d+)")


class LiveServer:
    def __init__(self, process: subprocess.Popen[bytes], log_path: Path) -> None:
        self.process = process
        self.log_path = log_path
        self.port = 0

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def request(self, method: str, path: str, body: bytes | dict[str, Any] | None = None) -> Reply:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        try:
            headers = {}
            if isinstance(body, dict):
                body = json.dumps(body).encode()
                headers["Content-Type"] = "application/json"
            elif body is not None:
                headers["Content-Type"] = "application/octet-stream"
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            return Reply(response.status, dict(response.getheaders()), response.read())
        finally:
            connection.close()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start(command: str, store: Path, log_path: Path, *args: str, umask: int = -1) -> LiveServer:
    """``mlcli COMMAND ARGS --port 0`` (``server`` or ``ui``) over ``store``, once it
    listens (with ``umask``, when given)."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("MLCLI_", "MLFLOW_"))}
    environ["MLCLI_STORE"] = str(store)
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "mlcli", command, *args, "--port", "0"],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=environ,
            umask=umask,
        )
    server = LiveServer(process, log_path)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        found = _LISTENING.search(server.log())
        if found:
            server.port = int(found.group(1))
            return server
        if process.poll() is not None:
            raise AssertionError(f"mlcli {command} exited {process.returncode}: {server.log()}")
        time.sleep(0.05)
    server.stop()
    raise AssertionError(f"mlcli {command} did not start: {server.log()}")
