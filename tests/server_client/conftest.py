"""Fixtures for mlcli as a client of a team server: real ``mlcli server`` processes."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tracking_server"))
from trackingserver import TrackingServer, start_tracking_server


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "served_store" in metafunc.fixturenames and getattr(
        metafunc.module, "SERVED_BOTH_WAYS", False
    ):
        metafunc.parametrize("served_store", ["directory", "bucket-and-postgres"], indirect=True)


@pytest.fixture
def served_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[TrackingServer]:
    """A fresh store served by ``mlcli server`` on 127.0.0.1 (``.url``; ``.store`` is the
    server's own ``.mlruns``, for checking what a client's call changed there).

    A module that sets ``SERVED_BOTH_WAYS = True`` runs its tests twice: on
    a store directory, and on a team store (a bucket on moto's S3 server and an index in
    PostgreSQL; ``.store`` is then the bucket's URL)."""
    directory = tmp_path / "server"
    directory.mkdir()
    if getattr(request, "param", "directory") == "directory":
        server = start_tracking_server(directory / ".mlruns", directory / "server.log")
    else:
        moto = request.getfixturevalue("moto_server")
        request.getfixturevalue("s3_env")(moto)
        index = request.getfixturevalue("postgres").new_database()
        store = f"s3://{moto.new_bucket()}/team"
        server = start_tracking_server(store, directory / "server.log", "--index", index)
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
