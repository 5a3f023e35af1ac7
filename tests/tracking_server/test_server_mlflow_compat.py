"""``mlcli run --mlflow-compat`` (or ``mlflow_compat: true`` in the MLproject): an entry
point that uses ``import mlflow`` logs into the run ``mlcli run`` created."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from mlcli.errors import InvalidInputError
from mlcli.projects import mlflow_compat
from mlcli.projects.spec import Project
from mlcli.tracking import TrackingClient

TRAIN = """
import sys, warnings
warnings.simplefilter("ignore")
import mlflow
alpha = float(sys.argv[2])
with mlflow.start_run() as run:
    mlflow.log_param("lr", 0.01)
    for step in range(3):
        mlflow.log_metric("loss", alpha / (step + 1), step=step)
    mlflow.set_tag("framework", "mlflow")
    mlflow.log_dict({"alpha": alpha}, "config.json")
"""


def _project(directory: Path, extra: str = "") -> Path:
    directory.mkdir()
    (directory / "MLproject").write_text(
        "name: compat\n"
        + extra
        + "entry_points:\n  main:\n    parameters:\n      alpha: {type: float, default: 0.5}\n"
        + "    command: python train.py --alpha {alpha}\n"
    )
    (directory / "train.py").write_text(TRAIN)
    return directory


def _environment(store: Path) -> dict[str, str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("MLCLI_", "MLFLOW_"))}
    environ["MLCLI_STORE"] = str(store)
    environ["GIT_PYTHON_REFRESH"] = "quiet"
    return environ


@pytest.mark.slow
@pytest.mark.mlflow
@pytest.mark.parametrize("how", ["flag", "mlproject"])
def test_import_mlflow_logs_into_the_mlcli_run(
    how: str, tmp_path: Path, mlcli_process: Any
) -> None:
    pytest.importorskip("mlflow")
    project = _project(tmp_path / "proj", "mlflow_compat: true\n" if how == "mlproject" else "")
    store = tmp_path / ".mlruns"
    args = ["run", str(project), "-P", "alpha=0.3", "--json"]
    if how == "flag":
        args.append("--mlflow-compat")
    result = mlcli_process(*args, cwd=tmp_path, env=_environment(store))
    run_id = json.loads(result.stdout)["run_id"]
    client = TrackingClient(store)
    assert [r.run_id for r in client.search_runs()] == [run_id]  # no second run
    run = client.get_run(run_id)
    assert run.info.status == "FINISHED"
    assert run.data.params == {"alpha": "0.3", "lr": "0.01"}
    assert run.data.tags["framework"] == "mlflow"
    history = client.get_metric_history(run_id, "loss")
    assert [(m.step, round(m.value, 6)) for m in history] == [(0, 0.3), (1, 0.15), (2, 0.1)]
    assert json.loads(client.artifact_path(run_id, "config.json").read_text()) == {"alpha": 0.3}


def test_docker_environments_are_refused_before_the_run(tmp_path: Path) -> None:
    project = Project(directory=tmp_path, mlflow_compat=True)
    with pytest.raises(InvalidInputError, match="docker"):
        mlflow_compat.check(False, project, "docker")
    mlflow_compat.check(False, project, "virtualenv")
    mlflow_compat.check(True, Project(directory=tmp_path), "local")


def test_the_flag_does_not_reach_a_sweep(cli: Any, tmp_path: Path, monkeypatch: Any) -> None:
    project = _project(tmp_path / "proj")
    monkeypatch.setenv("MLCLI_STORE", str(tmp_path / ".mlruns"))
    result = cli("run", str(project), "-P", "alpha=[0.1,0.2]", "--mlflow-compat")
    assert result.exit_code == 2
    assert "mlflow_compat: true" in result.stderr


def test_mlproject_option_must_be_a_boolean(tmp_path: Path) -> None:
    from mlcli.projects import load_project

    (tmp_path / "MLproject").write_text("name: x\nmlflow_compat: sometimes\n")
    with pytest.raises(InvalidInputError, match="mlflow_compat"):
        load_project(tmp_path)
