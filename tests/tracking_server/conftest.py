"""Fixtures for the tracking-server tests: real ``mlcli server`` processes."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from trackingserver import TrackingServer, start_tracking_server

pytest.importorskip("starlette")
pytest.importorskip("uvicorn")


@pytest.fixture
def start_server(tmp_path: Path) -> Iterator[Callable[..., TrackingServer]]:
    """``start_server(*args, store=...)`` starts ``mlcli server`` and stops it after the
    test (the store defaults to a fresh one in ``tmp_path``)."""
    servers: list[TrackingServer] = []

    def start(*args: str, store: Path | None = None) -> TrackingServer:
        log = tmp_path / f"server-{len(servers)}.log"
        server = start_tracking_server(store or tmp_path / ".mlruns", log, *args)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture(scope="module")
def shared_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TrackingServer]:
    """One server for the protocol tests, over its own store."""
    directory = tmp_path_factory.mktemp("tracking-server")
    server = start_tracking_server(directory / ".mlruns", directory / "server.log")
    yield server
    server.stop()
