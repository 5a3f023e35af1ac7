"""A run's artifacts and logged models on a team server: ``ServerArtifacts`` and
``ServerLoggedModels`` against a real ``mlcli server``, and the artifact commands with
``--store http://...``. What a client writes must land in the server's own store."""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from pathlib import Path
from typing import Any

import pytest
from trackingserver import TrackingServer

from mlcli.errors import InvalidInputError, NotFoundError
from mlcli.store import ArtifactRepository, ServerConnection
from mlcli.store.rest.artifacts import ServerArtifacts
from mlcli.store.rest.logged_models import ServerLoggedModels

MB = 1 << 20


@pytest.fixture
def connection(served_store: TrackingServer) -> ServerConnection:
    return ServerConnection(served_store.url)


@pytest.fixture
def run(connection: ServerConnection) -> tuple[str, str]:
    """(experiment id, run id) of a new run on the server."""
    experiment = connection.post("/experiments/create", {"name": "artifacts"})["experiment_id"]
    info = connection.post("/runs/create", {"experiment_id": experiment})["run"]["info"]
    return experiment, info["run_id"]


@pytest.fixture
def artifacts(
    connection: ServerConnection, run: tuple[str, str], tmp_path: Path
) -> ServerArtifacts:
    experiment, run_id = run
    return ServerArtifacts(connection, run_id, experiment, tmp_path / "cache" / run_id)


def stored(server: TrackingServer, run_id: str) -> Path:
    """The run's artifact folder in the server's own store."""
    return server.store / "runs" / run_id / "artifacts"


def digest(path: Path) -> str:
    hasher = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(MB), b""):
            hasher.update(chunk)
    return hasher.hexdigest()


def test_files_and_folders_land_in_the_servers_store_and_list_as_locally(
    artifacts: ServerArtifacts, served_store: TrackingServer, run: tuple[str, str], tmp_path: Path
) -> None:
    source = tmp_path / "source"
    (source / "sub dir").mkdir(parents=True)
    (source / "a.txt").write_text("alpha")
    (source / "sub dir" / "b #?.txt").write_text("beta!")
    seen: list[tuple[int, int]] = []

    assert artifacts.log_file(source / "a.txt") == "a.txt"
    logged = artifacts.log_dir(
        source, "dir", progress=lambda done, total: seen.append((done, total))
    )
    assert artifacts.write_bytes("notes/n.json", b"{}") == "notes/n.json"

    assert logged == ["dir/a.txt", "dir/sub dir/b #?.txt"]
    assert seen == [(5, 10), (10, 10)]
    on_server = stored(served_store, run[1])
    assert (on_server / "dir" / "sub dir" / "b #?.txt").read_text() == "beta!"
    assert (on_server / "notes" / "n.json").read_bytes() == b"{}"
    local = ArtifactRepository(on_server)  # what the same store says when read locally
    for path in (None, "dir", "dir/sub dir", "dir/a.txt"):
        assert artifacts.list(path) == local.list(path)
    assert artifacts.list_all() == local.list_all()


def test_reading_downloads_into_the_cache_and_download_copies_out(
    artifacts: ServerArtifacts, tmp_path: Path
) -> None:
    source = tmp_path / "model"
    (source / "data").mkdir(parents=True)
    (source / "MLmodel").write_text("flavors: {}\n")
    (source / "data" / "weights.bin").write_bytes(b"\x00\x01" * 100)
    artifacts.log_dir(source, "model")

    folder = artifacts.resolve("model")
    assert folder == (artifacts.root / "model").resolve()
    assert (folder / "data" / "weights.bin").read_bytes() == b"\x00\x01" * 100
    assert artifacts.resolve("model/MLmodel").read_text() == "flavors: {}\n"

    copied = artifacts.download("model", tmp_path / "out")
    assert copied == tmp_path / "out" / "model"
    assert sorted(p.relative_to(copied).as_posix() for p in copied.rglob("*")) == [
        "MLmodel",
        "data",
        "data/weights.bin",
    ]
    assert artifacts.download("", tmp_path / "all") == tmp_path / "all" / "artifacts"
    assert (tmp_path / "all" / "artifacts" / "model" / "MLmodel").is_file()


