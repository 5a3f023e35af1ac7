"""What bringing the index up to date works on: the connection, the store's files, and
the runs and experiments left out as damaged; with the transactions writes go in."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from mlcli.store.changes import ChangeJournal
from mlcli.store.index.rows import chunks
from mlcli.store.index.schema import SECONDARY_INDEXES
from mlcli.store.layout import StoreLayout

BULK_MIN_RUNS = 1_000
KNOWN_RUNS_SQL = (
    "SELECT run_id, status, doc_signature, params_offset, tags_offset, metrics_offset FROM runs"
)


@dataclass
class LeftOut:
    """Runs and experiments left out because their run.json or experiment.json is
    damaged: id -> (the file's signature, what is wrong). Read again only when the file
    changes."""

    runs: dict[str, tuple[str | None, str]] = field(default_factory=dict)
    experiments: dict[str, tuple[str | None, str]] = field(default_factory=dict)


@dataclass(frozen=True)
class IndexSession:
    db: sqlite3.Connection
    layout: StoreLayout
    journal: ChangeJournal
    left_out: LeftOut
    log_chunk_bytes: int  # logs are read and folded this much at a time
    #: Told (runs read, runs to read) while a refresh reads many runs new to the index.
    progress: Callable[[int, int], None] | None = None
    #: Whether finished runs read get their summaries appended to the journal: by the
    #: store's own index only, not by the index each host keeps of a shared store
    #: (``MLCLI_INDEX``, a read-only store's), which would append the same ones again.
    summarize: bool = True

    @contextlib.contextmanager
    def write(self) -> Iterator[None]:
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            with contextlib.suppress(sqlite3.Error):  # SQLite may have rolled back already
                self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    @contextlib.contextmanager
    def bulk(self, new_runs: int) -> Iterator[None]:
        """Inside a write transaction: when many runs are new to the index, drop the
        secondary indexes while their rows go in and build them once at the end
        (several times cheaper than keeping them up to date row by row)."""
        if new_runs < BULK_MIN_RUNS:
            yield
            return
        for name, _ in SECONDARY_INDEXES:
            self.db.execute(f"DROP INDEX IF EXISTS {name}")
        yield
        for _, statement in SECONDARY_INDEXES:
            self.db.execute(statement)

    def known_rows(self, run_ids: Sequence[str]) -> list[tuple[Any, ...]]:
        """The rows (``KNOWN_RUNS_SQL``) of those of ``run_ids`` the index holds."""
        rows = []
        for chunk in chunks(run_ids):
            marks = ",".join("?" * len(chunk))
            rows += self.db.execute(f"{KNOWN_RUNS_SQL} WHERE run_id IN ({marks})", chunk).fetchall()
        return rows

    def set_meta(self, key: str, value: str) -> None:
        self.db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))
