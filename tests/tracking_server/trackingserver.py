"""Real ``mlcli server`` processes on 127.0.0.1 for the tests, and a small HTTP client."""

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
_LISTENING = re.compile(r"on http://([\d.]+):(\d+) \(")


class TrackingServer:
    """A running ``mlcli server``; its stdout and stderr go to ``log_path``."""

    def __init__(self, process: subprocess.Popen[bytes], log_path: Path, store: Path | str) -> None:
        self.process = process
        self.log_path = log_path
        self.store = store
        self.host = "127.0.0.1"
        self.port = 0
        self.token: str | None = None
        self.index: str | None = None  # --index: the PostgreSQL of a team store

    def own_store(self) -> Any:
        """The store this server serves, opened in this process (a second writer beside
        the server): its directory, or the team store of its bucket and PostgreSQL."""
        if self.index is None:
            return Path(self.store)
        from mlcli.store import TeamStore

        return TeamStore.open(str(self.store), self.index)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        content_type: str | None = "application/json",
        headers: dict[str, str] | None = None,
        auth: bool = True,
    ) -> Reply:
        connection = http.client.HTTPConnection(self.host, self.port, timeout=60)
        try:
            sent = dict(headers or {})
            if content_type is not None and body is not None:
                sent["Content-Type"] = content_type
            if auth and self.token and "Authorization" not in sent:
                sent["Authorization"] = f"Bearer {self.token}"
            if isinstance(body, (dict, list)):
                body = json.dumps(body)
            data = body.encode() if isinstance(body, str) else body
            connection.request(method, path, body=data, headers=sent)
            response = connection.getresponse()
            got = {k.lower(): v for k, v in response.getheaders()}
            return Reply(response.status, got, response.read())
        finally:
            connection.close()

    def api(self, method: str, endpoint: str, body: Any = None, **kwargs: Any) -> Reply:
        """A call to ``/api/2.0/mlflow/<endpoint>``; a GET's body becomes the query."""
        path = f"/api/2.0/mlflow/{endpoint}"
        if method == "GET" and body:
            from urllib.parse import urlencode

            path += "?" + urlencode(body, doseq=True)
            body = None
        return self.request(method, path, body, **kwargs)

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(
                    f"mlcli server exited {self.process.returncode}:\n{self.log()}"
                )
            match = _LISTENING.search(self.log())
            if match:
                self.host, self.port = match[1], int(match[2])
                try:
                    if self.request("GET", "/health").status in (200, 401):
                        return
                except OSError:
                    pass
            time.sleep(0.05)
        raise AssertionError(f"mlcli server was not ready in {timeout} s:\n{self.log()}")

    def stop(self, timeout: float = 30) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode


def start_tracking_server(
    store: Path | str, log_path: Path, *args: str, port: int = 0
) -> TrackingServer:
    """``mlcli server ARGS --port PORT`` over ``store`` (by default any free port, read
    from its log)."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("MLCLI_", "MLFLOW_"))}
    environ["MLCLI_STORE"] = str(store)
    log = log_path.open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "mlcli", "server", *args, "--port", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=environ,
    )
    log.close()
    server = TrackingServer(process, log_path, store)
    if "--index" in args:
        server.index = args[args.index("--index") + 1]
    try:
        server.wait_ready()
    except BaseException:
        server.stop()
        raise
    return server


def mlflow_environment(server: TrackingServer, **extra: str) -> dict[str, str]:
    """The environment of an MLflow client process logging to ``server``."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("MLCLI_", "MLFLOW_"))}
    environ["MLFLOW_TRACKING_URI"] = server.url
    environ["MLFLOW_ALLOW_PICKLE_DESERIALIZATION"] = "true"
    environ["GIT_PYTHON_REFRESH"] = "quiet"
    if server.token:
        environ["MLFLOW_TRACKING_TOKEN"] = server.token
    environ.update(extra)
    return environ
