"""Writing what ``scan.read_runs`` found in run files into the index's run tables."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from mlcli.store.entities import Metric, RunStatus
from mlcli.store.index.rows import metric, metric_row
from mlcli.store.index.session import IndexSession
from mlcli.store.index.summaries import summarize_indexed
from mlcli.store.scan import LOGS, LogRead, RunRead, read_runs

_FLUSH_ROWS = 50_000
_LOG_TABLE = {"params": "params", "tags": "tags", "metrics": "latest_metrics"}


@dataclass
class PendingRows:
    """Rows read from run files, not yet inserted (inserting many at once is cheaper)."""

    runs: list[tuple[Any, ...]] = field(default_factory=list)  # new runs only
    params: list[tuple[Any, ...]] = field(default_factory=list)
    tags: list[tuple[Any, ...]] = field(default_factory=list)
    metrics: list[tuple[Any, ...]] = field(default_factory=list)

    def size(self) -> int:
        return len(self.runs) + len(self.params) + len(self.tags) + len(self.metrics)

    def clear(self) -> None:
        self.runs, self.params, self.tags, self.metrics = [], [], [], []


def scan_runs(
    session: IndexSession, run_ids: Sequence[str], rows: dict[str, tuple[Any, ...]]
) -> None:
    """Bring these runs' rows up to date from their files (inside a write
    transaction); ``rows`` holds the known rows of those already indexed."""
    requests = []
    for run_id in sorted(run_ids):  # in key order, rows append to the B-trees
        row = rows.get(run_id)
        offsets = (row[3], row[4], row[5]) if row else (0, 0, 0)
        requests.append((run_id, row[2] if row else None, offsets))
    pending = PendingRows()
    runs_dir = str(session.layout.runs_dir)
    for read in read_runs(runs_dir, requests, session.log_chunk_bytes):
        _apply_read(session, read, rows.get(read.run_id), pending)
        if pending.size() >= _FLUSH_ROWS:
            insert_pending(session.db, pending)
    insert_pending(session.db, pending)
    summarize_indexed(session, run_ids)  # those finished now: their rows are complete


def forget_run(db: sqlite3.Connection, run_id: str) -> None:
    for table in ("runs", "params", "tags", "latest_metrics"):
        db.execute(f"DELETE FROM {table} WHERE run_id = ?", (run_id,))


def insert_pending(db: sqlite3.Connection, pending: PendingRows) -> None:
    """Insert the rows gathered from many runs: one statement per table."""
    db.executemany(
        "INSERT INTO runs (experiment_id, run_name, status, start_time, end_time, "
        "lifecycle_stage, deleted_time, user_id, parent_run_id, doc_signature, "
        "params_offset, tags_offset, metrics_offset, run_id) "
        "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
        pending.runs,
    )
    db.executemany(
        "INSERT OR IGNORE INTO params (run_id, key, value) VALUES (?, ?, ?)", pending.params
    )
    db.executemany(
        "INSERT OR REPLACE INTO tags (run_id, key, value) VALUES (?, ?, ?)", pending.tags
    )
    db.executemany(
        "INSERT OR REPLACE INTO latest_metrics (run_id, key, value, is_nan, step, timestamp) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        pending.metrics,
    )
    pending.clear()


def _apply_read(
    session: IndexSession, read: RunRead, row: tuple[Any, ...] | None, pending: PendingRows
) -> None:
    """Write what ``read_run`` found in one run's files (rows of params, tags and
    metrics go to ``pending``, for the caller to flush)."""
    db, damaged, run_id = session.db, session.left_out.runs, read.run_id
    if read.signature is None:
        if row is not None and not session.layout.run_dir(run_id).exists():
            forget_run(db, run_id)
        return  # a folder without run.json is not a run
    if read.damage is not None:
        damaged[run_id] = (read.signature, read.damage)
        if row is not None:
            forget_run(db, run_id)  # listed as damaged, not with what it used to say
        return
    damaged.pop(run_id, None)
    offsets = [row[3], row[4], row[5]] if row else [0, 0, 0]
    ends = list(offsets)
    for position, log in enumerate(LOGS):
        part = read.logs.get(log)
        if part is None:
            continue
        if part.replaced:  # the log was replaced: forget what was read of it
            db.execute(f"DELETE FROM {_LOG_TABLE[log]} WHERE run_id = ?", (run_id,))
        fresh = part.replaced or offsets[position] == 0
        _APPLY[log](db, run_id, part, fresh, pending)
        ends[position] = part.end
    if row is None:  # a new run: its row goes in with the others, offsets included
        assert read.doc is not None
        pending.runs.append((*_run_values(read.doc, read.signature), *ends, run_id))
        return
    if read.doc is not None:
        _upsert_run(db, run_id, read.doc, read.signature)
    if ends != offsets:
        db.execute(
            "UPDATE runs SET params_offset = ?, tags_offset = ?, metrics_offset = ? "
            "WHERE run_id = ?",
            (*ends, run_id),
        )


def _upsert_run(db: sqlite3.Connection, run_id: str, doc: dict[str, Any], signature: str) -> None:
    values = _run_values(doc, signature)
    updated = db.execute(
        "UPDATE runs SET experiment_id=?, run_name=?, status=?, start_time=?, end_time=?, "
        "lifecycle_stage=?, deleted_time=?, user_id=?, parent_run_id=?, doc_signature=? "
        "WHERE run_id=?",
        (*values, run_id),
    ).rowcount
    if not updated:
        db.execute(
            "INSERT INTO runs (experiment_id, run_name, status, start_time, end_time, "
            "lifecycle_stage, deleted_time, user_id, parent_run_id, doc_signature, run_id) "
            "VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            (*values, run_id),
        )


def _run_values(doc: dict[str, Any], signature: str) -> tuple[Any, ...]:
    """The columns of a run's row from its run.json, in the order of _upsert_run."""
    return (
        str(doc.get("experiment_id", "0")),
        doc.get("run_name") or "",
        doc.get("status", RunStatus.RUNNING),
        int(doc.get("start_time") or 0),
        doc.get("end_time"),
        doc.get("lifecycle_stage", "active"),
        doc.get("deleted_time"),
        doc.get("user_id") or "",
        doc.get("parent_run_id"),
        signature,
    )


