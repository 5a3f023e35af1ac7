"""``mlcli run`` of an unchanged MLflow project: when its code imports mlflow, MLflow's
params, metrics and artifacts land in the run ``mlcli run`` made (said once on stderr),
never in a stray ``mlflow.db`` or ``mlruns`` in the project; ``--no-mlflow-compat`` or
``mlflow_compat: false`` turn it off."""

from __future__ import annotations

import json
import os
import textwrap
from pathlib import Path
from typing import Any

import pytest
from projecthelpers import MakeProject

from mlcli.errors import InvalidInputError
from mlcli.projects.mlflow_compat import decide, mlflow_imports
from mlcli.projects.spec import Project
from mlcli.tracking import TrackingClient

# MLflow's quickstart, as an MLflow user writes it: nothing of mlcli in it.
MLPROJECT = """
name: quickstart
entry_points:
  main:
    parameters:
      alpha: {type: float, default: 0.5}
    command: python train.py --alpha {alpha}
"""
TRAIN = """
import argparse
import warnings

warnings.simplefilter("ignore")
from model import fit

parser = argparse.ArgumentParser()
parser.add_argument("--alpha", type=float)
alpha = parser.parse_args().alpha
fit(alpha)
"""
MODEL = """
import mlflow


def fit(alpha):
    with mlflow.start_run():
        mlflow.log_param("l1_ratio", 0.1)
        for step in range(3):
            mlflow.log_metric("rmse", alpha / (step + 1), step=step)
        mlflow.set_tag("team", "quickstart")
        mlflow.log_dict({"alpha": alpha}, "config.json")
"""
# Reports, without importing mlflow, where MLflow would log.
WHERE = """
import os
print("tracking uri:", os.environ.get("MLFLOW_TRACKING_URI", "unset"))
if False:
    import mlflow
"""


def _environment(store: Path) -> dict[str, str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("MLCLI_", "MLFLOW_"))}
    environ["MLCLI_STORE"] = str(store)
    environ["GIT_PYTHON_REFRESH"] = "quiet"
    return environ


def _stray(project: Path) -> list[str]:
    return sorted(p.name for p in project.iterdir() if p.name in ("mlflow.db", "mlruns"))


@pytest.mark.slow
@pytest.mark.mlflow
def test_an_unchanged_mlflow_project_logs_into_the_mlcli_run(
    make_project: MakeProject, tmp_path: Path, mlcli_process: Any
) -> None:
    pytest.importorskip("mlflow")
    project = make_project({"MLproject": MLPROJECT, "train.py": TRAIN, "model.py": MODEL})
    store = tmp_path / ".mlruns"
    result = mlcli_process(
        "run", str(project), "-P", "alpha=0.3", "--json", cwd=project, env=_environment(store)
    )
    run_id = json.loads(result.stdout)["run_id"]
    notices = [line for line in result.stderr.splitlines() if "imports mlflow" in line]
    assert notices == [
        "model.py imports mlflow: MLflow's params, metrics and artifacts go to mlcli's run "
        "(--no-mlflow-compat: leave MLflow to its own store)"
    ]
    client = TrackingClient(store)
    assert [r.run_id for r in client.search_runs()] == [run_id]  # MLflow made no run of its own
    run = client.get_run(run_id)
    assert run.info.status == "FINISHED"
    assert run.data.params == {"alpha": "0.3", "l1_ratio": "0.1"}
    assert run.data.tags["team"] == "quickstart"
    history = client.get_metric_history(run_id, "rmse")
    assert [(m.step, round(m.value, 6)) for m in history] == [(0, 0.3), (1, 0.15), (2, 0.1)]
    assert json.loads(client.artifact_path(run_id, "config.json").read_text()) == {"alpha": 0.3}
    assert _stray(project) == []
    assert not (tmp_path / "mlruns").exists() and not (tmp_path / "mlflow.db").exists()


@pytest.mark.slow
@pytest.mark.parametrize("how", ["flag", "mlproject"])
def test_it_can_be_turned_off(
    how: str, make_project: MakeProject, tmp_path: Path, mlcli_process: Any
) -> None:
    spec = "name: where\nentry_points:\n  main:\n    command: python where.py\n"
    if how == "mlproject":
        spec = "mlflow_compat: false\n" + spec
    project = make_project({"MLproject": spec, "where.py": WHERE})
    flags = ["--no-mlflow-compat"] if how == "flag" else []
    result = mlcli_process(
        "run", str(project), *flags, cwd=project, env=_environment(tmp_path / ".mlruns")
    )
    assert "tracking uri: unset" in result.stdout
    assert "imports mlflow" not in result.stderr


@pytest.mark.slow
def test_a_project_that_imports_mlflow_gets_a_server_without_asking(
    make_project: MakeProject, tmp_path: Path, mlcli_process: Any
) -> None:
    project = make_project(
        {"MLproject": "entry_points:\n  main:\n    command: python where.py\n", "where.py": WHERE}
    )
    result = mlcli_process("run", str(project), cwd=project, env=_environment(tmp_path / "s"))
    assert "tracking uri: http://127.0.0.1:" in result.stdout
    assert sum("imports mlflow" in line for line in result.stderr.splitlines()) == 1


