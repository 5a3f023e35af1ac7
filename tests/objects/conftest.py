"""Every object store kind behind one fixture: ``objects`` is a fresh, empty store on a
directory, on moto's S3 server and on SeaweedFS, so each conformance test runs on all
three."""

from __future__ import annotations

from pathlib import Path

import pytest
from s3servers import S3Server

from mlcli.objects import ObjectStore, open_objects

S3_SERVERS = ["moto", "seaweedfs"]


@pytest.fixture(params=S3_SERVERS)
def s3_server(request: pytest.FixtureRequest, s3_env) -> S3Server:
    """Each S3 server in turn, this test's boto3 pointed at it."""
    server: S3Server = request.getfixturevalue(
        "moto_server" if request.param == "moto" else "seaweedfs"
    )
    s3_env(server)
    return server


@pytest.fixture
def bucket(s3_server: S3Server) -> str:
    """A fresh bucket on the server of ``s3_server``."""
    return s3_server.new_bucket()


@pytest.fixture(params=["directory", *S3_SERVERS])
def objects(request: pytest.FixtureRequest, tmp_path: Path, s3_env) -> ObjectStore:
    """An empty object store of each kind; the S3 ones under a prefix, in a fresh bucket."""
    if request.param == "directory":
        return open_objects(str(tmp_path / "remote"))
    server: S3Server = request.getfixturevalue(
        "moto_server" if request.param == "moto" else "seaweedfs"
    )
    s3_env(server)
    return open_objects(f"s3://{server.new_bucket()}/team/store")