def test_a_20_mb_artifact_round_trips_byte_identical(
    artifacts: ServerArtifacts, served_store: TrackingServer, run: tuple[str, str], tmp_path: Path
) -> None:
    big = tmp_path / "big.bin"
    with open(big, "wb") as handle:
        for _ in range(20):
            handle.write(os.urandom(MB))
    expected = digest(big)

    assert artifacts.log_file(big, "data") == "data/big.bin"

    assert digest(stored(served_store, run[1]) / "data" / "big.bin") == expected
    assert digest(artifacts.download("data/big.bin", tmp_path / "out")) == expected
    assert digest(artifacts.resolve("data/big.bin")) == expected
    assert artifacts.list("data/big.bin")[0].file_size == 20 * MB
    assert not [p for p in artifacts.root.rglob("*") if p.name.endswith(".tmp")]


def test_a_partial_download_left_in_the_cache_is_not_taken_as_the_file(
    artifacts: ServerArtifacts, tmp_path: Path
) -> None:
    (tmp_path / "weights.bin").write_bytes(b"w" * 5000)
    artifacts.log_file(tmp_path / "weights.bin", "model")
    cached = artifacts.root / "model"
    cached.mkdir(parents=True)
    (cached / ".weights.bin.0123abcd.tmp").write_bytes(b"w" * 10)  # a download cut short

    assert artifacts.resolve("model/weights.bin").read_bytes() == b"w" * 5000
    assert (artifacts.resolve("model") / "weights.bin").stat().st_size == 5000


def test_a_folder_written_in_the_cache_is_published_to_the_server(
    artifacts: ServerArtifacts, served_store: TrackingServer, run: tuple[str, str]
) -> None:
    target = artifacts.resolve("model", must_exist=False)
    (target / "data").mkdir(parents=True)
    (target / "MLmodel").write_text("flavors: {}\n")
    (target / "data" / "model.skops").write_bytes(b"skops")
    assert not (stored(served_store, run[1]) / "model").exists()

    artifacts.publish("model")

    on_server = stored(served_store, run[1]) / "model"
    assert (on_server / "MLmodel").read_text() == "flavors: {}\n"
    assert (on_server / "data" / "model.skops").read_bytes() == b"skops"
    with pytest.raises(NotFoundError, match="nothing was written"):
        artifacts.publish("never-written")


def test_paths_leaving_the_artifacts_are_refused_before_anything_is_sent(
    artifacts: ServerArtifacts, tmp_path: Path
) -> None:
    (tmp_path / "f.txt").write_text("x")
    for bad in ("../secret", "a/../../secret", "/etc/passwd"):
        with pytest.raises(InvalidInputError):
            artifacts.resolve(bad)
        with pytest.raises(InvalidInputError):
            artifacts.log_file(tmp_path / "f.txt", bad)
        with pytest.raises(InvalidInputError):
            artifacts.list(bad)
    with pytest.raises(InvalidInputError, match="longer than"):
        artifacts.write_bytes("x" * 300, b"")
    with pytest.raises(NotFoundError, match=r"no artifact 'missing\.txt'"):
        artifacts.resolve("missing.txt")
    with pytest.raises(NotFoundError, match="no artifact 'missing'"):
        artifacts.list("missing")
    with pytest.raises(NotFoundError, match="no such file"):
        artifacts.log_file(tmp_path / "absent.txt")


def test_a_link_the_server_will_not_follow_is_skipped_with_a_warning(
    artifacts: ServerArtifacts, served_store: TrackingServer, run: tuple[str, str], tmp_path: Path
) -> None:
    artifacts.write_bytes("folder/kept.txt", b"kept")
    (tmp_path / "secret").write_text("secret")
    os.symlink(tmp_path / "secret", stored(served_store, run[1]) / "folder" / "out")

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        folder = artifacts.resolve("folder")

    assert (folder / "kept.txt").read_text() == "kept"
    assert not (folder / "out").exists()
    assert any("skipped folder/out" in str(w.message) for w in caught)


# -- logged models ------------------------------------------------------------------------------


