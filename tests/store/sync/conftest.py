"""A remote of each kind for the sync tests: a folder, moto's S3 server and SeaweedFS
(real servers, started once a session by tests/s3servers.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from s3servers import S3Server

from mlcli.objects import ObjectStore, open_objects
from mlcli.store import Store


@pytest.fixture(params=["directory", "moto", "seaweedfs"])
def remote_url(request: pytest.FixtureRequest, tmp_path: Path, s3_env) -> str:
    """An empty remote of each kind (this test's boto3 pointed at the S3 ones)."""
    if request.param == "directory":
        return str(tmp_path / "remote")
    server: S3Server = request.getfixturevalue(
        "moto_server" if request.param == "moto" else "seaweedfs"
    )
    s3_env(server)
    return f"s3://{server.new_bucket()}/team"


@pytest.fixture
def remote(remote_url: str) -> ObjectStore:
    return open_objects(remote_url)


@pytest.fixture
def new_store(tmp_path: Path):  # type: ignore[no-untyped-def]
    """A function making a fresh, empty store named ``name`` under the test's folder."""
    made: list[Store] = []

    def make(name: str) -> Store:
        store, _ = Store.initialize(tmp_path / name / ".mlruns")
        made.append(store)
        return store

    yield make
    for store in made:
        store.close()
