"""MLproject.example and examples/quickstart run as the README says."""

from __future__ import annotations

from pathlib import Path

import pytest
from projecthelpers import all_runs, only_run

from mlcli.projects import load_project
from mlcli.store import RunStatus

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "quickstart"


def test_the_example_file_is_the_quickstart_projects_mlproject() -> None:
    assert (EXAMPLE / "MLproject").resolve() == (ROOT / "MLproject.example").resolve()
    project = load_project(EXAMPLE)
    assert project.name == "quickstart" and project.env_type == "python"
    assert set(project.entry_points) == {"main", "sweep", "report"}
    types = {p.type for e in project.entry_points.values() for p in e.parameters}
    assert types == {"float", "int", "path", "string", "uri"}


def test_main_trains_and_logs_into_the_run(cli, store_root: Path, workdir: Path) -> None:
    result = cli("run", str(EXAMPLE), "--env-manager", "local", "-P", "epochs=60")
    assert result.exit_code == 0, result.stderr
    run = only_run(workdir)
    assert run.info.status == RunStatus.FINISHED
    assert run.data.params == {
        "alpha": "0.05",
        "epochs": "60",
        "data": "data/points.csv",
        "label": "baseline",
    }
    assert run.data.metrics["final_loss"] < 0.1
    assert run.data.tags["label"] == "baseline"
    assert "baseline: w=" in result.stdout
    from mlcli.tracking import TrackingClient

    client = TrackingClient(store_root)
    assert len(client.get_metric_history(run.info.run_id, "loss")) == 60
    assert client.artifact_path(run.info.run_id, "model/weights.json").is_file()


def test_report_logs_from_the_shell(cli, store_root: Path, workdir: Path) -> None:
    result = cli("run", str(EXAMPLE), "-e", "report", "--env-manager", "local", "-P", "note=hi")
    assert result.exit_code == 0, result.stderr
    run = only_run(workdir)
    assert run.data.tags["note"] == "hi"
    assert run.data.tags["dashboard"] == "http://127.0.0.1:8080/"
    assert run.data.metrics == {"report_lines": 41.0}


@pytest.mark.slow
def test_sweep_makes_child_runs(cli, store_root: Path, workdir: Path) -> None:
    result = cli(
        "run",
        str(EXAMPLE),
        "-e",
        "sweep",
        "--env-manager",
        "local",
        "-P",
        "alphas=0.01 0.1",
        "-P",
        "epochs=5",
    )
    assert result.exit_code == 0, result.stderr
    runs = all_runs(workdir)
    (sweep,) = [r for r in runs if r.data.tags["mlcli.project.entryPoint"] == "sweep"]
    children = [r for r in runs if r.info.parent_run_id == sweep.info.run_id]
    assert sorted(r.data.params["alpha"] for r in children) == ["0.01", "0.1"]
    assert sweep.data.tags["swept"] == "0.01 0.1"


@pytest.mark.slow
def test_main_in_its_virtualenv(cli, store_root: Path, workdir: Path) -> None:
    result = cli("run", str(EXAMPLE), "-P", "epochs=5")
    assert result.exit_code == 0, result.stderr
    run = only_run(workdir)
    assert run.data.tags["mlcli.project.env"] == "virtualenv"
    assert "final_loss" in run.data.metrics
