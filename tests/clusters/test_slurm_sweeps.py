"""Sweeps with ``--backend slurm`` on the real one-node Slurm (the ``slurm`` fixture):
a grid as ONE job array, a failing trial, a cancelled parent, Optuna coordinated
from ``mlcli run`` (one job per trial). ``mlcli`` runs in subprocesses, as a user
runs it; entry points wait for flag files rather than sleeping."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import test_slurm_runs
from test_slurm_runs import Cli, wait_until


@pytest.fixture
def cli(tmp_path: Path, slurm: Any) -> Cli:
    """test_slurm_runs' project, store and cluster environment."""
    made: Cli = test_slurm_runs.cli.__wrapped__(tmp_path, slurm)  # type: ignore[attr-defined]
    return made


def _children(cli: Cli, parent: str) -> list[dict[str, Any]]:
    done = cli.run("runs", "list", "--json", "--filter", f"tags.mlcli.parentRunId = '{parent}'")
    assert done.returncode == 0, done.stderr
    runs: list[dict[str, Any]] = json.loads(done.stdout)
    return runs


def _sbatch_calls(cli: Cli, tmp_path: Path) -> Path:
    """A PATH in front where ``sbatch`` logs each call and runs the real one."""
    real = subprocess.run(["which", "sbatch"], capture_output=True, text=True, check=True)
    folder = tmp_path / "bin"
    folder.mkdir()
    log = tmp_path / "sbatch.calls"
    wrapper = folder / "sbatch"
    wrapper.write_text(f'#!/bin/sh\necho "$@" >> {log}\nexec {real.stdout.strip()} "$@"\n')
    wrapper.chmod(0o755)
    cli.env = {**cli.env, "PATH": f"{folder}:{cli.env['PATH']}"}
    return log


