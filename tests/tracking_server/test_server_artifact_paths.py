"""The artifact proxy of a real ``mlcli server`` (issue 15, findings 4 and 10): links
planted in the store are listed as links and never served when they lead outside, and
uploads the file system would refuse are a 400 with a JSON body, never a 500."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from trackingserver import TrackingServer

from mlcli.client import MlcliClient

SECRET = b"TOP-SECRET-5c1e"
LIST = "/api/2.0/mlflow-artifacts/artifacts?path="


def _run(server: TrackingServer) -> str:
    reply = server.api("POST", "runs/create", {"experiment_id": "0"})
    assert reply.status == 200, reply.body
    return str(reply.json()["run"]["info"]["run_id"])


def _bad_request(reply: Any) -> str:
    assert reply.status == 400, (reply.status, reply.body)
    assert reply.headers["content-type"].startswith("application/json")
    body = reply.json()
    assert body["error_code"] == "INVALID_PARAMETER_VALUE", body
    assert "\n" not in body["message"]
    return str(body["message"])


def test_planted_links_are_listed_and_never_served(start_server: Any, tmp_path: Path) -> None:
    (tmp_path / "secret.txt").write_bytes(SECRET)
    (tmp_path / "secret-dir").mkdir()
    (tmp_path / "secret-dir" / "key").write_bytes(SECRET)
    server = start_server()
    run_id = _run(server)
    root = f"/api/2.0/mlflow-artifacts/artifacts/0/{run_id}/artifacts"
    assert server.request("PUT", f"{root}/m/MLmodel", b"flavors: {}\n").status == 200
    folder = MlcliClient(server.store).artifact_path(run_id, "m")
    os.symlink(tmp_path / "secret.txt", folder / "secret")
    os.symlink(tmp_path / "secret-dir", folder / "keys")
    os.symlink("MLmodel", folder / "inside")
    listed = server.request("GET", f"{LIST}0/{run_id}/artifacts/m")
    assert listed.status == 200, listed.body
    assert listed.json()["files"] == [
        {"path": "MLmodel", "is_dir": False, "file_size": 12},
        {"path": "inside", "is_dir": False},
        {"path": "keys", "is_dir": False},
        {"path": "secret", "is_dir": False},
    ]
    for path in ("m/secret", "m/keys/key", "m/keys"):
        reply = server.request("GET", f"{root}/{path}")
        assert "escapes the run's artifacts through a symbolic link" in _bad_request(reply)
        assert SECRET not in reply.body
    assert server.request("GET", f"{LIST}0/{run_id}/artifacts/m/keys").json() == {
        "files": [{"path": "keys", "is_dir": False}]
    }
    inside = server.request("GET", f"{root}/m/inside")
    assert (inside.status, inside.body) == (200, b"flavors: {}\n")
    os.mkfifo(folder.parent / "pipe")  # reading it would block the server forever
    assert "'pipe' is not a regular file" in _bad_request(server.request("GET", f"{root}/pipe"))
    # registering the model from the run refuses it rather than copy the secret
    refused = server.api(
        "POST",
        "model-versions/create",
        {"name": "m", "source": f"mlflow-artifacts:/0/{run_id}/artifacts/m"},
    )
    assert "holds a symbolic link leading outside it" in _bad_request(refused)
    assert "Traceback" not in server.log()


def test_uploads_the_file_system_would_refuse_are_400(start_server: Any) -> None:
    server = start_server()
    run_id = _run(server)
    root = f"/api/2.0/mlflow-artifacts/artifacts/0/{run_id}/artifacts"
    assert server.request("PUT", f"{root}/a", b"a file").status == 200
    assert server.request("PUT", f"{root}/dir/f", b"in a folder").status == 200
    cases = {
        f"{root}/{'n' * 300}": "is 300 bytes long, longer than the 241",
        f"{root}/a/b": "cannot write artifact 'a/b': 'a' is a file",
        f"{root}/a/b/c": "cannot write artifact 'a/b/c': 'a' is a file",
        f"{root}/dir": "'dir' is a folder; upload files into it",
        f"{root}/x%00y": "holds a NUL byte",
        f"{root}/" + "/".join(["p" * 200] * 25): "the path is too long for the file system",
    }
    for path, message in cases.items():
        assert message in _bad_request(server.request("PUT", path, b"data")), path
    # reads of such paths are clean errors too
    for path in (f"{root}/{'n' * 300}", f"{root}/a/b", f"{root}/" + "/".join(["p" * 200] * 25)):
        reply = server.request("GET", path)
        assert reply.status == 404, (path, reply.status, reply.body)
    files = sorted(
        p.relative_to(server.store).as_posix()
        for p in (server.store / "runs" / run_id / "artifacts").rglob("*")
    )
    assert files == [
        f"runs/{run_id}/artifacts/a",
        f"runs/{run_id}/artifacts/dir",
        f"runs/{run_id}/artifacts/dir/f",
    ]
    assert "Traceback" not in server.log()
