"""Index rows turned into what callers use: run dicts, Metric values, and back."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from typing import Any

from mlcli.store.entities import Metric

_CHUNK = 500  # SQLite's default limit on host parameters is 999 on old builds


def run_rows(db: sqlite3.Connection, run_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Runs with their params, tags, latest metrics and experiment name, by id."""
    result: dict[str, dict[str, Any]] = {}
    params: dict[str, dict[str, str]] = {}
    tags: dict[str, dict[str, str]] = {}
    metrics: dict[str, dict[str, Metric]] = {}
    nan = float("nan")
    for chunk in chunks(run_ids):
        marks = ",".join("?" * len(chunk))
        for row in db.execute(
            f"SELECT r.run_id, r.experiment_id, r.run_name, r.status, r.start_time, "
            f"r.end_time, r.lifecycle_stage, r.deleted_time, r.user_id, r.parent_run_id, "
            f"e.name FROM runs r LEFT JOIN experiments e USING (experiment_id) "
            f"WHERE r.run_id IN ({marks})",
            chunk,
        ):
            run_id = row[0]
            params[run_id], tags[run_id], metrics[run_id] = {}, {}, {}
            result[run_id] = {
                "run_id": run_id,
                "experiment_id": row[1],
                "run_name": row[2],
                "status": row[3],
                "start_time": row[4],
                "end_time": row[5],
                "lifecycle_stage": row[6],
                "deleted_time": row[7],
                "user_id": row[8],
                "parent_run_id": row[9],
                "experiment_name": row[10],
                "params": params[run_id],
                "tags": tags[run_id],
                "metrics": metrics[run_id],
            }
        for table, target in (("params", params), ("tags", tags)):
            for run_id, key, value in db.execute(
                f"SELECT run_id, key, value FROM {table} WHERE run_id IN ({marks})", chunk
            ):
                values = target.get(run_id)
                if values is not None:
                    values[key] = value
        for run_id, key, value, is_nan, step, timestamp in db.execute(
            "SELECT run_id, key, value, is_nan, step, timestamp FROM latest_metrics "
            f"WHERE run_id IN ({marks})",
            chunk,
        ):
            latest = metrics.get(run_id)
            if latest is not None:
                number = nan if is_nan else float(value or 0.0)
                latest[key] = Metric(key, number, step, timestamp)
    return result


def metric(key: str, value: float | None, is_nan: int, step: int, timestamp: int) -> Metric:
    return Metric(key, float("nan") if is_nan else float(value or 0.0), step, timestamp)


def metric_row(run_id: str, metric: Metric) -> tuple[Any, ...]:
    is_nan = metric.value != metric.value
    return (
        run_id,
        metric.key,
        None if is_nan else metric.value,
        int(is_nan),
        metric.step,
        metric.timestamp,
    )


def chunks(items: Sequence[str]) -> Iterator[list[str]]:
    """``items`` in lists short enough for one ``IN (?, ...)``."""
    items = list(items)
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]
