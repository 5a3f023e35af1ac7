"""Reads of the fluent API never start a run, and take MLflow's arguments:
``list_artifacts``, ``get_artifact_uri``, ``last_active_run``, ``search_runs``."""

from __future__ import annotations

from pathlib import Path

import pytest

import mlcli
from mlcli.errors import InvalidInputError, NotFoundError
from mlcli.tracking import TrackingClient


def _finished_run_with_artifacts(store_root: Path) -> str:
    with mlcli.start_run(run_name="done") as run:
        mlcli.log_text("hello", "notes/a.txt")
        mlcli.log_text("top", "top.txt")
    return run.info.run_id


def _runs(store_root: Path) -> list[tuple[str, str]]:
    runs = TrackingClient(store_root).search_runs(run_view_type="all")
    return sorted((r.info.run_id, r.info.status) for r in runs)


def test_list_artifacts_without_a_run_starts_none(store_root: Path) -> None:
    with pytest.raises(InvalidInputError, match="list_artifacts: no active run; pass run_id"):
        mlcli.list_artifacts()
    with pytest.raises(InvalidInputError, match="get_artifact_uri: no active run"):
        mlcli.get_artifact_uri()
    assert mlcli.active_run() is None and mlcli.last_active_run() is None
    assert _runs(store_root) == []


def test_list_artifacts_takes_a_run_id_as_mlflow_does(store_root: Path) -> None:
    run_id = _finished_run_with_artifacts(store_root)
    before = _runs(store_root)

    assert sorted(f.path for f in mlcli.list_artifacts(run_id)) == ["notes", "top.txt"]
    assert [f.path for f in mlcli.list_artifacts(run_id, "notes")] == ["notes/a.txt"]
    assert [f.path for f in mlcli.list_artifacts(run_id=run_id, artifact_path="notes")] == [
        "notes/a.txt"
    ]
    assert [f.path for f in mlcli.list_artifacts(f"runs:/{run_id}/notes")] == ["notes/a.txt"]
    assert [f.path for f in mlcli.list_artifacts(artifact_uri=f"runs:/{run_id}/notes")] == [
        "notes/a.txt"
    ]
    assert _runs(store_root) == before == [(run_id, "FINISHED")]  # no new run, none FAILED


def test_a_missing_run_id_is_an_error_not_a_new_run(store_root: Path) -> None:
    _finished_run_with_artifacts(store_root)
    before = _runs(store_root)
    with pytest.raises(NotFoundError):
        mlcli.list_artifacts("0" * 32)
    with pytest.raises(InvalidInputError, match="not both"):
        mlcli.list_artifacts("x", artifact_uri="runs:/x")
    assert _runs(store_root) == before


def test_inside_a_run_a_folder_is_still_listed_and_the_artifact_uri_is_the_runs(
    store_root: Path,
) -> None:
    with mlcli.start_run() as run:
        mlcli.log_text("x", "plots/p.txt")
        assert [f.path for f in mlcli.list_artifacts("plots")] == ["plots/p.txt"]
        assert [f.path for f in mlcli.list_artifacts(path="plots")] == ["plots/p.txt"]
        root = mlcli.get_artifact_uri()
        assert root == TrackingClient(store_root).get_run(run.info.run_id).info.artifact_uri
        assert mlcli.get_artifact_uri("plots/p.txt") == root + "/plots/p.txt"
        assert mlcli.last_active_run().info.run_id == run.info.run_id
    assert mlcli.active_run() is None
    last = mlcli.last_active_run()
    assert last.info.run_id == run.info.run_id and last.info.status == "FINISHED"
    assert mlcli.last_active_run_id() == run.info.run_id


