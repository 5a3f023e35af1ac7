"""MLflow's own client and a team server (``mlcli server --store s3://... --index
postgresql://...``): large artifacts go straight to the bucket through presigned
multipart URLs, others stream through the server in parts; every byte arrives, reads
back through the proxy, and the run's manifest names the files once flushed. An
aborted multipart upload leaves nothing in the bucket."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from trackingserver import TrackingServer, mlflow_environment, start_tracking_server

MiB = 1024 * 1024

MLFLOW_LOGS = r"""
import json, os, sys
import mlflow
from mlflow.tracking import MlflowClient

files = sys.argv[1:]
mlflow.set_experiment("artifacts")
with mlflow.start_run() as run:
    for local in files:
        mlflow.log_artifact(local, "model")
client = MlflowClient()
back = {}
for local in files:
    name = os.path.basename(local)
    path = client.download_artifacts(run.info.run_id, "model/" + name, sys.argv[0] + ".back")
    back[name] = path
listed = {f.path: f.file_size for f in client.list_artifacts(run.info.run_id, "model")}
answer = {"run_id": run.info.run_id, "experiment_id": run.info.experiment_id}
print(json.dumps({**answer, "back": back, "listed": listed}))
"""


@pytest.fixture(params=["moto_server", "seaweedfs"])
def bucket(request: pytest.FixtureRequest, s3_env: Any) -> tuple[Any, str]:
    """(the S3 server, a fresh bucket on it), this test's boto3 pointed at it."""
    server = request.getfixturevalue(request.param)
    s3_env(server)
    return server, server.new_bucket()


@pytest.fixture
def index(postgres: Any) -> str:
    return str(postgres.new_database())


@pytest.fixture
def team_server(bucket: tuple[Any, str], index: str, tmp_path: Path) -> Iterator[TrackingServer]:
    server = start_tracking_server(
        f"s3://{bucket[1]}/team",
        tmp_path / "server.log",
        "--index",
        index,
        "--presigned-uploads",
        "--max-artifact-size",
        "64MiB",
    )
    yield server
    server.stop()


