"""Fixtures for mlcli as a client of a team server: real ``mlcli server`` processes."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tracking_server"))
from trackingserver import TrackingServer, start_tracking_server


@pytest.fixture
def served_store(tmp_path: Path) -> Iterator[TrackingServer]:
    """A fresh store served by ``mlcli server`` on 127.0.0.1 (``.url``; ``.store`` is the
    server's own ``.mlruns``, for checking what a client's call changed there)."""
    directory = tmp_path / "server"
    directory.mkdir()
    server = start_tracking_server(directory / ".mlruns", directory / "server.log")
    yield server
    server.stop()


@pytest.fixture
def start_server(tmp_path: Path) -> Iterator[Callable[..., TrackingServer]]:
    """``start_server(*args, store=...)``: a server with options (``--auth-db``...)."""
    servers: list[TrackingServer] = []

    def start(*args: str, store: Path | None = None) -> TrackingServer:
        log = tmp_path / f"server-{len(servers)}.log"
        server = start_tracking_server(store or tmp_path / "server" / ".mlruns", log, *args)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()
