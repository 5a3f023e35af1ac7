"""``set_experiment`` in a process that logs to a run the environment names (the run
``mlcli run`` created, or MLflow's ``MLFLOW_RUN_ID``): another experiment than the
run's is refused, as MLflow refuses it, so that a run and its nested runs are never
split between experiments; the same experiment is fine."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import mlcli
from mlcli.errors import InvalidInputError
from mlcli.tracking import TrackingClient

SCRIPT = """\
import mlcli
mlcli.set_experiment("elsewhere")
with mlcli.start_run():
    mlcli.log_metric("outer", 1.0)
    with mlcli.start_run(nested=True):
        mlcli.log_metric("inner", 2.0)
"""


def _project(workdir: Path) -> Path:
    project = workdir / "proj"
    project.mkdir()
    (project / "MLproject").write_text(
        "name: proj\nentry_points:\n  main:\n    command: python train.py\n"
    )
    (project / "train.py").write_text(SCRIPT)
    return project


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(("MLCLI_", "MLFLOW_"))}


def test_set_experiment_in_a_project_run_is_refused_before_anything_is_split(
    store_root: Path, mlcli_process
) -> None:
    project = _project(store_root.parent)
    result = mlcli_process(
        "run",
        str(project),
        "--env-manager",
        "local",
        cwd=store_root.parent,
        env=_env(),
        check=False,
    )
    assert result.returncode != 0
    assert (
        "experiment 'elsewhere' is not the experiment of run" in result.stderr
        and "'mlcli run --experiment elsewhere'" in result.stderr
    ), result.stderr
    client = TrackingClient(store_root)
    assert client.get_experiment_by_name("elsewhere") is None  # nothing made there
    [run] = client.search_runs()
    assert run.experiment_name == "Default" and run.info.status == "FAILED"
    assert run.data.metrics == {}


def test_the_experiment_chosen_by_mlcli_run_keeps_run_and_nested_runs_together(
    store_root: Path, mlcli_process
) -> None:
    project = _project(store_root.parent)
    mlcli_process(
        "run",
        str(project),
        "--env-manager",
        "local",
        "--experiment",
        "elsewhere",
        cwd=store_root.parent,
        env=_env(),
    )
    client = TrackingClient(store_root)
    runs = client.search_runs()
    assert sorted(r.experiment_name or "" for r in runs) == ["elsewhere", "elsewhere"]
    outer = next(r for r in runs if r.info.parent_run_id is None)
    inner = next(r for r in runs if r.info.parent_run_id == outer.info.run_id)
    assert outer.data.metrics == {"outer": 1.0} and inner.data.metrics == {"inner": 2.0}


def test_with_mlflow_run_id_set_experiment_of_another_experiment_raises_as_in_mlflow(
    store_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = TrackingClient(store_root)
    run_id = client.create_run(run_name="theirs").info.run_id
    client.create_experiment("other")
    monkeypatch.setenv("MLFLOW_RUN_ID", run_id)
    with pytest.raises(InvalidInputError, match="MLFLOW_RUN_ID names"):
        mlcli.set_experiment("other")
    with pytest.raises(InvalidInputError, match="not the experiment of run"):
        mlcli.start_run(experiment="other")
    assert mlcli.active_run() is None
    assert mlcli.set_experiment("Default").experiment_id == "0"  # the run's own: fine
    with mlcli.start_run() as run:
        pass
    assert run.info.run_id == run_id
    mlcli.set_experiment("other")  # MLFLOW_RUN_ID was used up: later runs are new
    with mlcli.start_run() as later:
        pass
    assert client.get_run(later.info.run_id).experiment_name == "other"
