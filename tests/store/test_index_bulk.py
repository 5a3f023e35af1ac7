"""Building the index of many runs at once (the bulk path: secondary indexes dropped
while rows go in, rows inserted in batches) gives the same index as run by run."""

from __future__ import annotations

import math
import sqlite3
from pathlib import Path

import pytest

from mlcli.search.runs import search_runs
from mlcli.store import Metric, Store
from mlcli.store.index.schema import SECONDARY_INDEXES
from mlcli.store.index.session import BULK_MIN_RUNS

RUNS = BULK_MIN_RUNS + 50


def _populate(store: Store) -> None:
    for number in range(RUNS):
        run_id = store.runs.create(
            experiment_id="0",
            run_name=f"r{number}",
            user_id="u",
            tags={"n": str(number)},
            start_time=number,
        ).run_id
        store.runs.log_params(run_id, {"lr": str(number % 7), "model": "rf"})
        points = [Metric("acc", (number % 13) / 13 + step, step, step) for step in range(3)]
        if number % 10 == 0:
            points.append(Metric("loss", math.nan, 0, 0))
        store.runs.append_metrics(run_id, points)
        if number % 3:
            store.runs.set_status(run_id, "FINISHED")


def _dump(root: Path) -> list[list[tuple]]:
    with sqlite3.connect(root / "index.db") as db:
        return [
            sorted(db.execute(f"SELECT * FROM {table}").fetchall(), key=repr)
            for table in ("params", "tags", "latest_metrics")
        ] + [sorted(db.execute("SELECT run_id, status FROM runs").fetchall())]


@pytest.mark.slow
def test_bulk_build_equals_incremental_build(store_root: Path) -> None:
    store = Store.open(store_root)
    _populate(store)
    store.index.refresh()  # every run is new: the bulk path
    bulk = _dump(store_root)
    with sqlite3.connect(store_root / "index.db") as db:
        names = {row[0] for row in db.execute("SELECT name FROM sqlite_master")}
    assert {name for name, _ in SECONDARY_INDEXES} <= names
    assert len(bulk[3]) == RUNS

    store.index.rebuild()
    assert _dump(store_root) == bulk
    store.close()

    for suffix in ("", "-wal", "-shm"):
        Path(f"{store_root / 'index.db'}{suffix}").unlink(missing_ok=True)
    small = Store.open(store_root)
    ids = small.runs.list_ids()
    small.index.refresh_runs(ids[:10])  # below the bulk threshold, run by run
    small.index.refresh_runs(ids)
    assert _dump(store_root) == bulk
    top = search_runs(small, filter_string="metrics.acc > 2.9", order_by=["metrics.acc DESC"])
    assert top and all(run.data.metrics["acc"] > 2.9 for run in top)
    small.close()
