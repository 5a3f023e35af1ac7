"""The SQLite index: a cache of the run files, for fast queries.

It is never the only copy of anything: a missing, corrupt or outdated index is
rebuilt from the files, also under a long-running reader (``mlcli server``, ``mlcli
ui``): each call first checks that the file is still the one it opened (another process
may have rebuilt it), and a damaged database is discarded and rebuilt on the spot.
Readers keep it fresh incrementally:

- new run folders are found by listing ``runs/``; vanished ones are dropped;
- runs the index holds as live (RUNNING, SCHEDULED) are checked by ``stat`` and read
  again from the byte offset already indexed;
- finished runs are read again only when the change journal names them.

So a refresh costs one directory listing plus work proportional to what changed,
however many finished runs the store holds.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from mlcli.errors import StoreError
from mlcli.store.changes import ChangeJournal
from mlcli.store.damage import experiment_doc_problem
from mlcli.store.entities import Metric, RunStatus
from mlcli.store.fileio import LOG_CHUNK_BYTES, file_size, read_document
from mlcli.store.layout import StoreLayout
from mlcli.store.ownership import end_if_orphaned
from mlcli.store.scan import LOGS, LogRead, RunRead, file_signature, read_runs
from mlcli.store.sharing import share_like_folder

SCHEMA_VERSION = "1"

_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE experiments (
    experiment_id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    lifecycle_stage TEXT NOT NULL,
    creation_time INTEGER,
    last_update_time INTEGER,
    signature TEXT NOT NULL
);
CREATE TABLE runs (
    run_id TEXT PRIMARY KEY,
    experiment_id TEXT NOT NULL,
    run_name TEXT NOT NULL,
    status TEXT NOT NULL,
    start_time INTEGER NOT NULL,
    end_time INTEGER,
    lifecycle_stage TEXT NOT NULL,
    deleted_time INTEGER,
    user_id TEXT NOT NULL,
    parent_run_id TEXT,
    doc_signature TEXT NOT NULL,
    params_offset INTEGER NOT NULL DEFAULT 0,
    tags_offset INTEGER NOT NULL DEFAULT 0,
    metrics_offset INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX runs_by_experiment ON runs (experiment_id, start_time);
CREATE INDEX runs_by_status ON runs (status);
CREATE TABLE params (
    run_id TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL,
    PRIMARY KEY (run_id, key)
) WITHOUT ROWID;
CREATE INDEX params_by_key ON params (key, value);
CREATE TABLE tags (
    run_id TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL,
    PRIMARY KEY (run_id, key)
) WITHOUT ROWID;
CREATE INDEX tags_by_key ON tags (key, value);
CREATE TABLE latest_metrics (
    run_id TEXT NOT NULL, key TEXT NOT NULL,
    value REAL,             -- NULL when is_nan: SQLite cannot store NaN
    is_nan INTEGER NOT NULL,
    step INTEGER NOT NULL,
    timestamp INTEGER NOT NULL,
    PRIMARY KEY (run_id, key)
) WITHOUT ROWID;
CREATE INDEX metrics_by_key ON latest_metrics (key, value);
"""

_TABLES = ("meta", "experiments", "runs", "params", "tags", "latest_metrics")
_SECONDARY_INDEXES = [
    (line.split()[2], line.rstrip(";"))
    for line in _SCHEMA.splitlines()
    if line.startswith("CREATE INDEX")
]
_BULK_MIN_RUNS = 1_000
_REBUILD_BATCH = 5_000
_CHUNK = 500  # SQLite's default limit on host parameters is 999 on old builds

ProgressCallback = Callable[[int, int], None]
T = TypeVar("T")


@dataclass(frozen=True)
class RefreshResult:
    scanned: int
    removed: int


