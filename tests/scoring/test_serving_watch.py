"""``--watch``: promotions swap the served version under load, with no failed request."""

from __future__ import annotations

import http.client
import json
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from servinghelpers import Server
from servingmodels import register_scale

from mlcli.client import MlcliClient

pytestmark = pytest.mark.slow

BODY = json.dumps({"dataframe_split": {"columns": ["x"], "data": [[1.0]]}})


@pytest.fixture
def registry(tmp_path: Path) -> tuple[MlcliClient, Path]:
    """A store with ``scale`` v1 (offset 0) and v2 (offset 100); alias live -> v1 and
    v1 in Production."""
    store = tmp_path / ".mlruns"
    client = MlcliClient(store)
    client.writable_store()
    register_scale(client, tmp_path, offset=0.0)
    register_scale(client, tmp_path, offset=100.0)
    client.set_registered_model_alias("scale", "live", 1)
    client.transition_model_version_stage("scale", 1, "Production")
    return client, store


class LoadGenerator:
    """Threads that POST one row in a loop on keep-alive connections, recording every
    outcome as (version header, prediction) or the error; bounded in time."""

    def __init__(self, server: Server, threads: int = 4, limit: float = 60.0) -> None:
        self.server = server
        self.stop = threading.Event()
        self.results: list[list[tuple[str, float]]] = [[] for _ in range(threads)]
        self.errors: list[str] = []
        self.deadline = time.monotonic() + limit
        self.threads = [
            threading.Thread(target=self._run, args=(i,), daemon=True) for i in range(threads)
        ]

    def __enter__(self) -> LoadGenerator:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(30)

    def _run(self, index: int) -> None:
        connection = http.client.HTTPConnection(self.server.host, self.server.port, timeout=30)
        while not self.stop.is_set() and time.monotonic() < self.deadline:
            try:
                connection.request(
                    "POST", "/invocations", BODY, {"Content-Type": "application/json"}
                )
                reply = connection.getresponse()
                body = reply.read()
                if reply.status != 200:
                    self.errors.append(f"{reply.status} {body[:200]!r}")
                    continue
                version = reply.getheader("x-mlcli-model-version") or "?"
                self.results[index].append((version, json.loads(body)["predictions"][0]))
            except (OSError, http.client.HTTPException) as exc:
                self.errors.append(f"{type(exc).__name__}: {exc}")
                connection.close()
                connection = http.client.HTTPConnection(
                    self.server.host, self.server.port, timeout=30
                )
        connection.close()

    def count(self) -> int:
        return sum(len(r) for r in self.results)

    def latest(self, n: int) -> list[tuple[str, float]]:
        return [item for thread in self.results for item in thread[-n:]]


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.mark.parametrize("workers", [1, 2])
def test_an_alias_move_is_served_without_a_failed_request(
    serve: Callable[..., Server], registry: tuple[MlcliClient, Path], workers: int
) -> None:
    client, store = registry
    server = serve(
        "-m", "models:/scale@live", "--watch", "--watch-interval", "0.2",
        "--workers", str(workers), store=store,
    )  # fmt: skip
    with LoadGenerator(server) as load:
        wait_for(lambda: load.count() > 100, 30, "the first responses")
        assert set(load.latest(5)) == {("1", 1.0)}
        client.set_registered_model_alias("scale", "live", 2)
        promoted = load.count()
        wait_for(
            lambda: load.count() > promoted + 100 and set(load.latest(20)) == {("2", 101.0)},
            30,
            "every worker to serve version 2",
        )
    assert load.errors == []
    for outcomes in load.results:
        assert set(outcomes) <= {("1", 1.0), ("2", 101.0)}  # never a mix of version and output
        versions = [v for v, _ in outcomes]
        # one connection stays with one worker: once it saw version 2, never 1 again
        assert "1" not in versions[versions.index("2") :] if "2" in versions else True
    # a new connection may reach a worker whose watcher has not looked yet: it will
    wait_for(
        lambda: server.request("GET", "/metadata").json()["model_version"] == 2,
        30,
        "/metadata to name version 2",
    )
    assert "now serving models:/scale@live version 2 (was version 1)" in server.log()


def test_a_stage_move_is_followed(
    serve: Callable[..., Server], registry: tuple[MlcliClient, Path]
) -> None:
    client, store = registry
    server = serve(
        "-m", "models:/scale/Production", "--watch", "--watch-interval", "0.2", store=store
    )
    assert server.post(BODY).json() == {"predictions": [1.0]}
    client.transition_model_version_stage("scale", 2, "Production", archive_existing_versions=True)
    wait_for(lambda: server.post(BODY).json() == {"predictions": [101.0]}, 30, "version 2")
    assert server.request("GET", "/metadata").json()["model_version"] == 2


def test_a_version_that_vanishes_keeps_the_current_one(
    serve: Callable[..., Server], registry: tuple[MlcliClient, Path]
) -> None:
    client, store = registry
    server = serve("-m", "models:/scale@live", "--watch", "--watch-interval", "0.2", store=store)
    client.delete_registered_model_alias("scale", "live")
    wait_for(lambda: "still serving the current version" in server.log(), 30, "the notice")
    assert server.post(BODY).json() == {"predictions": [1.0]}
    assert server.log().count("has no alias 'live'") == 1  # said once, not every interval
