"""Sweeps that go wrong: a failing trial, --fail-fast, and Ctrl-C in the middle of a
parallel sweep (real ``mlcli run`` processes, real signals)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sweephelpers import processes_under, store_runs, sweep_runs

from mlcli.store import RunStatus
from mlcli.tracking import TrackingClient

LOCAL = ("--env-manager", "local")


@pytest.mark.slow
def test_a_failing_trial_fails_the_sweep_and_the_others_still_run(
    cli, store_root: Path, trials_project: Path
) -> None:
    result = cli(
        "run",
        str(trials_project),
        *LOCAL,
        "-P",
        "x=[1,2,3,4]",
        "--parallel",
        "2",
        "--objective",
        "score",
        "--json",
    )
    assert result.exit_code == 1, result.stderr
    parent, children = sweep_runs(store_root)
    assert parent.info.status == RunStatus.FAILED
    statuses = [r.info.status for r in children]
    assert statuses == [
        RunStatus.FINISHED,
        RunStatus.FAILED,
        RunStatus.FINISHED,
        RunStatus.FINISHED,
    ]
    assert children[1].data.tags["mlcli.project.exitCode"] == "3"
    # The best is chosen among the finished trials only (the failed one scored 2).
    assert parent.data.tags["best_run_id"] == children[3].run_id
    assert parent.data.metrics["best_score"] == 4.0
    report = result.json()
    assert report["status"] == "FAILED" and report["exit_code"] == 1
    assert [t["status"] for t in report["trials"]] == statuses
    assert [t["exit_code"] for t in report["trials"]] == [0, 3, 0, 0]
    assert "[2] note: none" in result.stderr  # each trial's output, prefixed with its number
    assert "Trial 2/4 FAILED" in result.stderr


@pytest.mark.slow
def test_fail_fast_stops_the_sweep_at_the_first_failure(
    cli, store_root: Path, trials_project: Path
) -> None:
    result = cli(
        "run", str(trials_project), *LOCAL, "-P", "x=[1,2,3,4,5,6]", "--fail-fast", "--json"
    )
    assert result.exit_code == 1, result.stderr
    parent, children = sweep_runs(store_root)
    assert parent.info.status == RunStatus.FAILED
    assert [r.info.status for r in children] == [RunStatus.FINISHED, RunStatus.FAILED]
    assert [t["trial"] for t in result.json()["trials"]] == [1, 2]
    assert "4 not started" in result.stderr


@pytest.mark.slow
def test_fail_fast_stops_the_running_trials(cli, store_root: Path, trials_project: Path) -> None:
    result = cli(
        "run",
        str(trials_project),
        *LOCAL,
        "-P",
        "x=[10,2,11]",
        "--parallel",
        "2",
        "--fail-fast",
        "--json",
    )
    assert result.exit_code == 1, result.stderr
    parent, children = sweep_runs(store_root)
    assert parent.info.status == RunStatus.FAILED
    assert [r.info.status for r in children] == [RunStatus.KILLED, RunStatus.FAILED]
    assert [t["status"] for t in result.json()["trials"]] == ["KILLED", "FAILED"]


def _wait_for(paths: list[Path], timeout: float = 60) -> list[tuple[int, int]]:
    deadline = time.monotonic() + timeout
    while not all(path.exists() for path in paths):
        assert time.monotonic() < deadline, f"{[p.name for p in paths if not p.exists()]} missing"
        time.sleep(0.05)
    return [tuple(map(int, path.read_text().split())) for path in paths]  # type: ignore[misc]


def _gone(pids: list[int], timeout: float = 15) -> list[int]:
    """The pids still alive after ``timeout``."""
    deadline = time.monotonic() + timeout
    alive = list(pids)
    while alive and time.monotonic() < deadline:
        alive = [pid for pid in alive if _alive(pid)]
        time.sleep(0.05)
    return alive


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return not stat.exists() or stat.read_text().rsplit(")", 1)[1].split()[0] != "Z"


def _sleep_sweep(
    store_root: Path,
    workdir: Path,
    project: Path,
    values: str,
    *options: str,
    output: int = subprocess.PIPE,
) -> subprocess.Popen[bytes]:
    """``mlcli run PROJECT -e sleep -P VALUES OPTIONS`` started as a user's shell would,
    its output piped (``output=subprocess.PIPE``, the default) or dropped."""
    return subprocess.Popen(
        [sys.executable, "-m", "mlcli", "run", str(project), "-e", "sleep", *LOCAL,
         "-P", values, *options],
        cwd=workdir,
        env={**os.environ, "MLCLI_STORE": str(store_root)},
        stdout=output,
        stderr=output,
    )  # fmt: skip


@pytest.mark.slow
@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_stops_a_parallel_sweep_and_every_trial(
    tmp_path: Path, store_root: Path, workdir: Path, trials_project: Path, signum: int, code: int
) -> None:
    sweep = _sleep_sweep(
        store_root, workdir, trials_project, "x=[1,2,3,4,5]", "--parallel", "3", "--json"
    )
    try:
        started = _wait_for([trials_project / f"pids-{x}" for x in (1, 2, 3)])
        sweep.send_signal(signum)
        stdout, stderr = sweep.communicate(timeout=60)
    finally:
        if sweep.poll() is None:
            sweep.kill()
    assert sweep.returncode == code, stderr.decode()
    entry_points = [pid for pair in started for pid in pair]
    assert not _gone(entry_points), "an entry point (or its child) outlived the sweep"
    assert not processes_under(tmp_path), "a trial process outlived the sweep"
    parent, children = sweep_runs(store_root)
    assert parent.info.status == RunStatus.KILLED and parent.info.end_time is not None
    assert len(children) == 3, "a trial started after the signal"
    assert [r.info.status for r in children] == [RunStatus.KILLED] * 3
    assert all(r.info.end_time is not None for r in children)
    report = json.loads(stdout)
    assert report["status"] == "KILLED" and report["exit_code"] == code
    assert [t["status"] for t in report["trials"]] == ["KILLED"] * 3
    assert not (trials_project / "pids-4").exists()


@pytest.mark.slow
def test_a_trial_killed_outright_still_ends_its_run(
    tmp_path: Path, store_root: Path, workdir: Path, trials_project: Path
) -> None:
    """SIGKILL to a trial's ``mlcli run`` leaves its run RUNNING, owned by a process
    that is gone: the sweep's next read ends it FAILED, with the reason."""
    sweep = _sleep_sweep(store_root, workdir, trials_project, "x=[1]", "-q")
    try:
        ((entry, grandchild),) = _wait_for([trials_project / "pids-1"])
        trial = int(Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[1])
        trial_mlcli = _mlcli_run_ancestor(trial)
        os.kill(trial_mlcli, signal.SIGKILL)
        os.killpg(os.getpgid(entry), signal.SIGKILL)  # what the trial would have stopped
        _, stderr = sweep.communicate(timeout=60)
    finally:
        if sweep.poll() is None:
            sweep.kill()
    assert sweep.returncode == 1, stderr.decode()
    parent, (child,) = sweep_runs(store_root)
    assert parent.info.status == RunStatus.FAILED
    assert child.info.status == RunStatus.FAILED
    assert child.data.tags["mlcli.endReason"] == (
        f"owner process {trial_mlcli} on host {socket.gethostname()} exited without ending the run"
    )
    assert not _gone([entry, grandchild])


