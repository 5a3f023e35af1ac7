"""``mlcli run --run-id RUN``: attach to a SCHEDULED run instead of creating one (what
a Slurm job runs), here without Slurm; and a run owned by a Slurm job is left alone
where Slurm cannot be asked."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from mlcli.store import RunStatus, SlurmJobOwner
from mlcli.tracking import TrackingClient


@pytest.fixture
def project(tmp_path: Path) -> Path:
    folder = tmp_path / "proj"
    folder.mkdir()
    (folder / "MLproject").write_text(
        "entry_points:\n  main:\n    parameters:\n      alpha: {type: float, default: 0.5}\n"
        '    command: "python -c \'print(\\"alpha\\", {alpha})\'"\n'
    )
    return folder


def _mlcli(
    project: Path, store: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mlcli", *args],
        cwd=project,
        env={**os.environ, "MLCLI_STORE": str(store), **(env or {})},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_a_scheduled_run_is_attached_to_and_ends_finished(tmp_path: Path, project: Path) -> None:
    store = tmp_path / "store"
    client = TrackingClient(store)
    scheduled = client.create_run(run_name="later", status=RunStatus.SCHEDULED)
    run_id = scheduled.info.run_id
    done = _mlcli(project, store, "run", ".", "-P", "alpha=0.2", "--run-id", run_id[:8])
    assert done.returncode == 0, done.stderr
    assert done.stdout.split()[-1] == run_id
    run = TrackingClient(store).get_run(run_id)
    assert run.info.status == RunStatus.FINISHED
    assert run.info.run_name == "later"
    assert run.data.params == {"alpha": "0.2"}
    assert run.data.tags["mlcli.project.entryPoint"] == "main"
    assert len(TrackingClient(store).search_runs()) == 1  # no second run


@pytest.mark.parametrize("status", [RunStatus.RUNNING, RunStatus.FINISHED])
def test_a_run_that_is_not_scheduled_is_refused_in_one_line(
    tmp_path: Path, project: Path, status: str
) -> None:
    store = tmp_path / "store"
    client = TrackingClient(store)
    run_id = client.create_run().info.run_id
    if status == RunStatus.FINISHED:
        client.set_terminated(run_id)
    done = _mlcli(project, store, "run", ".", "--run-id", run_id)
    assert done.returncode == 2
    assert done.stderr.strip() == (
        f"mlcli: error: run {run_id} is {status}: --run-id attaches only to a SCHEDULED run"
    )
    assert TrackingClient(store).get_run(run_id).info.status == status


def test_an_unknown_run_id_is_one_line(tmp_path: Path, project: Path) -> None:
    store = tmp_path / "store"
    TrackingClient(store).create_run()
    done = _mlcli(project, store, "run", ".", "--run-id", "ffffffff")
    assert done.returncode == 2
    assert len(done.stderr.strip().splitlines()) == 1
    assert "no run with an id starting with 'ffffffff'" in done.stderr


def test_run_id_does_not_go_with_a_backend(tmp_path: Path, project: Path) -> None:
    done = _mlcli(project, tmp_path / "s", "run", ".", "--run-id", "abc", "--backend", "slurm")
    assert done.returncode == 2
    assert "--run-id attaches one local run" in done.stderr


def test_a_slurm_owned_run_is_left_alone_where_slurm_cannot_be_asked(
    tmp_path: Path, project: Path
) -> None:
    """No scontrol on PATH: whether job 12 lives is not knowable here."""
    store = tmp_path / "store"
    client = TrackingClient(store)
    run_id = client.create_run(
        status=RunStatus.SCHEDULED, owner=SlurmJobOwner("12", "elsewhere")
    ).info.run_id
    bare = {"PATH": str(Path(sys.executable).parent)}
    done = _mlcli(project, store, "runs", "list", "--json", env=bare)
    assert done.returncode == 0, done.stderr
    assert [run["status"] for run in json.loads(done.stdout)] == ["SCHEDULED"]
    doc = json.loads((store / "runs" / run_id / "run.json").read_text())
    assert doc["owner"] == {"kind": "slurm", "job_id": "12", "cluster": "elsewhere"}