def test_reads_in_a_process_of_mlcli_run_read_its_run_without_attaching(
    store_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    owner = TrackingClient(store_root)
    run_id = owner.create_run(run_name="project").info.run_id
    owner.log_text(run_id, "x", "out/log.txt")
    monkeypatch.setenv("MLCLI_RUN_ID", run_id)
    assert [f.path for f in mlcli.list_artifacts()] == ["out"]
    assert mlcli.get_artifact_uri().endswith(f"{run_id}/artifacts")
    assert mlcli.active_run() is None  # a read attached nothing
    assert _runs(store_root) == [(run_id, "RUNNING")]


def test_search_runs_takes_mlflows_keywords_and_creates_no_store(
    workdir: Path,
) -> None:
    assert mlcli.search_runs(output_format="list") == []
    assert mlcli.search_runs(filter_string="metrics.m > 1").empty  # a DataFrame by default
    assert not (workdir / ".mlruns").exists()  # a read made no store
    with mlcli.start_run(experiment="exp") as kept:
        mlcli.log_metric("m", 2.0)
    with mlcli.start_run(experiment="exp") as dropped:
        mlcli.log_metric("m", 0.5)
    client = TrackingClient(workdir / ".mlruns")
    client.delete_run(dropped.info.run_id)
    exp_id = client.get_experiment_by_name("exp").experiment_id

    found = mlcli.search_runs(experiment_ids=[exp_id], filter_string="metrics.m > 0")
    assert list(found["run_id"]) == [kept.info.run_id]
    by_name = mlcli.search_runs(
        experiment_names=["exp"], run_view_type="deleted_only", output_format="list"
    )
    assert [r.info.run_id for r in by_name] == [dropped.info.run_id]
    every = mlcli.search_runs(experiment_ids=exp_id, run_view_type=3)  # MLflow's ViewType.ALL
    assert len(every) == 2
    with pytest.raises(InvalidInputError, match="invalid run_view_type"):
        mlcli.search_runs(run_view_type="some")
    with pytest.raises(NotFoundError):
        mlcli.search_runs(experiment_ids=["999"])


def test_mlflows_artifacts_module_lists_downloads_and_loads(
    store_root: Path, tmp_path: Path
) -> None:
    with mlcli.start_run() as run:
        mlcli.log_dict({"a": 1}, "config/params.json")
        mlcli.log_dict({"b": 2}, "config/params.yaml")
        mlcli.log_text("hello", "notes.txt")
    run_id = run.info.run_id
    before = _runs(store_root)
    artifacts = mlcli.artifacts  # as mlflow.artifacts, with only the import changed

    listed = artifacts.list_artifacts(run_id=run_id, artifact_path="config")
    assert [f.path for f in listed] == ["config/params.json", "config/params.yaml"]
    assert [f.path for f in artifacts.list_artifacts(f"runs:/{run_id}/config")] == [
        f.path for f in listed
    ]
    assert artifacts.load_text(f"runs:/{run_id}/notes.txt") == "hello"
    assert artifacts.load_dict(f"runs:/{run_id}/config/params.json") == {"a": 1}
    assert artifacts.load_dict(f"runs:/{run_id}/config/params.yaml") == {"b": 2}

    one = artifacts.download_artifacts(
        run_id=run_id, artifact_path="config", dst_path=tmp_path / "d"
    )
    assert sorted(p.name for p in Path(one).iterdir()) == ["params.json", "params.yaml"]
    assert Path(one) == (tmp_path / "d" / "config").resolve()
    everything = Path(artifacts.download_artifacts(run_id=run_id, dst_path=tmp_path / "all"))
    assert sorted(p.name for p in everything.iterdir()) == ["config", "notes.txt"]
    fetched = artifacts.download_artifacts(f"runs:/{run_id}/notes.txt")
    assert Path(fetched).read_text() == "hello"  # a new temporary folder
    with pytest.raises(InvalidInputError, match="exactly one of artifact_uri or run_id"):
        artifacts.list_artifacts()
    with pytest.raises(NotFoundError):
        artifacts.load_text(f"runs:/{run_id}/missing.txt")
    assert _runs(store_root) == before
