"""``mlcli import-mlflow`` of stores written by the real mlflow package: a file store
(``MLFLOW_ALLOW_FILE_STORE=true``, ``file:`` URI) and a SQLite database reproduce their
runs, metric histories, artifacts and registered models, and a second import adds
nothing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from trackingserver import HERE

from mlcli import system_tags
from mlcli.client import MlcliClient

pytestmark = [pytest.mark.slow, pytest.mark.mlflow]
pytest.importorskip("mlflow")
pytest.importorskip("sklearn")


@pytest.fixture(scope="module", params=["file", "sqlite"])
def mlflow_store(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """(the store's location for import-mlflow, what MLflow read back from it)."""
    directory = tmp_path_factory.mktemp(f"mlflow-{request.param}")
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("MLCLI_", "MLFLOW_"))}
    if request.param == "file":
        location = str(directory / "mlruns")
        environ["MLFLOW_TRACKING_URI"] = (directory / "mlruns").as_uri()
        environ["MLFLOW_ALLOW_FILE_STORE"] = "true"
    else:
        location = f"sqlite:///{directory / 'mlflow.db'}"
        environ["MLFLOW_TRACKING_URI"] = location
    result = subprocess.run(
        [sys.executable, str(HERE / "mlflow_store_writer.py")],
        cwd=directory,
        env=environ,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    return location, json.loads(result.stdout.strip().splitlines()[-1])


def _import(cli: Any, store: Path, location: str) -> dict[str, Any]:
    result = cli("--store", str(store), "import-mlflow", location, "--json")
    assert result.exit_code == 0, result.stderr
    return dict(result.json())


def test_runs_histories_and_artifacts_are_reproduced(
    mlflow_store: Any, cli: Any, tmp_path: Path
) -> None:
    location, expected = mlflow_store
    store = tmp_path / ".mlruns"
    report = _import(cli, store, location)
    assert report["runs_imported"] == 3 and report["warnings"] == []
    client = MlcliClient(store)
    for run_id, want in expected["runs"].items():
        run = client.get_run(run_id)  # MLflow's run ids are kept
        assert run.info.run_name == want["name"]
        assert run.info.status == want["status"]
        assert run.info.lifecycle_stage == want["lifecycle_stage"]
        assert run.data.params == want["params"]
        mapped = {k.replace("mlflow.", "mlcli.", 1): v for k, v in want["tags"].items()}
        assert {k: v for k, v in run.data.tags.items() if k != system_tags.IMPORT_SOURCE} == mapped
        for key, points in want["history"].items():
            history = client.get_metric_history(run_id, key)
            got = sorted({(m.step, repr(m.value), m.timestamp) for m in history})
            assert got == sorted({tuple(p) for p in points})
            assert len(history) == len(got)  # each point once
    child = client.get_run(expected["child"])
    assert child.info.parent_run_id == expected["parent"]
    artifacts = client.artifact_path(expected["parent"])
    assert (artifacts / "inputs" / "data.txt").read_text() == "some data\n"
    assert (artifacts / "model" / "MLmodel").is_file()  # the first logged model
    experiment = client.get_experiment_by_name("imported")
    assert experiment is not None and experiment.tags == {"team": "vision"}


def test_registered_models_are_reproduced(mlflow_store: Any, cli: Any, tmp_path: Path) -> None:
    location, expected = mlflow_store
    store = tmp_path / ".mlruns"
    _import(cli, store, location)
    client = MlcliClient(store)
    model = client.get_registered_model("imported-model")
    assert model.tags == {"owner": "ml-team"}
    assert model.aliases == {"champion": 2}
    versions = client.search_model_versions("imported-model")
    assert [(v.version, v.stage, v.run_id) for v in versions] == [
        (1, "Production", expected["parent"]),
        (2, "None", expected["parent"]),
    ]
    assert versions[1].tags == {"validated": "yes"}
    with pytest.raises(Exception, match="no version 3"):
        client.get_model_version("imported-model", 3)  # deleted in MLflow
    from mlcli.models import load_model

    numpy = pytest.importorskip("numpy")
    for version, coefficient in ((1, 2.0), (2, 3.0)):
        loaded = load_model(f"models:/imported-model/{version}", client=client)
        prediction = loaded.predict(numpy.array([[10.0]]))
        assert float(numpy.ravel(prediction)[0]) == pytest.approx(10 * coefficient)
    shown = cli("--store", str(store), "models", "show", "imported-model", "--json").json()
    assert [v["version"] for v in shown["versions"]] == [1, 2]


def test_importing_twice_creates_nothing_new(mlflow_store: Any, cli: Any, tmp_path: Path) -> None:
    location, _ = mlflow_store
    store = tmp_path / ".mlruns"
    _import(cli, store, location)
    files = sorted(str(p.relative_to(store)) for p in store.rglob("*") if "index.db" not in p.name)
    again = _import(cli, store, location)
    assert again["runs_imported"] == 0 and again["runs_skipped"] == 3
    assert again["versions_imported"] == 0 and again["experiments_created"] == 0
    assert again["models_created"] == 0 and again["metric_points"] == 0
    after = sorted(str(p.relative_to(store)) for p in store.rglob("*") if "index.db" not in p.name)
    assert after == files


def test_an_interrupted_run_import_is_done_again(
    mlflow_store: Any, cli: Any, tmp_path: Path
) -> None:
    location, expected = mlflow_store
    store = tmp_path / ".mlruns"
    _import(cli, store, location)
    client = MlcliClient(store)
    parent = expected["parent"]
    client.store.runs.set_tags(
        parent, {system_tags.IMPORT_INCOMPLETE: "true"}
    )  # as if cut off half-way
    client.store.runs.append_metrics(parent, [])
    again = _import(cli, store, location)
    assert again["runs_imported"] == 1
    run = client.get_run(parent)
    assert system_tags.IMPORT_INCOMPLETE not in run.data.tags
    assert len(client.get_metric_history(parent, "loss")) == 5


def test_import_refuses_what_is_not_an_mlflow_store(cli: Any, tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    (tmp_path / "notes.txt").write_text("hello")
    for location in ("empty", "notes.txt", "missing", "s3://bucket/mlruns"):
        result = cli(
            "--store",
            str(tmp_path / ".mlruns"),
            "import-mlflow",
            str(tmp_path / location) if "://" not in location else location,
        )
        assert result.exit_code == 2, (location, result.stderr)
        assert result.stderr.startswith("mlcli: error: ")


def test_datasets_model_metrics_and_experiment_times_are_reproduced(
    mlflow_store: Any, cli: Any, tmp_path: Path
) -> None:
    location, expected = mlflow_store
    store = tmp_path / ".mlruns"
    report = _import(cli, store, location)
    assert report["dataset_inputs"] == 1 and report["warnings"] == []
    client = MlcliClient(store)
    experiment = client.get_experiment_by_name("imported")
    assert experiment is not None
    created, updated = expected["experiment_times"]
    assert experiment.creation_time == created  # not the time of the import
    assert experiment.last_update_time == max(created, updated)
    [dataset_input] = client.get_run(expected["parent"]).inputs.dataset_inputs
    assert dataset_input.to_dict()["tags"] == expected["inputs"][0]["tags"]
    want = {k: v for k, v in expected["inputs"][0]["dataset"].items() if v is not None}
    assert dataset_input.dataset.to_dict() == want
    model = client.store.logged_models.get(expected["model_id"])
    got = sorted(
        (
            m["key"],
            repr(float(m["value"])),
            m["step"],
            m.get("dataset_name"),
            m.get("dataset_digest"),
        )
        for m in model.metrics
    )
    want_points = sorted((k, repr(float(v)), *rest) for k, v, *rest in expected["model_metrics"])
    assert ("rmse", "0.25", 0, "train", dataset_input.dataset.digest) in got
    if location.startswith("sqlite"):
        assert got == want_points
    else:  # MLflow's file store answers the latest point per key and dataset: every point came
        assert set(want_points) <= set(got)
    assert {m["run_id"] for m in model.metrics} == {expected["parent"]}
