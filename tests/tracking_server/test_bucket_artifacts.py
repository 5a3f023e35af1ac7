"""The artifact proxy over a bucket (bucket_artifacts.py) and MLflow's multipart upload
endpoints (multipart.py), against real S3 servers (moto's and SeaweedFS), through the
app on a real HTTP port."""

from __future__ import annotations

import hashlib
import json
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from bucketapp import BucketApp, bucket_app
from rawhttp import pieces, send

from mlcli.objects.s3 import S3Objects
from mlcli.tracking_server.bucket_artifacts import PART_SIZE

ARTIFACTS = "/api/2.0/mlflow-artifacts/artifacts"
MPU = "/api/2.0/mlflow-artifacts/mpu"
MiB = 1024 * 1024
LIMIT = 40 * MiB  # --max-artifact-size of these servers
DRAIN_SECONDS = 60  # for the server to see that a client went away


@pytest.fixture(params=["moto_server", "seaweedfs"])
def objects(request: pytest.FixtureRequest, s3_env: Any) -> S3Objects:
    server = request.getfixturevalue(request.param)
    s3_env(server)
    return S3Objects(server.new_bucket(), "team/store")


@pytest.fixture
def app(objects: S3Objects, tmp_path: Path) -> Iterator[BucketApp]:
    with bucket_app(tmp_path / ".mlruns", objects, max_artifact_bytes=LIMIT) as served:
        yield served