def _apply_params(
    db: sqlite3.Connection, run_id: str, part: LogRead, fresh: bool, pending: PendingRows
) -> None:
    pending.params += [(run_id, key, value) for key, value in part.params]


def _apply_tags(
    db: sqlite3.Connection, run_id: str, part: LogRead, fresh: bool, pending: PendingRows
) -> None:
    deleted = [(run_id, key) for key, value in part.tags.items() if value is None]
    if deleted and not fresh:
        db.executemany("DELETE FROM tags WHERE run_id = ? AND key = ?", deleted)
    pending.tags += [(run_id, k, v) for k, v in part.tags.items() if v is not None]


def _apply_metrics(
    db: sqlite3.Connection, run_id: str, part: LogRead, fresh: bool, pending: PendingRows
) -> None:
    latest: dict[str, Metric] = {}
    if not fresh:  # nothing is indexed for a log read from its start
        latest = {
            key: metric(key, value, is_nan, step, timestamp)
            for key, value, is_nan, step, timestamp in db.execute(
                "SELECT key, value, is_nan, step, timestamp FROM latest_metrics WHERE run_id = ?",
                (run_id,),
            )
        }
    for key, point in part.metrics.items():
        current = latest.get(key)
        if current is None or point.sort_key() >= current.sort_key():
            pending.metrics.append(metric_row(run_id, point))


# How each log's new lines go in (by the name ``scan.LOGS`` gives it).
_APPLY: dict[str, Callable[[sqlite3.Connection, str, LogRead, bool, PendingRows], None]] = {
    "params": _apply_params,
    "tags": _apply_tags,
    "metrics": _apply_metrics,
}