def content(size: int, seed: str) -> bytes:
    block = hashlib.sha256(seed.encode()).digest() * (MiB // 32)
    return b"".join(bytes([i % 251]) + block[1:] for i in range(-(-size // len(block))))[:size]


def run_mlflow(server: TrackingServer, files: list[Path], tmp_path: Path, **env: str) -> Any:
    script = tmp_path / "logs.py"
    script.write_text(MLFLOW_LOGS)
    environ = mlflow_environment(
        server,
        MLFLOW_MULTIPART_UPLOAD_MINIMUM_FILE_SIZE=str(6 * MiB),
        MLFLOW_MULTIPART_UPLOAD_CHUNK_SIZE=str(5 * MiB),  # S3's smallest part
        **env,
    )
    done = subprocess.run(
        [sys.executable, str(script), *map(str, files)],
        capture_output=True,
        text=True,
        env=environ,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def route_count(server: TrackingServer, route: str, method: str) -> int:
    lines = server.request("GET", "/metrics").text.splitlines()
    return sum(
        int(float(line.rsplit(" ", 1)[1]))
        for line in lines
        if line.startswith("mlcli_http_requests_total{")
        and f'route="{route}"' in line
        and f'method="{method}"' in line
    )


def revision(index: str, run_id: str) -> int:
    """How many times the run has changed (each change marks it for the next flush,
    which names the run's files in its manifest)."""
    import psycopg

    with psycopg.connect(index) as connection:
        row = connection.execute(
            "SELECT revision FROM mlcli.runs WHERE run_id = %s", (run_id,)
        ).fetchone()
    assert row is not None
    return int(row[0])


def test_mlflow_client_uploads_to_the_bucket(
    team_server: TrackingServer, bucket: tuple[Any, str], index: str, tmp_path: Path
) -> None:
    s3, name = bucket
    files = {
        "weights.bin": content(13 * MiB + 7, "weights"),  # presigned, 3 parts
        "config.json": b'{"depth": 3}',  # through the proxy
    }
    for file_name, data in files.items():
        (tmp_path / file_name).write_bytes(data)
    answer = run_mlflow(team_server, [tmp_path / n for n in files], tmp_path)

    run_id = answer["run_id"]
    client = s3.client()
    for file_name, data in files.items():
        key = f"team/runs/{run_id}/artifacts/model/{file_name}"
        assert client.get_object(Bucket=name, Key=key)["Body"].read() == data
        assert Path(answer["back"][file_name]).read_bytes() == data
    assert answer["listed"] == {f"model/{n}": len(d) for n, d in files.items()}
    assert client.list_multipart_uploads(Bucket=name).get("Uploads", []) == []
    # the large file never passed through the server; the small one did
    assert route_count(team_server, "/api/2.0/mlflow-artifacts/mpu/complete/{path:path}", "POST")
    put = "/api/2.0/mlflow-artifacts/artifacts/{path:path}"
    assert route_count(team_server, put, "PUT") == 1

    # a file uploaded after the run's end marks the run for the next flush
    before = revision(index, run_id)
    folder = f"{answer['experiment_id']}/{run_id}/artifacts"
    late = team_server.request(
        "PUT",
        f"/api/2.0/mlflow-artifacts/artifacts/{folder}/late.txt",
        b"after the end",
        content_type="application/octet-stream",
    )
    assert late.status == 200, late.text
    assert revision(index, run_id) > before

    assert team_server.stop() == 0  # the run's end was flushed: its manifest names the files
    manifest = json.loads(
        client.get_object(Bucket=name, Key=f"team/runs/{run_id}/manifest.json")["Body"].read()
    )
    named = {k: v["size"] for k, v in manifest["artifacts"].items()}
    assert {k: v for k, v in named.items() if k.startswith("model/")} == {
        f"model/{n}": len(d) for n, d in files.items()
    }


def test_mlflow_client_streams_through_the_server(
    team_server: TrackingServer, bucket: tuple[Any, str], tmp_path: Path
) -> None:
    """Without multipart, a file of several parts streams through the server into the
    bucket (the server's own multipart upload, nothing on its disk)."""
    s3, name = bucket
    data = content(21 * MiB + 1, "streamed")
    (tmp_path / "big.bin").write_bytes(data)
    answer = run_mlflow(
        team_server, [tmp_path / "big.bin"], tmp_path, MLFLOW_ENABLE_PROXY_MULTIPART_UPLOAD="false"
    )
    key = f"team/runs/{answer['run_id']}/artifacts/model/big.bin"
    assert s3.client().get_object(Bucket=name, Key=key)["Body"].read() == data
    assert Path(answer["back"]["big.bin"]).read_bytes() == data
    assert s3.client().list_multipart_uploads(Bucket=name).get("Uploads", []) == []


def test_an_aborted_multipart_upload_leaves_nothing(
    team_server: TrackingServer, bucket: tuple[Any, str]
) -> None:
    import requests

    s3, name = bucket
    run = team_server.api("POST", "runs/create", {"experiment_id": "0"}).json()["run"]["info"]
    folder = f"0/{run['run_id']}/artifacts/model"
    mpu = "/api/2.0/mlflow-artifacts/mpu"
    created = team_server.request("POST", f"{mpu}/create/{folder}", {"path": "w", "num_parts": 2})
    assert created.status == 200, created.text
    answer = created.json()
    first = answer["credentials"][0]
    assert requests.put(first["url"], data=content(5 * MiB, "p1"), timeout=60).status_code == 200
    body = {"path": "w", "upload_id": answer["upload_id"]}
    assert team_server.request("POST", f"{mpu}/abort/{folder}", body).status == 200
    client = s3.client()
    assert client.list_multipart_uploads(Bucket=name).get("Uploads", []) == []
    listed = client.list_objects_v2(Bucket=name, Prefix=f"team/runs/{run['run_id']}/artifacts/")
    assert listed.get("Contents", []) == []
