"""Runs whose owner cannot be looked at from the reader (another pid namespace, another
host) are judged by their heartbeat: real processes in a real other pid namespace
(``unshare``), SIGKILL, real run files and the real command line."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mlcli.store import RunStatus
from mlcli.store.ownership import Owner
from mlcli.tracking import TrackingClient

pytestmark = pytest.mark.skipif(
    not Path("/proc/self/stat").exists(), reason="owners are identified through /proc"
)

FAST = {"MLCLI_HEARTBEAT_SECONDS": "1", "MLCLI_STALE_AFTER_SECONDS": "4"}
DEADLINE = 120.0  # generous: a loaded machine is slow, never wrong


def mlcli(store_root: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mlcli", *args],
        env={**os.environ, "MLCLI_STORE": str(store_root), **FAST, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def listed(store_root: Path) -> dict[str, dict[str, Any]]:
    result = mlcli(store_root, "runs", "list", "--json")
    assert result.returncode == 0, result.stderr
    return {run["run_id"]: run for run in json.loads(result.stdout)}


def run_doc(store_root: Path, run_id: str) -> dict[str, Any]:
    return json.loads((store_root / "runs" / run_id / "run.json").read_text())


def _can_unshare() -> bool:
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        return False
    probe = subprocess.run(
        ["unshare", "--pid", "--fork", "--mount-proc", "true"], capture_output=True, timeout=30
    )
    return probe.returncode == 0


@pytest.fixture
def contained(store_root: Path) -> Iterator[tuple[subprocess.Popen[str], int, str]]:
    """A Python process in another pid namespace that starts a run and sleeps:
    (``unshare``, which ends with it; its pid as this namespace sees it; the run's id)."""
    if not _can_unshare():
        pytest.skip("needs root and unshare --pid (a process in another pid namespace)")
    script = """
        import time, mlcli
        run = mlcli.start_run(run_name="contained")
        mlcli.log_metric("loss", 0.5)
        mlcli.flush()
        print(run.run_id, flush=True)
        time.sleep(600)
    """
    namespace = ["unshare", "--pid", "--fork", "--mount-proc", "--kill-child"]
    unshare = subprocess.Popen(
        [*namespace, sys.executable, "-c", textwrap.dedent(script)],
        env={**os.environ, "MLCLI_STORE": str(store_root), **FAST},
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert unshare.stdout is not None
        run_id = unshare.stdout.readline().strip()
        children = Path(f"/proc/{unshare.pid}/task/{unshare.pid}/children").read_text().split()
        yield unshare, int(children[0]), run_id
    finally:
        unshare.kill()
        unshare.communicate()


def test_a_sigkilled_owner_in_another_pid_namespace_is_ended_once_its_heartbeat_is_stale(
    store_root: Path, contained: tuple[subprocess.Popen[str], int, str]
) -> None:
    unshare, pid, run_id = contained
    owner = run_doc(store_root, run_id)["owner"]
    assert owner["pid_namespace"] != os.readlink("/proc/self/ns/pid")  # cannot be looked at

    # Alive: its heartbeat moves on and no reader ends it, over several periods.
    beats: set[int] = set()
    deadline = time.monotonic() + DEADLINE
    while len(beats) < 6:
        assert time.monotonic() < deadline, f"the heartbeat did not move: {beats}"
        assert listed(store_root)[run_id]["status"] == RunStatus.RUNNING
        beats.add(run_doc(store_root, run_id)["heartbeat"]["at"])

    os.kill(pid, signal.SIGKILL)
    unshare.wait(timeout=DEADLINE)  # it has reaped the owner: no beat comes after this
    last = run_doc(store_root, run_id)["heartbeat"]
    while time.time() * 1000 <= last["at"] + 4000:  # stale from here on
        time.sleep(0.2)

    run = listed(store_root)[run_id]  # one plain reader ends it at once
    assert run["status"] == RunStatus.FAILED
    stopped = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(last["at"] / 1000))
    assert run["tags"]["mlcli.endReason"] == (
        f"the heartbeat of owner process {owner['pid']} on host {owner['host']} "
        f"stopped at {stopped}"
    )
    assert last["at"] <= run["end_time"] < last["at"] + 4000
    assert run["metrics"] == {"loss": 0.5}


def _run_owned_elsewhere(store_root: Path) -> str:
    """A RUNNING run whose owner is a process on another host."""
    elsewhere = Owner("another-host", None, None, 4242, "1")
    return TrackingClient(store_root).create_run(owner=elsewhere).run_id


def _set_doc(store_root: Path, run_id: str, **changes: Any) -> None:
    path = store_root / "runs" / run_id / "run.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), **changes}))


def test_an_owner_on_another_host_is_judged_by_its_heartbeat(store_root: Path) -> None:
    fresh = _run_owned_elsewhere(store_root)
    stale = _run_owned_elsewhere(store_root)
    at = int(time.time() * 1000) - 3_600_000
    _set_doc(store_root, stale, heartbeat={"at": at, "every": 60})
    runs = listed(store_root)
    assert runs[fresh]["status"] == RunStatus.RUNNING
    assert runs[stale]["status"] == RunStatus.FAILED
    reason = runs[stale]["tags"]["mlcli.endReason"]
    assert reason.startswith("the heartbeat of owner process 4242 on host another-host stopped at")


def test_a_stale_limit_is_never_shorter_than_three_of_the_owners_periods(
    store_root: Path,
) -> None:
    run_id = _run_owned_elsewhere(store_root)
    at = int(time.time() * 1000) - 60_000  # stale for the reader's 4 s, not for 3 x 3600 s
    _set_doc(store_root, run_id, heartbeat={"at": at, "every": 3600})
    assert listed(store_root)[run_id]["status"] == RunStatus.RUNNING


def test_a_run_of_an_older_mlcli_without_a_heartbeat_is_left_alone(store_root: Path) -> None:
    run_id = _run_owned_elsewhere(store_root)
    _set_doc(store_root, run_id, heartbeat=None)
    os.utime(store_root / "runs" / run_id / "run.json", (0, 0))  # no write for ages
    assert listed(store_root)[run_id]["status"] == RunStatus.RUNNING


def test_a_bad_setting_is_one_line(store_root: Path) -> None:
    _run_owned_elsewhere(store_root)  # to be judged by its heartbeat
    result = mlcli(store_root, "runs", "list", MLCLI_STALE_AFTER_SECONDS="soon")
    assert result.returncode != 0
    assert result.stderr.strip().splitlines() == [
        "mlcli: error: MLCLI_STALE_AFTER_SECONDS='soon': expected a number of seconds above 0"
    ]


def test_the_heartbeat_does_no_work_per_point(
    store_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A training loop logs as before: the run's document is not written per point,
    one thread beats per owned run, and it stops when the run ends."""
    monkeypatch.setenv("MLCLI_HEARTBEAT_SECONDS", "3600")
    client = TrackingClient(store_root)
    run_id = client.create_run(owner=_this_process()).run_id
    doc_path = store_root / "runs" / run_id / "run.json"
    before = doc_path.stat().st_mtime_ns, doc_path.read_bytes()
    for step in range(2000):
        client.log_metric(run_id, "loss", 1.0 / (step + 1), step=step)
    assert (doc_path.stat().st_mtime_ns, doc_path.read_bytes()) == before
    assert _beaters(run_id) == 1
    client.set_terminated(run_id)
    deadline = time.monotonic() + DEADLINE
    while _beaters(run_id):
        assert time.monotonic() < deadline
        time.sleep(0.05)


def _this_process() -> Owner:
    from mlcli.store import this_process

    me = this_process()
    assert me is not None
    return me


def _beaters(run_id: str) -> int:
    return sum(thread.name == f"heartbeat-{run_id}" for thread in threading.enumerate())
