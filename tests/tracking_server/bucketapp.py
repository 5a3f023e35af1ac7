"""The tracking server's app over a bucket, in a thread of the test: runs in a local
store, their files in a real S3 server's bucket (what the artifact routes see of a team
store, whose ``Backend.bucket`` is the same kind of object)."""

from __future__ import annotations

import contextlib
import http.client
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rawhttp import Reply

from mlcli.objects.s3 import S3Objects
from mlcli.tracking_server.app import TrackingApp
from mlcli.tracking_server.backend import Backend
from mlcli.tracking_server.config import ServerConfig
from mlcli.web.log import ServerLog
from mlcli.web.metrics import HttpMetrics, MetricsMiddleware


class BucketBackend(Backend):
    """A local store's runs and registry, with the artifacts in ``objects``."""

    def __init__(self, store_root: Path, objects: S3Objects | None) -> None:
        super().__init__(store_root)
        self._objects = objects

    @property
    def bucket(self) -> S3Objects | None:
        return self._objects


@dataclass
class BucketApp:
    port: int
    objects: S3Objects | None
    backend: Backend

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        headers: dict[str, str] | None = None,
    ) -> Reply:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
        try:
            sent = dict(headers or {})
            if isinstance(body, dict):
                body = json.dumps(body).encode()
                sent.setdefault("Content-Type", "application/json")
            connection.request(method, path, body=body, headers=sent)
            response = connection.getresponse()
            got = {k.lower(): v for k, v in response.getheaders()}
            return Reply(response.status, got, response.read())
        finally:
            connection.close()

    def api(self, endpoint: str, body: dict[str, Any]) -> Any:
        reply = self.request("POST", f"/api/2.0/mlflow/{endpoint}", body)
        assert reply.status == 200, reply.text
        return reply.json()

    def new_run(self) -> tuple[str, str]:
        """(experiment id, run id) of a fresh run."""
        name = f"e{time.monotonic_ns()}"
        experiment_id = self.api("experiments/create", {"name": name})["experiment_id"]
        run = self.api("runs/create", {"experiment_id": experiment_id})["run"]
        return experiment_id, run["info"]["run_id"]


@contextlib.contextmanager
def bucket_app(store_root: Path, objects: S3Objects | None, **settings: Any) -> Iterator[BucketApp]:
    """The app (``ServerConfig(**settings)``) on a free port of 127.0.0.1."""
    import uvicorn

    from mlcli.store import Store
    from mlcli.web.uvicorn_runner import bind_socket

    Store.initialize(store_root)
    config = ServerConfig(str(store_root), access_log=False, **settings)
    backend = BucketBackend(store_root, objects)
    metrics = HttpMetrics()  # GET /metrics counts the requests by route
    tracking = TrackingApp(config, backend, ServerLog(name="test"), metrics).starlette()
    app = MetricsMiddleware(tracking, metrics)
    sock = bind_socket("127.0.0.1", 0)
    server = uvicorn.Server(
        uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off")
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        while not server.started:
            assert thread.is_alive(), "the server's thread ended before it started"
            time.sleep(0.01)
        yield BucketApp(sock.getsockname()[1], objects, backend)
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()
