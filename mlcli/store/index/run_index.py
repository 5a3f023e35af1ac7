"""``RunIndex``: one store's index, answering on a sound connection to the current file."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

from mlcli.files.fileio import LOG_CHUNK_BYTES
from mlcli.store.changes import ChangeJournal
from mlcli.store.index import refresh as refreshing
from mlcli.store.index.connection import (
    delete_index_files,
    file_identity,
    is_damage,
    open_connection,
)
from mlcli.store.index.refresh import ProgressCallback, RefreshResult
from mlcli.store.index.rows import run_rows
from mlcli.store.index.session import IndexSession, LeftOut
from mlcli.store.layout import StoreLayout
from mlcli.store.ownership import Claim

T = TypeVar("T")


class RunIndex:
    """One store's index. Open it with :meth:`open`; every query refreshes first."""

    log_chunk_bytes = LOG_CHUNK_BYTES  # logs are read and folded this much at a time
    sql_dialect = "sqlite"

    def __init__(self, layout: StoreLayout, connection: sqlite3.Connection, path: Path) -> None:
        self.layout = layout
        self.path = path
        self.db = connection
        self.journal = ChangeJournal(layout.changes_log)
        self._identity = file_identity(path)
        self._left_out = LeftOut()
        self._owners: dict[str, tuple[str | None, Claim | None]] = {}  # see end_orphaned_runs
        #: Told (runs read, runs to read) when a refresh reads many new runs (a cold index).
        self.progress: ProgressCallback | None = None

    # -- opening ----------------------------------------------------------------------------

    @classmethod
    def open(cls, layout: StoreLayout) -> RunIndex:
        return cls(layout, *open_connection(layout))

    def close(self) -> None:
        self.db.close()

    def _healthy(self, action: Callable[[], T]) -> T:
        """``action`` on a sound connection to the current index file.

        A long-running reader outlives index files: another process may replace the
        file (``mlcli index rebuild`` of a damaged one), or anything may damage it. A
        replaced file is reopened; a damaged one is discarded and rebuilt from the run
        files; either way the action runs again, on an index brought up to date.
        """
        if file_identity(self.path) != self._identity:
            self._reopen(discard=False)
        try:
            return action()
        except sqlite3.DatabaseError as exc:
            replaced = file_identity(self.path) != self._identity
            if not replaced and not is_damage(exc):
                raise
            with contextlib.suppress(sqlite3.Error):
                self.db.execute("ROLLBACK")  # an action may fail inside a transaction
            self._reopen(discard=not replaced)
            refreshing.refresh(self._session())
            return action()

    def _reopen(self, discard: bool) -> None:
        with contextlib.suppress(sqlite3.Error):
            self.db.close()
        if discard:
            with contextlib.suppress(PermissionError):  # not ours: open falls back to our own
                delete_index_files(self.path)
        connection, self.path = open_connection(self.layout)
        self.db = connection
        self._identity = file_identity(self.path)

    def _session(self) -> IndexSession:
        """What a refresh works on, with the connection open now (``_reopen`` replaces it)."""
        own = self.path == self.layout.root / "index.db"
        return IndexSession(
            self.db,
            self.layout,
            self.journal,
            self._left_out,
            self.log_chunk_bytes,
            self.progress,
            summarize=own,
        )

    # -- refreshing -------------------------------------------------------------------------

    def refresh(self) -> RefreshResult:
        """Bring the index up to date with the files (see the package's docstring)."""
        result = self._healthy(lambda: refreshing.refresh(self._session()))
        self._healthy(lambda: refreshing.end_orphaned_runs(self._session(), owners=self._owners))
        return result

    def refresh_runs(self, run_ids: Iterable[str]) -> None:
        """Bring just these runs up to date (``get_run`` needs no directory listing)."""
        run_ids = list(run_ids)
        self._healthy(lambda: refreshing.end_orphaned_runs(self._session(), run_ids))
        self._healthy(lambda: refreshing.refresh_runs(self._session(), run_ids))

    def rebuild(self, progress: ProgressCallback | None = None) -> int:
        """Forget everything and read every run again; returns the number of runs
        indexed (runs with a damaged run.json are left out: see :meth:`damaged_runs`)."""
        return self._healthy(lambda: refreshing.rebuild(self._session(), progress))

    def damaged_runs(self) -> dict[str, str]:
        """Runs the last refresh left out because their run.json is damaged: run id ->
        what is wrong with it."""
        return {run_id: problem for run_id, (_, problem) in sorted(self._left_out.runs.items())}

    def damaged_experiments(self) -> dict[str, str]:
        """Experiments left out (with their runs) because experiment.json is damaged."""
        left_out = self._left_out.experiments
        return {key: problem for key, (_, problem) in sorted(left_out.items())}

    # -- reading ----------------------------------------------------------------------------

    def query(self, sql: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return self._healthy(lambda: self.db.execute(sql, args).fetchall())

    def iter_query(
        self, sql: str, args: Sequence[Any] = (), batch: int = 1000
    ) -> Iterator[list[tuple[Any, ...]]]:
        """The rows of ``sql`` a batch at a time, as SQLite produces them: memory stays
        that of one batch however many rows match."""
        cursor = self._healthy(lambda: self.db.execute(sql, args))
        while rows := cursor.fetchmany(batch):
            yield rows

    def run_rows(self, run_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """Runs with their params, tags, latest metrics and experiment name, by id."""
        return self._healthy(lambda: run_rows(self.db, run_ids))
