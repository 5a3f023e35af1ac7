"""A run whose owning process is gone is ended FAILED by the next reader: real
processes, SIGKILL, real run files, and the real command line in subprocesses."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from mlcli.store import RunStatus
from mlcli.tracking import TrackingClient

pytestmark = pytest.mark.skipif(
    not Path("/proc/self/stat").exists(), reason="owners are identified through /proc"
)

REASON = "exited without ending the run"


def mlcli(store_root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mlcli", *args],
        env={**os.environ, "MLCLI_STORE": str(store_root)},
        capture_output=True,
        text=True,
        timeout=120,
    )


def listed(store_root: Path) -> dict[str, dict[str, Any]]:
    result = mlcli(store_root, "runs", "list", "--json")
    assert result.returncode == 0, result.stderr
    return {run["run_id"]: run for run in json.loads(result.stdout)}


def start_owner(store_root: Path) -> tuple[subprocess.Popen[str], str]:
    """A Python process that starts a run, logs a point and sleeps; and the run's id."""
    script = """
        import time, mlcli
        run = mlcli.start_run(run_name="owned")
        mlcli.log_metric("loss", 0.5)
        mlcli.flush()
        print(run.run_id, flush=True)
        time.sleep(600)
    """
    process = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(script)],
        env={**os.environ, "MLCLI_STORE": str(store_root)},
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    return process, process.stdout.readline().strip()


@pytest.fixture
def owners():
    started: list[subprocess.Popen[str]] = []
    yield started
    for process in started:
        process.kill()
        process.communicate()


def test_a_sigkilled_start_run_process_leaves_a_failed_run_for_the_next_reader(
    store_root: Path, owners: list[subprocess.Popen[str]]
) -> None:
    process, run_id = start_owner(store_root)
    owners.append(process)
    assert listed(store_root)[run_id]["status"] == RunStatus.RUNNING  # its owner is alive
    process.send_signal(signal.SIGKILL)  # not reaped yet: a zombie is gone too
    run = listed(store_root)[run_id]
    assert run["status"] == RunStatus.FAILED
    assert run["tags"]["mlcli.endReason"] == (
        f"owner process {process.pid} on host {socket.gethostname()} {REASON}"
    )
    assert run["start_time"] <= run["end_time"]
    assert run["metrics"] == {"loss": 0.5}


def test_a_long_running_reader_ends_a_run_whose_owner_dies_between_its_queries(
    store_root: Path, owners: list[subprocess.Popen[str]]
) -> None:
    """A server (one process, one index) remembers each live run's owner between
    queries instead of reading every document again, and still sees the owner die."""
    client = TrackingClient(store_root)
    process, run_id = start_owner(store_root)
    owners.append(process)
    ownerless = client.create_run(run_name="from a server")  # an owner this host cannot see
    for _ in range(2):
        found = {r.run_id: r.info.status for r in client.search_runs()}
        assert found[run_id] == RunStatus.RUNNING
    process.send_signal(signal.SIGKILL)
    process.wait()  # the kill is delivered (the signal alone may not have landed yet)
    found = {r.run_id: r.info.status for r in client.search_runs()}
    assert found[run_id] == RunStatus.FAILED
    assert found[ownerless.run_id] == RunStatus.RUNNING


def test_readers_racing_end_the_run_once(
    store_root: Path, owners: list[subprocess.Popen[str]]
) -> None:
    process, run_id = start_owner(store_root)
    owners.append(process)
    process.kill()
    process.wait()
    env = {**os.environ, "MLCLI_STORE": str(store_root)}
    readers = [
        subprocess.Popen(
            [sys.executable, "-m", "mlcli", "runs", "show", run_id, "--json"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    for reader in readers:
        stdout, stderr = reader.communicate(timeout=120)
        assert reader.returncode == 0, stderr
        assert json.loads(stdout)["status"] == RunStatus.FAILED
    tag_lines = (store_root / "runs" / run_id / "tags.jsonl").read_text().splitlines()
    assert sum('"mlcli.endReason"' in line for line in tag_lines) == 1


def test_a_run_from_runs_create_has_no_owner_and_stays_running(store_root: Path) -> None:
    created = mlcli(store_root, "runs", "create", "-q")
    assert created.returncode == 0, created.stderr
    run_id = created.stdout.strip()
    assert "owner" not in json.loads((store_root / "runs" / run_id / "run.json").read_text())
    assert listed(store_root)[run_id]["status"] == RunStatus.RUNNING
    ended = mlcli(store_root, "runs", "end", run_id)
    assert ended.returncode == 0, ended.stderr
    assert listed(store_root)[run_id]["status"] == RunStatus.FINISHED


def _owned_run(store_root: Path, **owner: Any) -> str:
    """A RUNNING run whose run.json names an owner like this process, but changed."""
    run_id = TrackingClient(store_root).create_run().run_id
    path = store_root / "runs" / run_id / "run.json"
    doc = json.loads(path.read_text())
    me = Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()
    doc["owner"] = {
        "host": socket.gethostname(),
        "boot": Path("/proc/sys/kernel/random/boot_id").read_text().strip(),
        "pid_namespace": os.readlink("/proc/self/ns/pid"),
        "pid": os.getpid(),
        "started": me[19],
        **owner,
    }
    path.write_text(json.dumps(doc))
    return run_id


@pytest.mark.parametrize(
    ("owner", "status"),
    [
        ({}, RunStatus.RUNNING),  # this very process: alive
        ({"started": "1"}, RunStatus.FAILED),  # its pid, reused by another process
        ({"boot": "another-boot"}, RunStatus.FAILED),  # the host rebooted since
        ({"host": "elsewhere"}, RunStatus.RUNNING),  # cannot be judged from here
        ({"pid_namespace": "pid:[1]"}, RunStatus.RUNNING),  # another container
    ],
)
def test_a_recorded_owner_is_judged_by_host_boot_pid_and_start_time(
    store_root: Path, owner: dict[str, str], status: str
) -> None:
    run_id = _owned_run(store_root, **owner)
    run = listed(store_root)[run_id]
    assert run["status"] == status
    assert ("mlcli.endReason" in run["tags"]) == (status == RunStatus.FAILED)


def test_resuming_a_run_makes_the_resuming_process_its_owner(
    store_root: Path, owners: list[subprocess.Popen[str]]
) -> None:
    process, run_id = start_owner(store_root)
    owners.append(process)
    process.kill()
    process.wait()
    assert listed(store_root)[run_id]["status"] == RunStatus.FAILED
    script = f"""
        import os, mlcli
        mlcli.start_run(run_id="{run_id}")
        print(os.getpid(), flush=True)
        os.kill(os.getpid(), 9)
    """
    resumer = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script)],
        env={**os.environ, "MLCLI_STORE": str(store_root)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert resumer.returncode == -signal.SIGKILL, resumer.stderr
    doc = json.loads((store_root / "runs" / run_id / "run.json").read_text())
    assert doc["status"] == RunStatus.RUNNING and doc["owner"]["pid"] == int(resumer.stdout)
    run = listed(store_root)[run_id]
    assert run["status"] == RunStatus.FAILED
    assert run["tags"]["mlcli.endReason"].startswith(f"owner process {resumer.stdout.strip()} ")