def test_what_counts_as_importing_mlflow(tmp_path: Path) -> None:
    def project(**files: str) -> Path:
        root = tmp_path / f"p{len(list(tmp_path.iterdir()))}"
        for name, text in files.items():
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            (root / name).write_text(textwrap.dedent(text))
        return root

    for code in (
        "import mlflow\n",
        "import mlflow.sklearn\n",
        "import numpy as np, mlflow\n",
        "from mlflow.models import infer_signature\n",
        "def f():\n    from mlflow import log_metric\n",
    ):
        root = project(**{"src/train.py": code})
        assert mlflow_imports(root) == root / "src" / "train.py", code
    for code in (
        "import mlcli as mlflow\n",
        "# import mlflow\n",
        "text = 'import mlflow'\n",
        "import mlflowx\n",
        "from mlflow_extras import x\n",
    ):
        assert mlflow_imports(project(**{"train.py": code})) is None, code
    # code that is not the project's: hidden folders, virtualenvs, caches, other files
    root = project(
        **{
            ".venv/lib/x.py": "import mlflow\n",
            "env/pyvenv.cfg": "home = /usr\n",
            "env/lib/site.py": "import mlflow\n",
            "node_modules/a.py": "import mlflow\n",
            "notes.txt": "import mlflow\n",
            "train.py": "print(1)\n",
        }
    )
    assert mlflow_imports(root) is None


def test_the_flag_wins_then_the_mlproject_then_the_code(tmp_path: Path) -> None:
    (tmp_path / "train.py").write_text("import mlflow\n")
    code, plain = Project(directory=tmp_path), Project(directory=tmp_path / "none")
    (tmp_path / "none").mkdir()
    assert decide(None, code, "local").enabled
    assert not decide(None, plain, "local").enabled
    assert not decide(False, code, "local").enabled
    assert decide(True, plain, "virtualenv").enabled
    off = Project(directory=tmp_path, mlflow_compat=False)
    assert not decide(None, off, "local").enabled
    assert decide(True, off, "local").enabled
    assert decide(None, Project(directory=tmp_path / "none", mlflow_compat=True), "local").enabled


def test_docker_is_refused_when_asked_and_left_out_when_only_the_code_imports(
    tmp_path: Path,
) -> None:
    (tmp_path / "train.py").write_text("import mlflow\n")
    with pytest.raises(InvalidInputError, match="docker"):
        decide(True, Project(directory=tmp_path), "docker")
    left_out = decide(None, Project(directory=tmp_path), "docker")
    assert not left_out.enabled
    assert left_out.notice is not None and "container" in left_out.notice


@pytest.mark.slow
@pytest.mark.mlflow
def test_each_trial_of_a_sweep_logs_into_its_own_run(
    make_project: MakeProject, tmp_path: Path, mlcli_process: Any
) -> None:
    pytest.importorskip("mlflow")
    project = make_project({"MLproject": MLPROJECT, "train.py": TRAIN, "model.py": MODEL})
    store = tmp_path / ".mlruns"
    result = mlcli_process(
        "run", str(project), "-P", "alpha=[0.2,0.4]", "--json", cwd=project, env=_environment(store)
    )
    sweep = json.loads(result.stdout)
    assert sum("imports mlflow" in line for line in result.stderr.splitlines()) == 1
    client = TrackingClient(store)
    trials = [client.get_run(t["run_id"]) for t in sweep["trials"]]
    assert [t.data.params for t in trials] == [
        {"alpha": "0.2", "l1_ratio": "0.1"},
        {"alpha": "0.4", "l1_ratio": "0.1"},
    ]
    assert [t.data.metrics["rmse"] for t in trials] == [
        pytest.approx(0.2 / 3),
        pytest.approx(0.4 / 3),
    ]
    assert len(client.search_runs()) == 3  # the parent and its two trials: no stray run
    assert _stray(project) == []


@pytest.mark.slow
@pytest.mark.mlflow
def test_code_that_sets_its_experiment_runs_with_mlflows_advice(
    make_project: MakeProject, tmp_path: Path, mlcli_process: Any
) -> None:
    """As under ``mlflow run``, MLflow refuses a set_experiment() other than the run's;
    its message says to pass --experiment-name, which mlcli run takes."""
    pytest.importorskip("mlflow")
    train = "import mlflow\n\nmlflow.set_experiment('demo')\n" + TRAIN
    project = make_project({"MLproject": MLPROJECT, "train.py": train, "model.py": MODEL})
    store = tmp_path / ".mlruns"
    refused = mlcli_process("run", str(project), cwd=project, env=_environment(store), check=False)
    assert refused.returncode != 0
    assert "Make sure --experiment-name or --experiment-id matches" in refused.stderr
    result = mlcli_process(
        "run",
        str(project),
        "--experiment-name",
        "demo",
        "--json",
        cwd=project,
        env=_environment(store),
    )
    run = TrackingClient(store).get_run(json.loads(result.stdout)["run_id"])
    assert run.experiment_name == "demo"
    assert run.data.params == {"alpha": "0.5", "l1_ratio": "0.1"}
    assert _stray(project) == []
