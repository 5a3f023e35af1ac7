"""A point logged through ``TrackingClient.log_metric`` costs about one append: it does
not read run.json (one ``stat`` tells that nothing changed), yet a run that another
process deleted still refuses the next point, and one it ended still reaches the index.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mlcli.errors import InvalidInputError
from mlcli.store.runs import RACY_NS
from mlcli.tracking import TrackingClient

_opened: list[str] | None = None  # the paths opened while a test records them


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if event == "open" and _opened is not None and isinstance(args[0], (str, bytes, Path)):
        _opened.append(os.fsdecode(args[0]))


sys.addaudithook(_audit)  # a hook cannot be removed: it records only inside `opened`


@pytest.fixture
def opened() -> Iterator[list[str]]:
    global _opened
    _opened = []
    try:
        yield _opened
    finally:
        _opened = None


@pytest.fixture
def client(store_root: Path) -> TrackingClient:
    return TrackingClient(store_root)


def settled_run(client: TrackingClient) -> str:
    """A new run whose run.json is old enough for a writer to trust its signature
    (see ``RACY_NS`` in mlcli/store/runs.py), with its first point logged."""
    run_id = client.create_run().run_id
    doc = client.store.root / "runs" / run_id / "run.json"
    deadline = time.monotonic() + 30
    while time.time_ns() - doc.stat().st_ctime_ns <= 2 * RACY_NS:
        assert time.monotonic() < deadline, "run.json never settled"
        time.sleep(0.01)
    client.log_metric(run_id, "m", 0.0, step=0)  # reads run.json once
    return run_id


def test_a_point_logged_does_not_read_run_json(
    client: TrackingClient, opened: list[str], mlcli_process: Any
) -> None:
    run_id = settled_run(client)
    opened.clear()
    for step in range(1, 101):
        client.log_metric(run_id, "m", float(step), step=step)
    run_dir = str(client.store.root / "runs" / run_id)
    assert [p for p in opened if p.endswith("run.json")] == []
    assert [os.path.relpath(p, run_dir) for p in opened] == ["metrics.jsonl"] * 100
    # Every point is in the log and the index sees the last.
    assert len(client.get_metric_history(run_id, "m")) == 101
    found = client.search_runs(filter_string="metrics.m = 100")
    assert [run.run_id for run in found] == [run_id]


def test_a_run_deleted_by_another_process_refuses_the_next_point(
    client: TrackingClient, mlcli_process: Any, workdir: Path
) -> None:
    run_id = settled_run(client)
    client.log_metric(run_id, "m", 1.0, step=1)
    mlcli_process("runs", "delete", run_id, cwd=workdir)
    with pytest.raises(InvalidInputError, match="is deleted"):
        client.log_metric(run_id, "m", 2.0, step=2)
    mlcli_process("runs", "restore", run_id, cwd=workdir)
    client.log_metric(run_id, "m", 3.0, step=3)
    assert [m.step for m in client.get_metric_history(run_id, "m")] == [0, 1, 3]


def test_a_point_logged_to_a_run_another_process_ended_reaches_the_index(
    client: TrackingClient, mlcli_process: Any, workdir: Path
) -> None:
    run_id = settled_run(client)
    assert [r.run_id for r in client.search_runs(filter_string="metrics.m = 0")] == [run_id]
    mlcli_process("runs", "end", run_id, cwd=workdir)
    assert client.search_runs(filter_string="attributes.status = 'FINISHED'")[0].run_id == run_id
    client.log_metric(run_id, "m", 7.0, step=7)  # a finished run takes late points
    found = client.search_runs(filter_string="metrics.m = 7")
    assert [run.run_id for run in found] == [run_id]
    assert found[0].info.status == "FINISHED"


def test_the_fluent_api_writes_each_point_as_the_client_would(store_root: Path) -> None:
    """Buffered lines are built from a per-key prefix: keys that JSON escapes and values
    that JSON cannot carry come back as they were logged."""
    import math

    import mlcli

    keys = ["loss", "ü/ß", "a b:c-d.e_f", "日本"]
    values = [0.1, -2.5e-300, math.inf, -math.inf, 1e308, 3.0]
    mlcli.set_tracking_uri(str(store_root))
    with mlcli.start_run() as run:
        for key in keys:
            for step, value in enumerate(values):
                mlcli.log_metric(key, value, step=step)
            mlcli.log_metric(key, math.nan, step=len(values))
    client = TrackingClient(store_root)
    for key in keys:
        history = client.get_metric_history(run.run_id, key)
        assert [m.value for m in history[:-1]] == values and math.isnan(history[-1].value)
        assert [m.step for m in history] == list(range(len(values) + 1))
