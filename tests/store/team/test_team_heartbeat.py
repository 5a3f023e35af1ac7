"""The heartbeat of a run owned by this process, through a team store (PostgreSQL
and a bucket, real servers): one document update per period, none after the end."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from mlcli.store import RunStatus, this_process

DEADLINE = 120.0  # generous: a loaded machine is slow, never wrong


def test_a_team_store_carries_the_heartbeat_while_this_process_owns_the_run(
    team_store: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLCLI_HEARTBEAT_SECONDS", "0.2")
    experiment = team_store.experiments.get_or_create("demo")
    run_id = team_store.runs.create(
        experiment_id=experiment.experiment_id,
        run_name="owned",
        user_id="ann",
        tags={},
        owner=this_process(),
    ).run_id
    beats: set[int] = set()
    deadline = time.monotonic() + DEADLINE
    while len(beats) < 3:
        assert time.monotonic() < deadline, f"the heartbeat did not move: {beats}"
        beat = team_store.runs.read_doc(run_id)["heartbeat"]
        assert beat["every"] == 0.2
        beats.add(beat["at"])
        time.sleep(0.05)
    team_store.runs.set_status(run_id, RunStatus.FINISHED)
    deadline = time.monotonic() + DEADLINE
    while any(thread.name == f"heartbeat-{run_id}" for thread in threading.enumerate()):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    doc = team_store.runs.read_doc(run_id)
    assert doc["status"] == RunStatus.FINISHED
    assert doc["owner"]["pid"] == this_process().pid  # type: ignore[union-attr]
