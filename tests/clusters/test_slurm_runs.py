"""``mlcli run --backend slurm`` on a real single-node Slurm (the ``slurm`` fixture):
one run as one job, followed or detached, cancelled, timed out, its node killed; a
real local store on the same filesystem; ``mlcli`` in subprocesses, as a user runs it.

The entry points wait for a flag file instead of sleeping, so that "still running"
is a fact of the test, not of timing; waits on Slurm poll with generous limits.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

MLPROJECT = """
name: tiny
entry_points:
  main:
    parameters:
      alpha: {type: float, default: 0.5}
    command: "python train.py --alpha {alpha}"
  fail:
    command: "python -c 'import sys; print(\\"bye\\"); sys.exit(3)'"
  wait:
    parameters:
      flag: string
    command: "python wait.py {flag}"
  hog:
    command: "python hog.py"
"""
TRAIN = """
import sys
import mlcli
alpha = float(sys.argv[2])
mlcli.log_metric("score", alpha * 2)
print("trained with", alpha)
"""
WAIT = """
import sys, time
from pathlib import Path
print("waiting", flush=True)
flag = Path(sys.argv[1])
while not flag.exists():
    time.sleep(0.2)
print("done", flush=True)
"""
HOG = """
import time
hoard = []
for _ in range(40):
    hoard.append(bytearray(25 * 1024 * 1024))  # 1 GB in all, touched
    time.sleep(0.1)
time.sleep(600)
"""
WAIT_LIMIT = 180.0  # seconds a poll waits for Slurm (a node failure takes SlurmdTimeout)


class Cli:
    """``mlcli`` in a subprocess, with the store, the project and the cluster's env."""

    def __init__(self, project: Path, store: Path, env: dict[str, str]) -> None:
        self.project = project
        self.store = store
        self.env = env

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "mlcli", *args],
            cwd=self.project,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )

    def start(self, *args: str, stderr: Path) -> subprocess.Popen[str]:
        with open(stderr, "w") as handle:
            return subprocess.Popen(
                [sys.executable, "-m", "mlcli", *args],
                cwd=self.project,
                env=self.env,
                stdout=subprocess.DEVNULL,
                stderr=handle,
                text=True,
            )

    def show(self, run_id: str) -> dict[str, Any]:
        done = self.run("runs", "show", run_id, "--json")
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    def listed_status(self, run_id: str) -> str:
        """The run's status as a plain ``mlcli runs list`` shows it."""
        done = self.run("runs", "list", "--json")
        assert done.returncode == 0, done.stderr
        return next(run["status"] for run in json.loads(done.stdout) if run["run_id"] == run_id)

    def run_ids(self) -> list[str]:
        done = self.run("runs", "list", "-q")
        return done.stdout.split()


def wait_until(check: Callable[[], bool], what: str, limit: float = WAIT_LIMIT) -> None:
    deadline = time.monotonic() + limit
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.5)


@pytest.fixture
def cli(tmp_path: Path, slurm: Any) -> Cli:
    project = tmp_path / "proj"
    project.mkdir()
    files = (("MLproject", MLPROJECT), ("train.py", TRAIN), ("wait.py", WAIT), ("hog.py", HOG))
    for name, text in files:
        (project / name).write_text(textwrap.dedent(text).lstrip())
    store = tmp_path / "store"
    env = {**os.environ, **slurm.env, "MLCLI_STORE": str(store), "MLCLI_KILL_GRACE": "5"}
    cli = Cli(project, store, env)
    assert cli.run("init", str(store)).returncode == 0
    return cli


