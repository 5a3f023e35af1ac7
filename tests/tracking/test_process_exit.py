"""What happens to runs and buffered metrics when a Python process ends, in real processes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from mlcli.tracking import TrackingClient


@pytest.fixture
def python(store_root: Path):
    """Start ``python -c script`` on the store; every process is reaped at the end."""
    started: list[subprocess.Popen[str]] = []

    def start(script: str) -> subprocess.Popen[str]:
        process = subprocess.Popen(
            [sys.executable, "-c", textwrap.dedent(script)],
            env={**os.environ, "MLCLI_STORE": str(store_root)},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            process.kill()
        process.communicate()


def _only_run(store_root: Path):
    [run] = TrackingClient(store_root).search_runs()
    return run


def test_a_run_left_open_ends_finished_at_exit_with_every_point(store_root: Path, python) -> None:
    process = python(
        """
        import mlcli
        mlcli.start_run()
        for i in range(25_000):
            mlcli.log_metric("loss", 1 / (i + 1), step=i)
        """
    )
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 0, stderr
    run = _only_run(store_root)
    assert run.info.status == "FINISHED"
    assert len(TrackingClient(store_root).get_metric_history(run.run_id, "loss")) == 25_000


def test_an_uncaught_exception_ends_the_run_failed_and_keeps_buffered_points(
    store_root: Path, python
) -> None:
    process = python(
        """
        import mlcli
        mlcli.log_metric("before", 1.0)  # starts a run implicitly
        for i in range(500):
            mlcli.log_metric("loss", i, step=i)
        raise RuntimeError("training diverged")
        """
    )
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 1 and "training diverged" in stderr
    run = _only_run(store_root)
    assert run.info.status == "FAILED"
    assert run.data.metrics == {"before": 1.0, "loss": 499.0}


def test_sigterm_ends_the_run_killed(store_root: Path, python) -> None:
    process = python(
        """
        import sys, time, mlcli
        with mlcli.start_run():
            mlcli.log_metric("m", 1.0)
            print("ready", flush=True)
            time.sleep(60)
        """
    )
    assert process.stdout.readline().strip() == "ready"
    process.send_signal(signal.SIGTERM)
    assert process.wait(30) == -signal.SIGTERM
    run = _only_run(store_root)
    assert run.info.status == "KILLED" and run.data.metrics == {"m": 1.0}


def test_buffered_points_reach_the_store_within_about_a_second(store_root: Path, python) -> None:
    process = python(
        """
        import time, mlcli
        with mlcli.start_run():
            mlcli.log_metric("early", 42.0)
            print("logged", flush=True)
            time.sleep(60)
        """
    )
    assert process.stdout.readline().strip() == "logged"
    deadline = time.monotonic() + 5
    seen = {}
    while time.monotonic() < deadline and not seen:
        runs = TrackingClient(store_root).search_runs()
        seen = runs[0].data.metrics if runs else {}
        time.sleep(0.1)
    assert seen == {"early": 42.0}


def test_a_forked_child_does_not_write_the_parents_points_twice(store_root: Path, python) -> None:
    process = python(
        """
        import os, mlcli
        with mlcli.start_run():
            mlcli.log_metric("m", 1.0, step=0)
            pid = os.fork()
            if pid == 0:
                mlcli.flush()
                os._exit(0)
            os.waitpid(pid, 0)
        """
    )
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 0, stderr
    run = _only_run(store_root)
    assert len(TrackingClient(store_root).get_metric_history(run.run_id, "m")) == 1


@pytest.mark.parametrize("attached_exit", [0, 3])
def test_a_child_attached_through_mlcli_run_id_leaves_the_status_to_the_owner(
    store_root: Path, attached_exit: int
) -> None:
    owner = TrackingClient(store_root).create_run()
    env_script = f"""
        import sys, mlcli
        with mlcli.start_run():
            mlcli.log_metric("m", 5.0)
        sys.exit({attached_exit})
        """
    process = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(env_script)],
        env={**os.environ, "MLCLI_STORE": str(store_root), "MLCLI_RUN_ID": owner.run_id},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert process.returncode == attached_exit
    run = TrackingClient(store_root).get_run(owner.run_id)
    assert run.info.status == "RUNNING" and run.data.metrics == {"m": 5.0}


def test_a_point_is_in_the_store_once_it_is_three_quarters_of_a_second_old(
    store_root: Path, python
) -> None:
    """The buffer's deadline, judged by the writer's own clock: whenever ``log_metric``
    returns, every point that had returned 0.75 s before the call began is in
    ``metrics.jsonl`` (read raw: a read through the API would flush first). A busy
    machine cannot break this (a late flusher thread is covered by the next call),
    and a flusher on a fixed one-second period fails it."""
    process = python(
        """
        import json, os, time, mlcli
        from pathlib import Path

        run = mlcli.start_run()
        log = Path(os.environ["MLCLI_STORE"]) / "runs" / run.run_id / "metrics.jsonl"

        def written():
            try:
                data = log.read_bytes()
            except FileNotFoundError:
                return set()
            return {json.loads(line)["step"] for line in data.split(b"\\n")[:-1]}

        returned, late, checks = [], [], 0
        started = time.monotonic()
        while time.monotonic() - started < 3.0 or checks < 40:
            before = time.monotonic()
            mlcli.log_metric("m", 1.0, step=len(returned))
            returned.append(time.monotonic())
            due = {step for step, at in enumerate(returned[:-1]) if at <= before - 0.76}
            if due:
                checks += 1
                late += sorted(due - written())
            time.sleep(0.02)
        mlcli.end_run()
        print(json.dumps({"late": late, "checks": checks, "points": len(returned)}))
        """
    )
    stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == 0, stderr
    report = json.loads(stdout)
    assert report["checks"] >= 40
    assert report["late"] == [], f"points not in the store 0.75 s after logging: {report}"