def test_a_grid_of_8_trials_runs_as_one_job_array(cli: Cli, tmp_path: Path) -> None:
    calls = _sbatch_calls(cli, tmp_path)
    done = cli.run(
        "run", ".", "-P", "alpha=[0.1,0.2,0.3,0.4,0.5,0.6,0.7,0.8]", "--parallel", "4",
        "--objective", "metrics.score", "--direction", "maximize", "--backend", "slurm", "--json",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["status"] == "FINISHED"
    submitted = [line for line in calls.read_text().splitlines() if "--test-only" not in line]
    assert len(submitted) == 1  # one sbatch for the whole sweep
    parent = cli.show(result["run_id"])
    job = parent["tags"]["mlcli.slurm.arrayJobId"]
    shown = subprocess.run(
        ["scontrol", "show", "job", "-o", job], env=cli.env, capture_output=True, text=True
    )
    assert shown.returncode == 0, shown.stderr
    assert f"ArrayJobId={job}" in shown.stdout and "ArrayTaskId=" in shown.stdout
    trials = _children(cli, result["run_id"])
    assert len(trials) == 8
    assert {t["status"] for t in trials} == {"FINISHED"}
    by_trial = {int(t["tags"]["mlcli.sweep.trial"]): t for t in trials}
    assert sorted(by_trial) == list(range(1, 9))
    assert by_trial[8]["params"] == {"alpha": "0.8"}
    assert by_trial[3]["tags"]["mlcli.slurm.jobId"] == f"{job}_2"
    assert parent["status"] == "FINISHED"
    assert parent["tags"]["best_run_id"] == by_trial[8]["run_id"]
    assert parent["metrics"]["best_score"] == pytest.approx(1.6)
    assert parent["metrics"]["trials_finished"] == 8
    assert result["best_trial"] == 8
    # each task's output, followed a line at a time, prefixed with its trial (on stderr
    # with --json, which keeps stdout for the JSON)
    assert "[3] trained with 0.3\n" in done.stderr
    assert "[8] trained with 0.8\n" in done.stderr
    plan = json.loads(
        (cli.store / "runs" / parent["run_id"] / "artifacts" / "sweep" / "plan.json").read_text()
    )
    assert [t["run_id"] for t in plan["trials"]] == [by_trial[n]["run_id"] for n in range(1, 9)]
    assert (
        "#SBATCH --array=0-7%4"
        in (cli.store / "runs" / parent["run_id"] / "artifacts" / "slurm" / "job.sh").read_text()
    )


def test_one_failing_trial_fails_alone_and_the_parent_says_so(cli: Cli, tmp_path: Path) -> None:
    (cli.project / "MLproject").write_text(
        "entry_points:\n  main:\n    parameters:\n      alpha: {type: float}\n"
        '    command: "python train.py --alpha {alpha}"\n'
    )
    (cli.project / "train.py").write_text(
        "import sys\nimport mlcli\nalpha = float(sys.argv[2])\n"
        "if alpha == 0.2:\n    sys.exit(4)\nmlcli.log_metric('score', alpha)\n"
    )
    done = cli.run(
        "run", ".", "-P", "alpha=[0.1,0.2,0.3]", "--parallel", "3", "--objective",
        "metrics.score", "--direction", "minimize", "--backend", "slurm", "--json",
    )  # fmt: skip
    assert done.returncode == 1, done.stderr
    result = json.loads(done.stdout)
    assert result["status"] == "FAILED"
    statuses = {t["trial"]: t["status"] for t in result["trials"]}
    assert statuses == {1: "FINISHED", 2: "FAILED", 3: "FINISHED"}
    parent = cli.show(result["run_id"])
    assert parent["status"] == "FAILED"
    assert "trial 2 FAILED" in parent["tags"]["mlcli.project.failureReason"]
    assert parent["metrics"]["trials_failed"] == 1
    assert parent["tags"]["mlcli.sweep.bestTrial"] == "1"


def test_cancelling_the_parent_kills_every_unfinished_trial(cli: Cli, tmp_path: Path) -> None:
    flag = tmp_path / "never"
    follower = cli.start(
        "run", ".", "-e", "wait", "-P", f"flag=['{flag}','{flag}x','{flag}y']",
        "--parallel", "2", "--backend", "slurm", stderr=tmp_path / "follower.err",
    )  # fmt: skip
    try:

        def parent_running() -> bool:
            runs = json.loads(cli.run("runs", "list", "--json").stdout)
            return any(r["status"] == "RUNNING" and "mlcli.sweep.trials" in r["tags"] for r in runs)

        wait_until(parent_running, "the sweep to start")
        runs = json.loads(cli.run("runs", "list", "--json").stdout)
        parent = next(r for r in runs if "mlcli.sweep.trials" in r["tags"])
        cancelled = cli.run("runs", "cancel", parent["run_id"])
        assert cancelled.returncode == 0, cancelled.stderr
        assert follower.wait(timeout=300) != 0
    finally:
        if follower.poll() is None:
            follower.kill()
    trials = _children(cli, parent["run_id"])
    assert len(trials) == 3
    assert {t["status"] for t in trials} == {"KILLED"}
    assert cli.show(parent["run_id"])["status"] == "KILLED"


def test_ctrl_c_of_the_follower_cancels_the_array(cli: Cli, tmp_path: Path) -> None:
    flag = tmp_path / "never"
    follower = cli.start(
        "run", ".", "-e", "wait", "-P", f"flag=['{flag}','{flag}x','{flag}y']",
        "--parallel", "1", "--backend", "slurm", stderr=tmp_path / "follower.err",
    )  # fmt: skip
    try:
        wait_until(lambda: _running_sweep(cli) is not None, "the sweep to start")
        follower.send_signal(signal.SIGINT)
        assert follower.wait(timeout=300) == 130
    finally:
        if follower.poll() is None:
            follower.kill()
    runs = json.loads(cli.run("runs", "list", "--json").stdout)
    parent = next(r for r in runs if "mlcli.sweep.trials" in r["tags"])
    assert parent["status"] == "KILLED"
    trials = _children(cli, parent["run_id"])
    assert {t["status"] for t in trials} == {"KILLED"}
    assert {t["tags"]["mlcli.slurm.state"] for t in trials} == {"CANCELLED"}


def _running_sweep(cli: Cli) -> str | None:
    """The parent of a sweep whose first trial runs, once one does."""
    runs = json.loads(cli.run("runs", "list", "--json").stdout)
    running = {r["tags"].get("mlcli.parentRunId") for r in runs if r["status"] == "RUNNING"}
    parents = [r["run_id"] for r in runs if "mlcli.sweep.trials" in r["tags"]]
    return next((p for p in parents if p in running), None)


def test_an_optuna_sweep_submits_one_job_per_trial(cli: Cli, tmp_path: Path) -> None:
    pytest.importorskip("optuna")
    calls = _sbatch_calls(cli, tmp_path)
    done = cli.run(
        "run", ".", "-P", "alpha=uniform(0,1)", "--sweep", "optuna", "--trials", "4",
        "--parallel", "2", "--seed", "3", "--objective", "metrics.score", "--direction", "maximize",
        "--backend", "slurm", "--json",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    submitted = [line for line in calls.read_text().splitlines() if "--test-only" not in line]
    assert len(submitted) == 4 and not any("--array" in line for line in submitted)
    trials = _children(cli, result["run_id"])
    assert len(trials) == 4 and {t["status"] for t in trials} == {"FINISHED"}
    best = max(trials, key=lambda t: t["metrics"]["score"])
    assert result["best_run_id"] == best["run_id"]
    assert cli.show(result["run_id"])["status"] == "FINISHED"


def test_a_detached_grid_is_ended_by_its_own_job(cli: Cli) -> None:
    done = cli.run(
        "run", ".", "-P", "alpha=[0.1,0.2,0.3]", "--parallel", "2", "--objective",
        "metrics.score", "--direction", "maximize", "--backend", "slurm", "--detach", "--json",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    shown = json.loads(done.stdout)
    assert shown["status"] == "SCHEDULED" and len(shown["trials"]) == 3
    parent = shown["run_id"]
    wait_until(lambda: cli.show(parent)["status"] == "FINISHED", "the sweep's end job")
    ended = cli.show(parent)
    assert ended["tags"]["mlcli.sweep.bestTrial"] == "3"
    assert ended["metrics"]["trials_finished"] == 3
    assert {t["status"] for t in _children(cli, parent)} == {"FINISHED"}


def test_optuna_without_its_coordinator_is_one_line(cli: Cli) -> None:
    done = cli.run(
        "run", ".", "-P", "alpha=uniform(0,1)", "--sweep", "optuna", "--trials", "2",
        "--objective", "metrics.score", "--backend", "slurm", "--detach",
    )  # fmt: skip
    assert done.returncode != 0
    assert "needs a coordinator" in done.stderr and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert cli.run_ids() == []


def test_a_grid_against_a_team_server(cli: Cli, tmp_path: Path) -> None:
    """A server chooses its runs' ids: the trial runs are created before the array."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tracking_server"))
    from trackingserver import start_tracking_server

    server = start_tracking_server(tmp_path / "served" / ".mlruns", tmp_path / "server.log")
    try:
        cli.env = {**cli.env, "MLCLI_STORE": server.url}
        done = cli.run(
            "run", ".", "-P", "alpha=[0.1,0.4]", "--parallel", "2", "--objective",
            "metrics.score", "--direction", "maximize", "--backend", "slurm", "--json",
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        result = json.loads(done.stdout)
        assert result["status"] == "FINISHED" and result["best_trial"] == 2
        trials = _children(cli, result["run_id"])
        assert len(trials) == 2 and {t["status"] for t in trials} == {"FINISHED"}
    finally:
        server.stop()