def _detach_waiting(cli: Cli, flag: Path, *config: str) -> str:
    done = cli.run(
        "run", ".", "-e", "wait", "-P", f"flag={flag}", "--backend", "slurm", "--detach", "-q",
        *config,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def _tags(run: dict[str, Any]) -> dict[str, str]:
    return run["tags"]


def test_a_job_that_logs_a_metric_ends_finished_with_the_metric(cli: Cli) -> None:
    done = cli.run("run", ".", "-P", "alpha=0.7", "--backend", "slurm")
    assert done.returncode == 0, done.stderr
    run_id = done.stdout.split()[-1]
    assert "trained with 0.7" in done.stdout  # the job's output, streamed
    assert "submitted as Slurm job" in done.stderr
    run = cli.show(run_id)
    tags = _tags(run)
    assert run["status"] == "FINISHED"
    assert run["metrics"]["score"] == pytest.approx(1.4)
    assert run["params"] == {"alpha": "0.7"}
    assert tags["mlcli.backend"] == "slurm"
    assert tags["mlcli.slurm.state"] == "COMPLETED"
    assert tags["mlcli.project.exitCode"] == "0"
    script = (cli.store / "runs" / run_id / "artifacts" / "slurm" / "job.sh").read_text()
    assert f"--run-id {run_id}" in script and "#SBATCH --signal=B:TERM@60" in script
    assert "#SBATCH --no-requeue" in script
    assert f"#SBATCH --job-name={run['run_name']}" in script
    logs = cli.store / "runs" / run_id / "artifacts" / "logs" / "stdout.txt"
    assert "trained with 0.7" in logs.read_text()


def test_detach_returns_at_once_and_the_run_ends_finished(cli: Cli, tmp_path: Path) -> None:
    flag = tmp_path / "go"
    run_id = _detach_waiting(cli, flag)
    run = cli.show(run_id)
    assert run["status"] in ("SCHEDULED", "RUNNING")  # the job cannot end before the flag
    job_id = _tags(run)["mlcli.slurm.jobId"]
    assert job_id.isdigit()
    flag.touch()
    wait_until(lambda: cli.listed_status(run_id) == "FINISHED", "the run to finish")
    assert _tags(cli.show(run_id))["mlcli.host"]


def test_a_failing_entry_point_ends_failed_with_its_exit_code(cli: Cli) -> None:
    done = cli.run("run", ".", "-e", "fail", "--backend", "slurm", "--json")
    assert done.returncode == 3, done.stderr
    result = json.loads(done.stdout)
    assert result["status"] == "FAILED" and result["exit_code"] == 3
    run = cli.show(result["run_id"])
    assert run["status"] == "FAILED"
    assert _tags(run)["mlcli.project.exitCode"] == "3"
    assert "bye" in done.stderr  # with --json the job's output goes to stderr


def test_scancel_of_a_running_job_ends_the_run_killed(cli: Cli, tmp_path: Path) -> None:
    run_id = _detach_waiting(cli, tmp_path / "never")
    wait_until(lambda: cli.listed_status(run_id) == "RUNNING", "the job to start")
    job_id = _tags(cli.show(run_id))["mlcli.slurm.jobId"]
    subprocess.run(["scancel", job_id], env=cli.env, check=True)
    wait_until(lambda: cli.listed_status(run_id) == "KILLED", "a reader to end the run")
    tags = _tags(cli.show(run_id))
    assert tags["mlcli.slurm.state"] == "CANCELLED"
    assert tags["mlcli.project.failureReason"] == f"Slurm job {job_id} was cancelled"


def test_runs_cancel_of_a_pending_job_ends_the_run_killed(cli: Cli, tmp_path: Path) -> None:
    """Cancelled before Python ever started on a node: the run was SCHEDULED."""
    run_id = _detach_waiting(cli, tmp_path / "never", "-c", "sbatch_args=--begin=now+1hour")
    assert cli.show(run_id)["status"] == "SCHEDULED"
    done = cli.run("runs", "cancel", run_id[:8], "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["status"] == "KILLED"
    run = cli.show(run_id)
    assert run["status"] == "KILLED" and _tags(run)["mlcli.slurm.state"] == "CANCELLED"


def test_runs_cancel_of_a_running_job_ends_the_run_killed(cli: Cli, tmp_path: Path) -> None:
    run_id = _detach_waiting(cli, tmp_path / "never")
    wait_until(lambda: cli.listed_status(run_id) == "RUNNING", "the job to start")
    done = cli.run("runs", "cancel", run_id)
    assert done.returncode == 0, done.stderr
    assert "ended KILLED" in done.stderr
    run = cli.show(run_id)
    assert run["status"] == "KILLED"
    assert _tags(run)["mlcli.project.exitCode"] == "143"  # the entry point got SIGTERM


def test_ctrl_c_while_following_cancels_the_job(cli: Cli, tmp_path: Path) -> None:
    log = tmp_path / "stderr.txt"
    args = ("run", ".", "-e", "wait", "-P", f"flag={tmp_path}/never", "-b", "slurm")
    follower = cli.start(*args, stderr=log)
    try:
        wait_until(lambda: len(cli.run_ids()) == 1, "the run to exist")
        run_id = cli.run_ids()[0]
        wait_until(lambda: cli.listed_status(run_id) == "RUNNING", "the job to start")
        wait_until(lambda: ": RUNNING" in log.read_text(), "the follower to see it run")
        follower.send_signal(signal.SIGINT)
        follower.wait(timeout=WAIT_LIMIT)
    finally:
        follower.kill()
    assert follower.returncode != 0
    assert "Cancelling Slurm job" in log.read_text()
    run = cli.show(run_id)
    assert run["status"] == "KILLED" and _tags(run)["mlcli.slurm.state"] == "CANCELLED"


@pytest.mark.slow
def test_a_job_past_its_time_limit_ends_failed_with_timeout(cli: Cli, tmp_path: Path) -> None:
    done = cli.run(
        "run", ".", "-e", "wait", "-P", f"flag={tmp_path}/never", "-b", "slurm", "--json",
        "-c", "time=1", "-c", "signal=none",
    )  # fmt: skip
    result = json.loads(done.stdout)
    assert result["status"] == "FAILED" and result["slurm_state"] == "TIMEOUT"
    assert done.returncode == 143  # the entry point was stopped with SIGTERM
    tags = _tags(cli.show(result["run_id"]))
    assert tags["mlcli.slurm.state"] == "TIMEOUT"
    assert "reached its time limit" in tags["mlcli.project.failureReason"]


@pytest.mark.slow
def test_the_warning_before_the_time_limit_ends_the_run_killed(cli: Cli, tmp_path: Path) -> None:
    """The default --signal=B:TERM@60 with a one-minute limit: the warning comes while
    the job still runs, and mlcli ends the run KILLED itself, before the limit."""
    done = cli.run(
        "run", ".", "-e", "wait", "-P", f"flag={tmp_path}/never", "-b", "slurm", "--json",
        "-c", "time=1",
    )  # fmt: skip
    result = json.loads(done.stdout)
    assert result["status"] == "KILLED" and result["slurm_state"] != "TIMEOUT"
    assert done.returncode == 143
    tags = _tags(cli.show(result["run_id"]))
    assert tags["mlcli.project.exitCode"] == "143"
    assert "mlcli.project.failureReason" not in tags


@pytest.mark.slow
def test_a_killed_node_ends_the_run_failed_for_a_plain_reader(
    cli: Cli, tmp_path: Path, slurm: Any
) -> None:
    run_id = _detach_waiting(cli, tmp_path / "never")
    wait_until(lambda: cli.listed_status(run_id) == "RUNNING", "the job to start")
    slurm.kill_node()
    try:
        wait_until(lambda: cli.listed_status(run_id) == "FAILED", "a reader to end the run")
    finally:
        slurm.restart_node()
    tags = _tags(cli.show(run_id))
    assert tags["mlcli.slurm.state"] == "NODE_FAIL"
    assert "lost its node" in tags["mlcli.project.failureReason"]


def test_a_job_killed_for_its_memory_ends_the_run_failed(cli: Cli) -> None:
    """Over --mem, Slurm kills every process of the job, mlcli's too (the test cluster
    has no cgroups: the job ends FAILED, not OUT_OF_MEMORY); the run ends from that."""
    done = cli.run("run", ".", "-e", "hog", "-b", "slurm", "--json", "-c", "mem=200M")
    result = json.loads(done.stdout)
    assert result["status"] == "FAILED" and done.returncode != 0
    tags = _tags(cli.show(result["run_id"]))
    assert tags["mlcli.slurm.state"] in ("FAILED", "OUT_OF_MEMORY")
    assert tags["mlcli.project.failureReason"].startswith(f"Slurm job {result['job_id']} ")


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (["-c", "cpus-per-task=many"], "cpus_per_task must be a positive integer"),
        (["-c", "colour=blue"], "unknown Slurm config key 'colour'"),
        (["-c", "time=soon"], "time must be Slurm's"),
        (["-c", "missing.yaml"], "neither KEY=VALUE nor an existing YAML file"),
        (["-c", "partition=nosuchpartition"], "sbatch failed"),
    ],
)
def test_bad_config_is_one_line_and_no_run_is_created(
    cli: Cli, config: list[str], message: str
) -> None:
    done = cli.run("run", ".", "--backend", "slurm", *config)
    assert done.returncode in (1, 2)
    assert message in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert cli.run_ids() == []