def content(size: int, seed: str = "a") -> bytes:
    """``size`` bytes that differ from part to part (a part sent twice would show)."""
    block = hashlib.sha256(seed.encode()).digest() * (MiB // 32)
    return b"".join(bytes([i % 251]) + block[1:] for i in range(-(-size // len(block))))[:size]


def stored(objects: S3Objects, key: str) -> bytes | None:
    found = objects.get_if_present(key)
    return None if found is None else found[0]


def pending_uploads(objects: S3Objects) -> list[str]:
    answer = objects.client.list_multipart_uploads(Bucket=objects.bucket)
    return [upload["Key"] for upload in answer.get("Uploads", ())]


def puts_answered(app: BucketApp) -> int:
    """How many artifact PUTs the server has finished with (answered, or its client
    gone): the metrics count a request once its handler has returned."""
    lines = app.request("GET", "/metrics").text.splitlines()
    route = 'route="/api/2.0/mlflow-artifacts/artifacts/{path:path}"'
    return sum(
        int(float(line.rsplit(" ", 1)[1]))
        for line in lines
        if line.startswith("mlcli_http_requests_total{") and route in line and '"PUT"' in line
    )


def wait_answered(app: BucketApp, count: int) -> None:
    deadline = time.monotonic() + DRAIN_SECONDS
    while puts_answered(app) < count:
        assert time.monotonic() < deadline, "the server never finished the request"
        time.sleep(0.05)


def keys_under(objects: S3Objects, prefix: str) -> list[str]:
    return [info.key for info in objects.list(prefix)]


# -- listing, download, upload through the proxy ---------------------------------------------


def test_upload_list_download(app: BucketApp, objects: S3Objects) -> None:
    experiment_id, run_id = app.new_run()
    root = f"{experiment_id}/{run_id}/artifacts"
    small, large = b"hello\n", content(2 * PART_SIZE + 12345)
    assert app.request("PUT", f"{ARTIFACTS}/{root}/notes/a.txt", small).status == 200
    assert app.request("PUT", f"{ARTIFACTS}/{root}/model/weights.bin", large).status == 200

    assert stored(objects, f"runs/{run_id}/artifacts/notes/a.txt") == small
    assert stored(objects, f"runs/{run_id}/artifacts/model/weights.bin") == large
    assert pending_uploads(objects) == []

    got = app.request("GET", f"{ARTIFACTS}/{root}/model/weights.bin")
    assert got.status == 200 and got.body == large
    assert got.headers["content-length"] == str(len(large))
    head = app.request("HEAD", f"{ARTIFACTS}/{root}/model/weights.bin")
    assert head.status == 200 and head.body == b""
    assert head.headers["content-length"] == str(len(large))

    def listing(path: str) -> list[dict[str, Any]]:
        reply = app.request("GET", f"{ARTIFACTS}?path={path}")
        assert reply.status == 200, reply.text
        return list(reply.json()["files"])

    assert listing(root) == [
        {"path": "model", "is_dir": True},
        {"path": "notes", "is_dir": True},
    ]
    assert listing(f"{root}/model") == [
        {"path": "weights.bin", "is_dir": False, "file_size": len(large)}
    ]
    assert listing(f"{root}/notes/a.txt") == [{"path": "a.txt", "is_dir": False, "file_size": 6}]
    assert listing(f"{root}/nothing/here") == []

    missing = app.request("GET", f"{ARTIFACTS}/{root}/notes/b.txt")
    assert missing.status == 404
    assert missing.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"
    assert "\n" not in missing.json()["message"]
    folder = app.request("GET", f"{ARTIFACTS}/{root}/notes")
    assert folder.status == 400 and "is a folder" in folder.json()["message"]


def test_chunked_upload_of_many_parts(app: BucketApp, objects: S3Objects) -> None:
    """A body without a length, in small pieces, becomes the same bytes."""
    experiment_id, run_id = app.new_run()
    data = content(3 * PART_SIZE + 1, "chunked")
    path = f"{ARTIFACTS}/{experiment_id}/{run_id}/artifacts/big.bin"
    reply, _ = send(
        app.port, "PUT", path, (data[i : i + 65536] for i in range(0, len(data), 65536))
    )
    assert reply.status == 200, reply.text
    assert stored(objects, f"runs/{run_id}/artifacts/big.bin") == data
    assert pending_uploads(objects) == []


def test_replacing_a_file(app: BucketApp, objects: S3Objects) -> None:
    experiment_id, run_id = app.new_run()
    path = f"{ARTIFACTS}/{experiment_id}/{run_id}/artifacts/f.bin"
    for data in (content(PART_SIZE + 1, "first"), b"second"):
        assert app.request("PUT", path, data).status == 200
        assert app.request("GET", path).body == data


def test_upload_beyond_the_limit_leaves_nothing(app: BucketApp, objects: S3Objects) -> None:
    experiment_id, run_id = app.new_run()
    path = f"{ARTIFACTS}/{experiment_id}/{run_id}/artifacts/huge.bin"
    reply, _ = send(app.port, "PUT", path, pieces(LIMIT + MiB))  # chunked: no length to refuse
    assert reply.status == 413, reply.text
    assert "--max-artifact-size" in reply.json()["message"]
    declared, _ = send(app.port, "PUT", path, pieces(LIMIT + 1), content_length=LIMIT + 1)
    assert declared.status == 413
    assert pending_uploads(objects) == []
    assert keys_under(objects, f"runs/{run_id}/") == []


@pytest.mark.parametrize("sent", [100, 3 * PART_SIZE + 5])
def test_body_cut_short_leaves_nothing(app: BucketApp, objects: S3Objects, sent: int) -> None:
    """The client declares more than it sends and hangs up: no object, no parts."""
    experiment_id, run_id = app.new_run()
    path = f"{ARTIFACTS}/{experiment_id}/{run_id}/artifacts/cut.bin"
    with socket.create_connection(("127.0.0.1", app.port)) as connection:
        head = f"PUT {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {LIMIT}\r\n\r\n"
        connection.sendall(head.encode())
        for piece in pieces(sent):
            connection.sendall(piece)
    wait_answered(app, 1)
    assert pending_uploads(objects) == []
    assert keys_under(objects, f"runs/{run_id}/") == []


def test_what_cannot_be_uploaded(app: BucketApp, objects: S3Objects) -> None:
    experiment_id, run_id = app.new_run()
    root = f"{ARTIFACTS}/{experiment_id}/{run_id}/artifacts"
    assert app.request("PUT", f"{root}/d/f.txt", b"x").status == 200

    folder = app.request("PUT", f"{root}/d", b"y")
    assert folder.status == 400 and "is a folder" in folder.json()["message"]
    below = app.request("PUT", f"{root}/d/f.txt/g.txt", b"z")
    assert below.status == 400 and "is a file" in below.json()["message"]
    other = app.request("PUT", f"{ARTIFACTS}/{experiment_id}/{'0' * 32}/artifacts/f", b"z")
    assert other.status == 404
    app.api("runs/delete", {"run_id": run_id})
    deleted = app.request("PUT", f"{root}/late.txt", b"z")
    assert deleted.status == 400 and "deleted" in deleted.json()["message"]
    assert keys_under(objects, f"runs/{run_id}/") == [f"runs/{run_id}/artifacts/d/f.txt"]


# -- MLflow's multipart endpoints --------------------------------------------------------------


def post(app: BucketApp, action: str, folder: str, body: dict[str, Any]) -> Any:
    return app.request("POST", f"{MPU}/{action}/{folder}", body)


def put_part(credential: dict[str, Any], data: bytes) -> dict[str, Any]:
    """What MLflow's client does with one credential: PUT the part, keep the ETag."""
    import requests

    answer = requests.put(credential["url"], data=data, headers=credential["headers"], timeout=60)
    assert answer.status_code == 200, answer.text
    etag = answer.headers["ETag"]
    return {"part_number": credential["part_number"], "etag": etag, "url": credential["url"]}


def test_presigned_multipart_upload(app: BucketApp, objects: S3Objects) -> None:
    experiment_id, run_id = app.new_run()
    folder = f"{experiment_id}/{run_id}/artifacts/model"
    chunk = 5 * MiB
    data = content(2 * chunk + 777, "mpu")
    # MLflow before 3.18 sends its local path: only the name counts
    created = post(app, "create", folder, {"path": "/home/me/w.bin", "num_parts": 3})
    assert created.status == 200, created.text
    answer = created.json()
    assert [c["part_number"] for c in answer["credentials"]] == [1, 2, 3]
    parts = [
        put_part(credential, data[i * chunk : (i + 1) * chunk])
        for i, credential in enumerate(answer["credentials"])
    ]
    assert stored(objects, f"runs/{run_id}/artifacts/model/w.bin") is None  # not before
    body = {"path": "w.bin", "upload_id": answer["upload_id"], "parts": parts}
    completed = post(app, "complete", folder, body)
    assert completed.status == 200 and completed.json() == {}, completed.text
    assert stored(objects, f"runs/{run_id}/artifacts/model/w.bin") == data
    assert app.request("GET", f"{ARTIFACTS}/{folder}/w.bin").body == data
    assert pending_uploads(objects) == []

    again = post(app, "complete", folder, body)
    assert again.status == 404 and "no multipart upload" in again.json()["message"]


def test_multipart_parts_the_bucket_refuses(app: BucketApp, objects: S3Objects) -> None:
    """A part never sent, or an ETag that is not the part's: a 400, and the upload is
    still there to be completed rightly or aborted."""
    experiment_id, run_id = app.new_run()
    folder = f"{experiment_id}/{run_id}/artifacts"
    answer = post(app, "create", folder, {"path": "p.bin", "num_parts": 1}).json()
    part = put_part(answer["credentials"][0], b"only part")
    body = {"path": "p.bin", "upload_id": answer["upload_id"]}
    wrong = {**part, "etag": '"0123456789abcdef0123456789abcdef"'}
    for parts in ([wrong], [part, {**part, "part_number": 2}]):
        refused = post(app, "complete", folder, {**body, "parts": parts})
        assert refused.status == 400, refused.text
        assert "the bucket refused the parts" in refused.json()["message"]
    assert post(app, "complete", folder, {**body, "parts": [part]}).status == 200
    assert stored(objects, f"runs/{run_id}/artifacts/p.bin") == b"only part"


def test_multipart_abort_leaves_nothing(app: BucketApp, objects: S3Objects) -> None:
    experiment_id, run_id = app.new_run()
    folder = f"{experiment_id}/{run_id}/artifacts"
    answer = post(app, "create", folder, {"path": "a.bin", "num_parts": 2}).json()
    put_part(answer["credentials"][0], content(5 * MiB))
    aborted = post(app, "abort", folder, {"path": "a.bin", "upload_id": answer["upload_id"]})
    assert aborted.status == 200 and aborted.json() == {}
    assert pending_uploads(objects) == []
    assert keys_under(objects, f"runs/{run_id}/") == []
    twice = post(app, "abort", folder, {"path": "a.bin", "upload_id": answer["upload_id"]})
    assert twice.status == 200


def test_multipart_beyond_the_limit_is_aborted(app: BucketApp, objects: S3Objects) -> None:
    experiment_id, run_id = app.new_run()
    folder = f"{experiment_id}/{run_id}/artifacts"
    part = LIMIT // 2 + MiB
    answer = post(app, "create", folder, {"path": "big.bin", "num_parts": 2}).json()
    parts = [put_part(c, content(part, str(c["part_number"]))) for c in answer["credentials"]]
    body = {"path": "big.bin", "upload_id": answer["upload_id"], "parts": parts}
    refused = post(app, "complete", folder, body)
    assert refused.status == 413 and "--max-artifact-size" in refused.json()["message"]
    assert pending_uploads(objects) == []
    assert keys_under(objects, f"runs/{run_id}/") == []


@pytest.mark.parametrize(
    ("action", "body", "status", "message"),
    [
        ("create", {"path": "f", "num_parts": 0}, 400, "num_parts"),
        ("create", {"path": "f", "num_parts": 10001}, 400, "num_parts"),
        ("create", {"path": "..", "num_parts": 1}, 400, "invalid file name"),
        ("create", {"num_parts": 1}, 400, "'path'"),
        ("complete", {"path": "f", "upload_id": "x", "parts": []}, 400, "'parts'"),
        ("complete", {"path": "f", "upload_id": "x", "parts": [{"etag": "e"}]}, 400, "part_number"),
        ("complete", {"path": "f", "parts": [{"part_number": 1, "etag": "e"}]}, 400, "upload_id"),
        ("abort", {"path": "f"}, 400, "upload_id"),
    ],
)
def test_multipart_bad_requests(
    app: BucketApp, action: str, body: dict[str, Any], status: int, message: str
) -> None:
    experiment_id, run_id = app.new_run()
    reply = post(app, action, f"{experiment_id}/{run_id}/artifacts", body)
    assert reply.status == status, reply.text
    assert message in reply.json()["message"]


def test_multipart_needs_a_bucket(tmp_path: Path) -> None:
    """On a local store MLflow's client is told, as MLflow tells it, to use the proxy."""
    with bucket_app(tmp_path / ".mlruns", None) as served:
        experiment_id, run_id = served.new_run()
        reply = post(served, "create", f"{experiment_id}/{run_id}/artifacts", {"path": "f"})
        assert reply.status == 501
        assert reply.json()["error_code"] == "NOT_IMPLEMENTED"
        assert reply.json()["message"].startswith(
            "Multipart upload is not supported for the current artifact repository"
        )
        info = served.request("GET", "/api/3.0/mlflow/server-info").json()
        assert info["multipart_uploads_enabled"] is False


def test_server_info_offers_presigned_uploads(objects: S3Objects, tmp_path: Path) -> None:
    with bucket_app(tmp_path / ".mlruns", objects, presigned_uploads=True) as served:
        info = served.request("GET", "/api/3.0/mlflow/server-info").json()
        assert info["multipart_uploads_enabled"] is True


# -- MLflow's own client -----------------------------------------------------------------------

_MLFLOW_CLIENT = """
import json, os, sys
import mlflow
from mlflow.tracking import MlflowClient
client = MlflowClient()
run_id, local, out = sys.argv[1:4]
client.log_artifact(run_id, local, "model")
back = client.download_artifacts(run_id, "model/" + os.path.basename(local), out)
listed = [f.path for f in client.list_artifacts(run_id, "model")]
print(json.dumps({"back": back, "listed": listed}))
"""


def test_mlflow_client_uploads_straight_to_the_bucket(
    app: BucketApp, objects: S3Objects, tmp_path: Path
) -> None:
    """MLflow's client, told to use multipart above 6 MiB in 5 MiB parts, puts the file
    in the bucket through presigned URLs, and reads it back through the proxy."""
    import subprocess
    import sys

    _, run_id = app.new_run()
    local = tmp_path / "weights.bin"
    data = content(13 * MiB + 3, "mlflow")
    local.write_bytes(data)
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("MLCLI_", "MLFLOW_"))}
    environ.update(
        MLFLOW_TRACKING_URI=f"http://127.0.0.1:{app.port}",
        MLFLOW_ENABLE_PROXY_MULTIPART_UPLOAD="true",
        MLFLOW_MULTIPART_UPLOAD_MINIMUM_FILE_SIZE=str(6 * MiB),
        MLFLOW_MULTIPART_UPLOAD_CHUNK_SIZE=str(5 * MiB),
        GIT_PYTHON_REFRESH="quiet",
    )
    out = tmp_path / "back"
    out.mkdir()
    done = subprocess.run(
        [sys.executable, "-c", _MLFLOW_CLIENT, run_id, str(local), str(out)],
        env=environ,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout.strip().splitlines()[-1])
    assert answer["listed"] == ["model/weights.bin"]
    assert stored(objects, f"runs/{run_id}/artifacts/model/weights.bin") == data
    assert Path(answer["back"]).read_bytes() == data, answer
    metrics = app.request("GET", "/metrics").text
    assert 'mpu/complete/{path:path}"' in metrics  # not through the proxy
    assert 'route="/api/2.0/mlflow-artifacts/artifacts/{path:path}",method="PUT"' not in metrics
    assert pending_uploads(objects) == []


def test_a_head_request_never_uploads(tmp_path: Path) -> None:
    """HEAD on a file of a local store reads it (it once went the way of a PUT and
    emptied the file)."""
    with bucket_app(tmp_path / ".mlruns", None) as served:
        experiment_id, run_id = served.new_run()
        path = f"{ARTIFACTS}/{experiment_id}/{run_id}/artifacts/f.txt"
        assert served.request("PUT", path, b"kept").status == 200
        head = served.request("HEAD", path)
        assert head.status == 200 and head.headers["content-length"] == "4"
        assert served.request("GET", path).body == b"kept"