def test_logged_models_are_kept_with_their_run_and_read_back_as_mlcli_names_them(
    connection: ServerConnection, run: tuple[str, str], served_store: TrackingServer
) -> None:
    experiment, run_id = run
    models = ServerLoggedModels(connection)

    model = models.create(
        run_id=run_id,
        experiment_id=experiment,
        name="model",
        model_type="classifier",
        tags={"mlcli.user": "ada", "team": "a"},
        params={"alpha": "0.5"},
    )
    second = models.create(run_id=run_id, experiment_id=experiment, name="model", status="READY")

    assert (model.run_id, model.experiment_id, model.artifact_path) == (run_id, experiment, "model")
    assert model.tags == {"mlcli.user": "ada", "team": "a"} and model.status == "PENDING"
    assert second.artifact_path.startswith("model-") and second.status == "READY"
    doc = served_store.store / "runs" / run_id / "logged_models" / f"{model.model_id}.json"
    assert json.loads(doc.read_text())["tags"] == {"mlcli.user": "ada", "team": "a"}

    updated = models.update(
        model.model_id,
        status="READY",
        tags={"team": None, "stage": "dev"},
        params={"beta": "1"},
        metrics=[{"key": "acc", "value": 0.9, "timestamp": 5, "step": 1, "run_id": run_id}],
    )
    assert updated.status == "READY"
    assert updated.tags == {"mlcli.user": "ada", "stage": "dev"}
    assert updated.params == {"alpha": "0.5", "beta": "1"}
    assert [(m["key"], m["value"], m["step"]) for m in updated.metrics] == [("acc", 0.9, 1)]
    assert models.get(model.model_id) == updated
    assert [m.model_id for m in models.of_run(run_id)] == [model.model_id, second.model_id]
    assert models.find_run(model.model_id) == run_id
    assert models.find_run("m-" + "0" * 32) is None

    assert models.update(second.model_id, deleted=True).deleted
    assert [m.model_id for m in models.of_run(run_id)] == [model.model_id]


def test_logged_model_mistakes_are_one_line_errors(
    connection: ServerConnection, run: tuple[str, str]
) -> None:
    experiment, run_id = run
    models = ServerLoggedModels(connection)
    with pytest.raises(InvalidInputError, match="invalid logged model id"):
        models.get("nope")
    with pytest.raises(NotFoundError, match="no logged model"):
        models.get("m-" + "1" * 32)
    with pytest.raises(InvalidInputError, match="server chooses"):
        models.create(run_id=run_id, experiment_id=experiment, name="m", model_id="m-" + "2" * 32)
    with pytest.raises(InvalidInputError, match="invalid logged model status"):
        models.create(run_id=run_id, experiment_id=experiment, name="m", status="DONE")


# -- the commands -------------------------------------------------------------------------------


def test_artifact_commands_over_the_server(
    mlcli_process: Any, served_store: TrackingServer, tmp_path: Path
) -> None:
    url = served_store.url
    run_id = mlcli_process("--store", url, "runs", "create", "-q").stdout.strip()
    (tmp_path / "plots").mkdir()
    (tmp_path / "plots" / "loss.png").write_bytes(b"png" * 100)
    (tmp_path / "report.txt").write_text("fine\n")

    mlcli_process("--store", url, "log", "artifact", str(tmp_path / "plots"), "-a", "figures",
                  "--run", run_id)  # fmt: skip
    mlcli_process("--store", url, "log", "artifact", str(tmp_path / "report.txt"), "--run", run_id)

    assert (stored(served_store, run_id) / "figures" / "loss.png").read_bytes() == b"png" * 100
    listed = mlcli_process("--store", url, "runs", "artifacts", run_id, "--json").stdout
    assert [(e["path"], e["is_dir"]) for e in json.loads(listed)] == [
        ("figures", True),
        ("report.txt", False),
    ]
    inside = mlcli_process("--store", url, "runs", "artifacts", run_id, "figures", "-q").stdout
    assert inside.splitlines() == ["figures/loss.png"]


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("../../etc", "mlcli: error: artifact path '../../etc' escapes the run's artifacts"),
        ("missing", "mlcli: error: no artifact 'missing'"),
    ],
)
def test_a_bad_artifact_path_over_the_server_is_one_line_exit_2(
    mlcli_process: Any, served_store: TrackingServer, path: str, message: str
) -> None:
    url = served_store.url
    run_id = mlcli_process("--store", url, "runs", "create", "-q").stdout.strip()
    result = mlcli_process("--store", url, "runs", "artifacts", run_id, path, check=False)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [message]