def test_a_yaml_config_file_reaches_the_job_script(cli: Cli) -> None:
    (cli.project / "slurm.yaml").write_text(
        "time: '10:00'\ncpus-per-task: 1\nsignal: B:USR1@30\nsbatch_args: [--comment=mlcli]\n"
    )
    done = cli.run("run", ".", "-b", "slurm", "-c", "slurm.yaml", "-c", "sbatch_args=--nice=5")
    assert done.returncode == 0, done.stderr
    run_id = done.stdout.split()[-1]
    script = (cli.store / "runs" / run_id / "artifacts" / "slurm" / "job.sh").read_text()
    for line in ("--time=10:00", "--cpus-per-task=1", "--signal=B:USR1@30", "--comment=mlcli"):
        assert f"#SBATCH {line}\n" in script
    assert "#SBATCH --nice=5\n" in script


def test_without_sbatch_submission_is_one_line_and_no_run(cli: Cli) -> None:
    cli.env = {**cli.env, "PATH": str(Path(sys.executable).parent)}
    done = cli.run("run", ".", "--backend", "slurm")
    assert done.returncode == 1
    assert done.stderr.strip() == (
        "mlcli: error: sbatch not found: install Slurm's client tools or add them to PATH"
    )
    assert cli.run_ids() == []