class RunIndex:
    """One store's index. Open it with :meth:`open`; every query refreshes first."""

    log_chunk_bytes = LOG_CHUNK_BYTES  # logs are read and folded this much at a time

    def __init__(self, layout: StoreLayout, connection: sqlite3.Connection, path: Path) -> None:
        self.layout = layout
        self.path = path
        self.db = connection
        self.journal = ChangeJournal(layout.changes_log)
        self._identity = _file_identity(path)
        # Runs left out because their run.json is damaged: run id -> (its signature,
        # what is wrong). Read again only when the file changes.
        self._damaged: dict[str, tuple[str | None, str]] = {}
        self._damaged_experiments: dict[str, tuple[str | None, str]] = {}  # the same

    # -- opening ----------------------------------------------------------------------------

    @classmethod
    def open(cls, layout: StoreLayout) -> RunIndex:
        return cls(layout, *_open_connection(layout))

    def close(self) -> None:
        self.db.close()

    def _healthy(self, action: Callable[[], T]) -> T:
        """``action`` on a sound connection to the current index file.

        A long-running reader outlives index files: another process may replace the
        file (``mlcli index rebuild`` of a damaged one), or anything may damage it. A
        replaced file is reopened; a damaged one is discarded and rebuilt from the run
        files; either way the action runs again, on an index brought up to date.
        """
        if _file_identity(self.path) != self._identity:
            self._reopen(discard=False)
        try:
            return action()
        except sqlite3.DatabaseError as exc:
            replaced = _file_identity(self.path) != self._identity
            if not replaced and not _is_damage(exc):
                raise
            with contextlib.suppress(sqlite3.Error):
                self.db.execute("ROLLBACK")  # an action may fail inside a transaction
            self._reopen(discard=not replaced)
            self._refresh()
            return action()

    def _reopen(self, discard: bool) -> None:
        with contextlib.suppress(sqlite3.Error):
            self.db.close()
        if discard:
            with contextlib.suppress(PermissionError):  # not ours: open falls back to our own
                _delete_index_files(self.path)
        connection, self.path = _open_connection(self.layout)
        self.db = connection
        self._identity = _file_identity(self.path)

    # -- refreshing -------------------------------------------------------------------------

    def refresh(self) -> RefreshResult:
        """Bring the index up to date with the files (see the module's docstring)."""
        result = self._healthy(self._refresh)
        self._healthy(self._end_orphaned_runs)
        return result

    def _refresh(self) -> RefreshResult:
        on_disk = set(_list_run_ids(self.layout))
        known = {row[0]: row for row in self.db.execute(_KNOWN_RUNS_SQL)}
        journal_offset, journal_end, touched = self._read_journal(full_check=not known)
        if touched is None:  # the journal was replaced: check every known run by stat
            touched = set(known)
        candidates = (on_disk - known.keys()) | {
            run_id
            for run_id, row in known.items()
            if run_id in on_disk and (row[1] in RunStatus.LIVE or run_id in touched)
        }
        for run_id in [r for r in self._damaged if r not in on_disk]:
            del self._damaged[run_id]
        to_scan = [
            r
            for r in candidates
            if (r not in known or _files_changed(self.layout, known[r]))
            and not self._still_damaged(r)
        ]
        gone = [run_id for run_id in known if run_id not in on_disk]
        experiments = self._changed_experiments()
        if not to_scan and not gone and not experiments and journal_end == journal_offset:
            return RefreshResult(0, 0)
        with self._write():
            rows = {row[0]: row for row in self._known_rows(to_scan)}
            with self._bulk(len(to_scan) - len(rows)):
                self._scan_runs(to_scan, rows)
            for run_id in gone:
                if not self.layout.run_dir(run_id).exists():
                    self._forget_run(run_id)
            self._store_experiments(experiments)
            self._set_meta("journal_offset", str(journal_end))
            self._set_meta("journal_identity", self.journal.identity())
        return RefreshResult(len(to_scan), len(gone))

    def _end_orphaned_runs(self, run_ids: list[str] | None = None) -> None:
        """End the RUNNING runs whose owner process is gone (``ownership.py``): every run
        the index holds as RUNNING, or those of ``run_ids`` (indexed yet or not)."""
        if run_ids is None:
            candidates = [
                row[0]
                for row in self.db.execute(
                    "SELECT run_id FROM runs WHERE status = ?", (RunStatus.RUNNING,)
                )
            ]
        else:
            rows = {row[0]: row for row in self._known_rows(run_ids)}
            candidates = [r for r in run_ids if r not in rows or rows[r][1] == RunStatus.RUNNING]
        ended = [run_id for run_id in candidates if end_if_orphaned(self.layout, run_id)]
        if ended and run_ids is None:
            self._refresh_runs(ended)

    def refresh_runs(self, run_ids: Iterable[str]) -> None:
        """Bring just these runs up to date (``get_run`` needs no directory listing)."""
        run_ids = list(run_ids)
        self._healthy(lambda: self._end_orphaned_runs(run_ids))
        self._healthy(lambda: self._refresh_runs(run_ids))

    def _refresh_runs(self, run_ids: list[str]) -> None:
        rows = {row[0]: row for row in self._known_rows(run_ids)}
        stale = [r for r in run_ids if r not in rows or _files_changed(self.layout, rows[r])]
        if not stale:
            return
        experiments = self._changed_experiments()
        with self._write():
            self._scan_runs(stale, {row[0]: row for row in self._known_rows(stale)})
            self._store_experiments(experiments)

    def rebuild(self, progress: ProgressCallback | None = None) -> int:
        """Forget everything and read every run again; returns the number of runs
        indexed (runs with a damaged run.json are left out: see :meth:`damaged_runs`)."""
        return self._healthy(lambda: self._rebuild(progress))

    def _rebuild(self, progress: ProgressCallback | None) -> int:
        run_ids = _list_run_ids(self.layout)
        self._damaged, self._damaged_experiments = {}, {}
        journal_end = self.journal.size()
        with self._write():
            for table in ("experiments", "runs", "params", "tags", "latest_metrics"):
                self.db.execute(f"DELETE FROM {table}")
            with self._bulk(len(run_ids)):
                for start in range(0, len(run_ids), _REBUILD_BATCH):
                    self._scan_runs(run_ids[start : start + _REBUILD_BATCH], {})
                    if progress:
                        progress(min(start + _REBUILD_BATCH, len(run_ids)), len(run_ids))
            self._store_experiments(self._changed_experiments())
            self._set_meta("journal_offset", str(journal_end))
            self._set_meta("journal_identity", self.journal.identity())
        return int(self.db.execute("SELECT count(*) FROM runs").fetchone()[0])

    def damaged_runs(self) -> dict[str, str]:
        """Runs the last refresh left out because their run.json is damaged: run id ->
        what is wrong with it."""
        return {run_id: problem for run_id, (_, problem) in sorted(self._damaged.items())}

    def damaged_experiments(self) -> dict[str, str]:
        """Experiments left out (with their runs) because experiment.json is damaged."""
        return {key: problem for key, (_, problem) in sorted(self._damaged_experiments.items())}

    def _still_damaged(self, run_id: str) -> bool:
        known = self._damaged.get(run_id)
        return known is not None and file_signature(self.layout.run_doc(run_id)) == known[0]

    # -- reading ----------------------------------------------------------------------------

    def query(self, sql: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return self._healthy(lambda: self.db.execute(sql, args).fetchall())

    def run_rows(self, run_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """Runs with their params, tags, latest metrics and experiment name, by id."""
        return self._healthy(lambda: self._run_rows(run_ids))

    def _run_rows(self, run_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        result: dict[str, dict[str, Any]] = {}
        params: dict[str, dict[str, str]] = {}
        tags: dict[str, dict[str, str]] = {}
        metrics: dict[str, dict[str, Metric]] = {}
        nan = float("nan")
        for chunk in _chunks(run_ids):
            marks = ",".join("?" * len(chunk))
            for row in self.db.execute(
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
                for run_id, key, value in self.db.execute(
                    f"SELECT run_id, key, value FROM {table} WHERE run_id IN ({marks})", chunk
                ):
                    values = target.get(run_id)
                    if values is not None:
                        values[key] = value
            for run_id, key, value, is_nan, step, timestamp in self.db.execute(
                "SELECT run_id, key, value, is_nan, step, timestamp FROM latest_metrics "
                f"WHERE run_id IN ({marks})",
                chunk,
            ):
                latest = metrics.get(run_id)
                if latest is not None:
                    number = nan if is_nan else float(value or 0.0)
                    latest[key] = Metric(key, number, step, timestamp)
        return result

    # -- internals ----------------------------------------------------------------------------

    @contextlib.contextmanager
    def _write(self) -> Iterator[None]:
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            with contextlib.suppress(sqlite3.Error):  # SQLite may have rolled back already
                self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    @contextlib.contextmanager
    def _bulk(self, new_runs: int) -> Iterator[None]:
        """Inside a write transaction: when many runs are new to the index, drop the
        secondary indexes while their rows go in and build them once at the end
        (several times cheaper than keeping them up to date row by row)."""
        if new_runs < _BULK_MIN_RUNS:
            yield
            return
        for name, _ in _SECONDARY_INDEXES:
            self.db.execute(f"DROP INDEX IF EXISTS {name}")
        yield
        for _, statement in _SECONDARY_INDEXES:
            self.db.execute(statement)

    def _known_rows(self, run_ids: Sequence[str]) -> list[tuple[Any, ...]]:
        rows = []
        for chunk in _chunks(run_ids):
            marks = ",".join("?" * len(chunk))
            rows += self.db.execute(
                f"{_KNOWN_RUNS_SQL} WHERE run_id IN ({marks})", chunk
            ).fetchall()
        return rows

    def _read_journal(self, full_check: bool) -> tuple[int, int, set[str] | None]:
        """(stored offset, new offset, run ids named since) — None for the ids when the
        journal is not the one the index read before."""
        meta = dict(self.db.execute("SELECT key, value FROM meta"))
        offset = int(meta.get("journal_offset", "0"))
        identity = self.journal.identity()
        size = self.journal.size()
        if full_check:
            return offset, size, set()
        if identity != meta.get("journal_identity", identity) or size < offset:
            return -1, size, None
        if size == offset:
            return offset, offset, set()
        touched, end = self.journal.read(offset)
        return offset, end, touched

    def _scan_runs(self, run_ids: Sequence[str], rows: dict[str, tuple[Any, ...]]) -> None:
        """Bring these runs' rows up to date from their files (inside a write
        transaction); ``rows`` holds the known rows of those already indexed."""
        requests = []
        for run_id in sorted(run_ids):  # in key order, rows append to the B-trees
            row = rows.get(run_id)
            offsets = (row[3], row[4], row[5]) if row else (0, 0, 0)
            requests.append((run_id, row[2] if row else None, offsets))
        pending = _PendingRows()
        for read in read_runs(str(self.layout.runs_dir), requests, self.log_chunk_bytes):
            self._apply_read(read, rows.get(read.run_id), pending)
            if pending.size() >= _FLUSH_ROWS:
                self._flush(pending)
        self._flush(pending)

    def _flush(self, pending: _PendingRows) -> None:
        """Insert the rows gathered from many runs: one statement per table."""
        self.db.executemany(
            "INSERT INTO runs (experiment_id, run_name, status, start_time, end_time, "
            "lifecycle_stage, deleted_time, user_id, parent_run_id, doc_signature, "
            "params_offset, tags_offset, metrics_offset, run_id) "
            "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            pending.runs,
        )
        self.db.executemany(
            "INSERT OR IGNORE INTO params (run_id, key, value) VALUES (?, ?, ?)", pending.params
        )
        self.db.executemany(
            "INSERT OR REPLACE INTO tags (run_id, key, value) VALUES (?, ?, ?)", pending.tags
        )
        self.db.executemany(
            "INSERT OR REPLACE INTO latest_metrics (run_id, key, value, is_nan, step, timestamp) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            pending.metrics,
        )
        pending.clear()

    def _scan_run(self, run_id: str) -> None:
        row = self.db.execute(f"{_KNOWN_RUNS_SQL} WHERE run_id = ?", (run_id,)).fetchone()
        self._scan_runs([run_id], {run_id: row} if row else {})

    def _apply_read(
        self, read: RunRead, row: tuple[Any, ...] | None, pending: _PendingRows
    ) -> None:
        """Write what ``read_run`` found in one run's files (rows of params, tags and
        metrics go to ``pending``, for the caller to flush)."""
        run_id = read.run_id
        if read.signature is None:
            if row is not None and not self.layout.run_dir(run_id).exists():
                self._forget_run(run_id)
            return  # a folder without run.json is not a run
        if read.damage is not None:
            self._damaged[run_id] = (read.signature, read.damage)
            if row is not None:
                self._forget_run(run_id)  # listed as damaged, not with what it used to say
            return
        self._damaged.pop(run_id, None)
        offsets = [row[3], row[4], row[5]] if row else [0, 0, 0]
        ends = list(offsets)
        for position, log in enumerate(LOGS):
            part = read.logs.get(log)
            if part is None:
                continue
            if part.replaced:  # the log was replaced: forget what was read of it
                self.db.execute(f"DELETE FROM {_LOG_TABLE[log]} WHERE run_id = ?", (run_id,))
            fresh = part.replaced or offsets[position] == 0
            getattr(self, f"_apply_{log}")(run_id, part, fresh, pending)
            ends[position] = part.end
        if row is None:  # a new run: its row goes in with the others, offsets included
            assert read.doc is not None
            pending.runs.append((*_run_values(read.doc, read.signature), *ends, run_id))
            return
        if read.doc is not None:
            self._upsert_run(run_id, read.doc, read.signature)
        if ends != offsets:
            self.db.execute(
                "UPDATE runs SET params_offset = ?, tags_offset = ?, metrics_offset = ? "
                "WHERE run_id = ?",
                (*ends, run_id),
            )

    def _upsert_run(self, run_id: str, doc: dict[str, Any], signature: str) -> None:
        values = _run_values(doc, signature)
        updated = self.db.execute(
            "UPDATE runs SET experiment_id=?, run_name=?, status=?, start_time=?, end_time=?, "
            "lifecycle_stage=?, deleted_time=?, user_id=?, parent_run_id=?, doc_signature=? "
            "WHERE run_id=?",
            (*values, run_id),
        ).rowcount
        if not updated:
            self.db.execute(
                "INSERT INTO runs (experiment_id, run_name, status, start_time, end_time, "
                "lifecycle_stage, deleted_time, user_id, parent_run_id, doc_signature, run_id) "
                "VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                (*values, run_id),
            )

    def _apply_params(self, run_id: str, part: LogRead, fresh: bool, pending: _PendingRows) -> None:
        pending.params += [(run_id, key, value) for key, value in part.params]

    def _apply_tags(self, run_id: str, part: LogRead, fresh: bool, pending: _PendingRows) -> None:
        deleted = [(run_id, key) for key, value in part.tags.items() if value is None]
        if deleted and not fresh:
            self.db.executemany("DELETE FROM tags WHERE run_id = ? AND key = ?", deleted)
        pending.tags += [(run_id, k, v) for k, v in part.tags.items() if v is not None]

    def _apply_metrics(
        self, run_id: str, part: LogRead, fresh: bool, pending: _PendingRows
    ) -> None:
        latest: dict[str, Metric] = {}
        if not fresh:  # nothing is indexed for a log read from its start
            latest = {
                key: _metric(key, value, is_nan, step, timestamp)
                for key, value, is_nan, step, timestamp in self.db.execute(
                    "SELECT key, value, is_nan, step, timestamp FROM latest_metrics "
                    "WHERE run_id = ?",
                    (run_id,),
                )
            }
        for key, metric in part.metrics.items():
            current = latest.get(key)
            if current is None or metric.sort_key() >= current.sort_key():
                pending.metrics.append(_metric_row(run_id, metric))

    def _forget_run(self, run_id: str) -> None:
        for table in ("runs", "params", "tags", "latest_metrics"):
            self.db.execute(f"DELETE FROM {table} WHERE run_id = ?", (run_id,))

    def _changed_experiments(self) -> list[tuple[str, str | None]]:
        """(experiment id, signature or None when gone) for experiments whose document
        differs from what the index holds."""
        indexed = dict(self.db.execute("SELECT experiment_id, signature FROM experiments"))
        try:
            names = [n for n in os.listdir(self.layout.experiments_dir) if not n.startswith(".")]
        except FileNotFoundError:
            names = []
        changed: list[tuple[str, str | None]] = []
        for name in names:
            signature = file_signature(self.layout.experiment_doc(name))
            damaged = self._damaged_experiments.get(name)
            if damaged is not None and damaged[0] == signature:
                continue
            if signature is not None and indexed.get(name) != signature:
                changed.append((name, signature))
        changed += [(name, None) for name in indexed if name not in names]
        return changed

    def _store_experiments(self, changed: list[tuple[str, str | None]]) -> None:
        for experiment_id, signature in changed:
            if signature is None:
                self.db.execute("DELETE FROM experiments WHERE experiment_id = ?", (experiment_id,))
                continue
            try:
                doc, problem = read_document(self.layout.experiment_doc(experiment_id))
            except FileNotFoundError:
                continue
            problem = problem or experiment_doc_problem(doc)
            if problem is not None:  # left out, with its runs, and said so
                self._damaged_experiments[experiment_id] = (signature, problem)
                self.db.execute("DELETE FROM experiments WHERE experiment_id = ?", (experiment_id,))
                continue
            self._damaged_experiments.pop(experiment_id, None)
            self.db.execute(
                "INSERT OR REPLACE INTO experiments (experiment_id, name, lifecycle_stage, "
                "creation_time, last_update_time, signature) VALUES (?, ?, ?, ?, ?, ?)",
                (
                    experiment_id,
                    doc.get("name", ""),
                    doc.get("lifecycle_stage", "active"),
                    doc.get("creation_time"),
                    doc.get("last_update_time"),
                    signature,
                ),
            )

    def _set_meta(self, key: str, value: str) -> None:
        self.db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))


@dataclass
class _PendingRows:
    """Rows read from run files, not yet inserted (inserting many at once is cheaper)."""

    runs: list[tuple[Any, ...]] = field(default_factory=list)  # new runs only
    params: list[tuple[Any, ...]] = field(default_factory=list)
    tags: list[tuple[Any, ...]] = field(default_factory=list)
    metrics: list[tuple[Any, ...]] = field(default_factory=list)

    def size(self) -> int:
        return len(self.runs) + len(self.params) + len(self.tags) + len(self.metrics)

    def clear(self) -> None:
        self.runs, self.params, self.tags, self.metrics = [], [], [], []


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


_FLUSH_ROWS = 50_000
_KNOWN_RUNS_SQL = (
    "SELECT run_id, status, doc_signature, params_offset, tags_offset, metrics_offset FROM runs"
)
_LOG_TABLE = {"params": "params", "tags": "tags", "metrics": "latest_metrics"}


def _open_connection(layout: StoreLayout) -> tuple[sqlite3.Connection, Path]:
    """A connection to the store's index and its path: the per-user fallback when the
    store is read-only to us."""
    path = layout.index_path
    try:
        return _connect_checked(path, layout.root), path
    except PermissionError:
        fallback = _fallback_index_path(layout.root)
        return _connect_checked(fallback, layout.root), fallback


def _file_identity(path: Path) -> tuple[int, int] | None:
    """Which file ``path`` names now (None when none): changes when it is replaced."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return st.st_dev, st.st_ino


# SQLite's result codes for a file that is not a sound database (a damaged page, a
# file of another kind, one cut short); anything else (a busy lock, a full disk) is
# not a reason to throw the index away.
_DAMAGE_CODES = {11, 26, 522}  # SQLITE_CORRUPT, SQLITE_NOTADB, SQLITE_IOERR_SHORT_READ
_DAMAGE_WORDS = ("malformed", "not a database", "no such table", "no such column")


def _is_damage(exc: sqlite3.DatabaseError) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)  # Python 3.11+
    if code is not None and (code in _DAMAGE_CODES or code & 0xFF in _DAMAGE_CODES):
        return True
    return any(word in str(exc).lower() for word in _DAMAGE_WORDS)


def _connect_checked(path: Path, root: Path) -> sqlite3.Connection:
    """A connection to a usable index at ``path``: created, or reset when it is
    corrupt, of another schema version, or the index of another store."""
    path.parent.mkdir(parents=True, exist_ok=True)
    for attempt in range(2):
        try:
            db = _connect(path)
            share_like_folder(path)  # a store shared with a group shares its index too
            if _is_current(db, root):
                return db
            _reset(db, root)
            return db
        except sqlite3.DatabaseError as exc:
            if _is_permission_problem(exc):
                raise PermissionError(str(exc)) from exc
            if attempt:
                raise StoreError(f"cannot open the index at {path}: {exc}") from exc
            _delete_index_files(path)
    raise AssertionError("unreachable")


def _connect(path: Path) -> sqlite3.Connection:
    db = sqlite3.connect(path, timeout=60, isolation_level=None, check_same_thread=False)
    db.execute("PRAGMA busy_timeout = 60000")
    db.execute("PRAGMA journal_mode = WAL")
    db.execute("PRAGMA synchronous = NORMAL")
    # 64 MiB of page cache: building the index of 10k runs thrashes the default 2 MiB.
    db.execute("PRAGMA cache_size = -65536")
    return db


def _is_current(db: sqlite3.Connection, root: Path) -> bool:
    tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    if not set(_TABLES) <= tables:
        return False
    meta = dict(db.execute("SELECT key, value FROM meta"))
    db.execute("SELECT count(*) FROM runs").fetchone()  # raises on a damaged file
    return meta.get("schema_version") == SCHEMA_VERSION and meta.get("store_root") == str(root)


def _reset(db: sqlite3.Connection, root: Path) -> None:
    db.execute("BEGIN IMMEDIATE")
    try:
        for (name,) in db.execute(
            "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'"
        ).fetchall():
            db.execute(f'DROP TABLE IF EXISTS "{name}"')
        for statement in _SCHEMA.split(";"):
            if statement.strip():
                db.execute(statement)
        db.executemany(
            "INSERT INTO meta (key, value) VALUES (?, ?)",
            [("schema_version", SCHEMA_VERSION), ("store_root", str(root))],
        )
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


def _is_permission_problem(exc: sqlite3.DatabaseError) -> bool:
    text = str(exc).lower()
    return "readonly" in text or "read-only" in text or "unable to open" in text


def _delete_index_files(path: Path) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(f"{path}{suffix}")


def _fallback_index_path(root: Path) -> Path:
    """Where the index goes when the store is read-only to us: a per-user cache."""
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    digest = hashlib.sha1(str(root).encode()).hexdigest()[:16]
    return cache / "mlcli" / "indexes" / f"{digest}.db"


def _list_run_ids(layout: StoreLayout) -> list[str]:
    try:
        return [n for n in os.listdir(layout.runs_dir) if not n.startswith(".")]
    except FileNotFoundError:
        return []


def _files_changed(layout: StoreLayout, row: tuple[Any, ...]) -> bool:
    run_id, _status, doc_signature, params_offset, tags_offset, metrics_offset = row
    return (
        file_signature(layout.run_doc(run_id)) != doc_signature
        or file_size(layout.params_log(run_id)) != params_offset
        or file_size(layout.tags_log(run_id)) != tags_offset
        or file_size(layout.metrics_log(run_id)) != metrics_offset
    )


def _metric(key: str, value: float | None, is_nan: int, step: int, timestamp: int) -> Metric:
    return Metric(key, float("nan") if is_nan else float(value or 0.0), step, timestamp)


def _metric_row(run_id: str, metric: Metric) -> tuple[Any, ...]:
    is_nan = metric.value != metric.value
    return (
        run_id,
        metric.key,
        None if is_nan else metric.value,
        int(is_nan),
        metric.step,
        metric.timestamp,
    )


def _chunks(items: Sequence[str]) -> Iterator[list[str]]:
    items = list(items)
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]