@pytest.mark.slow
def test_a_sweep_killed_outright_takes_its_trials_along(
    tmp_path: Path, store_root: Path, workdir: Path, trials_project: Path
) -> None:
    """SIGKILL to the sweep: each trial's watchdog stops the trial's ``mlcli run`` as a
    signal would (its run ends KILLED), and the parent, whose owner is gone, is ended
    FAILED by the next reader."""
    sweep = _sleep_sweep(
        store_root,
        workdir,
        trials_project,
        "x=[1,2,3]",
        "--parallel",
        "2",
        output=subprocess.DEVNULL,
    )
    try:
        started = _wait_for([trials_project / f"pids-{x}" for x in (1, 2)])
    finally:
        sweep.kill()
        sweep.wait()
    entry_points = [pid for pair in started for pid in pair]
    # (they would sleep 60 s; the watchdogs stop them at once)
    assert not _gone(entry_points, timeout=45), "an entry point outlived the sweep"
    deadline = time.monotonic() + 60
    while processes_under(tmp_path) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not processes_under(tmp_path), "a trial process outlived the sweep"
    parent, children = sweep_runs(store_root)
    assert parent.info.status == RunStatus.FAILED
    assert parent.data.tags["mlcli.endReason"].startswith(f"owner process {sweep.pid} ")
    assert [r.info.status for r in children] == [RunStatus.KILLED] * 2
    assert not (trials_project / "pids-3").exists()


def _mlcli_run_ancestor(pid: int) -> int:
    """The nearest process above ``pid`` (or ``pid``) running ``mlcli run``."""
    while pid > 1:
        command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
        if b"-m mlcli run" in command:
            return pid
        pid = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    raise AssertionError("no mlcli run above the entry point")


def test_nothing_is_created_when_every_value_is_checked_first(
    cli, workdir: Path, trials_project: Path
) -> None:
    result = cli("run", str(trials_project), *LOCAL, "-P", "x=[1,2,two]")
    assert result.exit_code == 2
    assert "invalid value 'two' for int parameter 'x'" in result.stderr
    assert store_runs(workdir / ".mlruns") == []


def test_compare_parent_of_a_run_without_trials(cli, store_root: Path) -> None:
    parent = TrackingClient(store_root).create_run(run_name="lonely").run_id
    result = cli("compare", "--parent", parent, "--json")
    assert result.exit_code == 0 and result.json() == []
    both = cli("compare", parent, "--parent", parent)
    assert both.exit_code == 2 and "--parent cannot be combined" in both.stderr
