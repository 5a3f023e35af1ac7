"""Runs of a team store whose owner is gone end at the next read (PostgreSQL and a
bucket, real servers): a SIGKILLed owner process on this host, an owner elsewhere whose
heartbeat went stale; a live owner is left alone, and readers racing end a run once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from mlcli import system_tags
from mlcli.search.runs import search_runs
from mlcli.store import Owner, RunOwner, RunStatus, SlurmJobOwner, this_process
from mlcli.store.ownership import live_claim

DEADLINE = 120.0  # generous: a loaded machine is slow, never wrong

_OWNER_SCRIPT = """
import sys, time
from mlcli.store import TeamStore, this_process
store = TeamStore.open(sys.argv[1], sys.argv[2])
experiment = store.experiments.get_or_create("demo")
for name in ("first", "second"):
    run = store.runs.create(
        experiment_id=experiment.experiment_id, run_name=name, user_id="ann", tags={},
        owner=this_process(),
    )
    print(run.run_id, flush=True)
time.sleep(3600)
"""


def _statuses(store: Any) -> dict[str, str]:
    return {run.info.run_id: run.info.status for run in search_runs(store, None)}


def _create(store: Any, owner: RunOwner, name: str = "r") -> str:
    experiment = store.experiments.get_or_create("demo")
    return str(
        store.runs.create(
            experiment_id=experiment.experiment_id,
            run_name=name,
            user_id="ann",
            tags={},
            owner=owner,
        ).run_id
    )


def _dead_owner_here() -> Owner:
    """A process of this host that has exited (its pid no longer names it)."""
    me = this_process()
    assert me is not None
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return Owner(me.host, me.boot, me.pid_namespace, child.pid, "1")


def _clone(store: Any, urls: Any, tmp_path: Path) -> Path:
    """The runs folder of what the bucket holds after a flush (``mlcli clone``)."""
    store.flusher.flush_all(idle_seconds=0)
    target = tmp_path / "copy"
    cloned = subprocess.run(
        [sys.executable, "-m", "mlcli", "clone", urls.store, str(target)],
        capture_output=True,
        text=True,
        env={**os.environ, **urls.env},
        cwd=tmp_path,
    )
    assert cloned.returncode == 0, cloned.stderr
    return target / ".mlruns" / "runs"


def _end_reasons(runs: Path, run_id: str) -> list[str]:
    """The run's end-reason tag lines in the bucket (read as files: no reader judges)."""
    lines = (runs / run_id / "tags.jsonl").read_text().splitlines()
    return [line for line in lines if system_tags.END_REASON in line]


def test_a_sigkilled_owner_fails_its_runs_at_the_next_get_and_search_and_in_the_bucket(
    team_store: Any, team_urls: Any, tmp_path: Path
) -> None:
    env = {**os.environ, **team_urls.env}
    owner = subprocess.Popen(
        [sys.executable, "-c", _OWNER_SCRIPT, team_urls.store, team_urls.index],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert owner.stdout is not None
        first, second = owner.stdout.readline().strip(), owner.stdout.readline().strip()
        assert first and second, "the owner process created no runs"
        assert _statuses(team_store) == {first: RunStatus.RUNNING, second: RunStatus.RUNNING}
    finally:
        owner.send_signal(signal.SIGKILL)
        owner.wait()
        if owner.stdout is not None:
            owner.stdout.close()
    run = team_store.get_run(first)
    assert run.info.status == RunStatus.FAILED
    host = this_process().host  # type: ignore[union-attr]
    reason = f"owner process {owner.pid} on host {host} exited without ending the run"
    assert run.data.tags[system_tags.END_REASON] == reason
    assert run.info.end_time is not None and run.info.end_time >= run.info.start_time
    assert _statuses(team_store) == {first: RunStatus.FAILED, second: RunStatus.FAILED}
    assert team_store.get_run(second).data.tags[system_tags.END_REASON] == reason

    runs = _clone(team_store, team_urls, tmp_path)
    assert json.loads((runs / first / "run.json").read_text())["status"] == RunStatus.FAILED
    line = json.dumps({"key": system_tags.END_REASON, "value": reason})
    assert _end_reasons(runs, first) == [line]


def test_an_owner_elsewhere_is_left_alone_while_it_beats_and_fails_once_it_is_stale(
    team_store: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLCLI_HEARTBEAT_SECONDS", "0.1")
    elsewhere = Owner("elsewhere", None, None, 4242, "1")
    run_id = _create(team_store, elsewhere)
    beat_at = team_store.runs.read_doc(run_id)["heartbeat"]["at"]
    assert _statuses(team_store)[run_id] == RunStatus.RUNNING  # fresh: 600 s by default
    assert team_store.get_run(run_id).info.status == RunStatus.RUNNING

    monkeypatch.setenv("MLCLI_STALE_AFTER_SECONDS", "1")
    deadline = time.monotonic() + DEADLINE
    while _statuses(team_store)[run_id] != RunStatus.FAILED:
        assert time.monotonic() < deadline, "the stale run was not ended"
        time.sleep(0.1)
    run = team_store.get_run(run_id)
    reason = run.data.tags[system_tags.END_REASON]
    assert reason.startswith("the heartbeat of owner process 4242 on host elsewhere stopped at ")
    assert run.info.end_time is not None and run.info.end_time >= beat_at


def test_a_live_owner_here_is_left_alone(team_store: Any) -> None:
    run_id = _create(team_store, this_process())  # type: ignore[arg-type]
    assert _statuses(team_store)[run_id] == RunStatus.RUNNING
    assert team_store.get_run(run_id).info.status == RunStatus.RUNNING
    team_store.runs.set_status(run_id, RunStatus.FINISHED)


def test_readers_racing_end_a_run_once(team_store: Any, team_urls: Any, tmp_path: Path) -> None:
    from mlcli.store import TeamStore

    runs = [_create(team_store, _dead_owner_here(), f"r{i}") for i in range(6)]
    late = _create(team_store, _dead_owner_here(), "late")
    # a reader that judged the late run before another ended it writes nothing after
    claim = live_claim(team_store.runs.read_doc(late))
    assert claim is not None
    other = TeamStore.open(team_urls.store, team_urls.index)
    try:
        readers = [team_store, other]
        barrier = threading.Barrier(len(readers))
        ended: list[list[str]] = [[] for _ in readers]

        def sweep(index: int) -> None:
            barrier.wait()
            ended[index] = readers[index].orphans.sweep()

        threads = [threading.Thread(target=sweep, args=(i,)) for i in range(len(readers))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(DEADLINE)
        together = sorted(ended[0] + ended[1])
        assert together == sorted([*runs, late])  # each run ended by one reader
        assert not other.runs.end_orphaned(late, claim, RunStatus.FAILED, {"x": "y"})
    finally:
        other.close()
    folder = _clone(team_store, team_urls, tmp_path)
    for run_id in [*runs, late]:
        assert team_store.get_run(run_id).info.status == RunStatus.FAILED
        assert len(_end_reasons(folder, run_id)) == 1


def test_a_run_owned_by_a_slurm_job_ends_as_the_job_did(
    team_store: Any, slurm: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A real Slurm job, asked about with ``scontrol`` from this process: alive, the run
    is left alone; cancelled, the next reads end it KILLED with Slurm's state."""
    for name, value in slurm.env.items():
        monkeypatch.setenv(name, value)
    job_id = slurm.run("sbatch", "--parsable", "--wrap", "sleep 600").stdout.strip()
    run_id = _create(team_store, SlurmJobOwner(job_id))
    assert _statuses(team_store)[run_id] == RunStatus.RUNNING
    slurm.run("scancel", job_id)
    deadline = time.monotonic() + DEADLINE
    while _statuses(team_store)[run_id] == RunStatus.RUNNING:  # Slurm asked again soon
        assert time.monotonic() < deadline, "the run of the cancelled job was not ended"
        time.sleep(0.2)
    run = team_store.get_run(run_id)
    assert run.info.status == RunStatus.KILLED
    assert run.data.tags["mlcli.slurm.state"] == "CANCELLED"
    assert job_id in run.data.tags[system_tags.END_REASON]
