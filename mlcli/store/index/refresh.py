"""Bringing the index up to date with the run files (how it stays cheap: see the
package's docstring, ``mlcli/store/index/__init__.py``)."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from mlcli.files.fileio import file_size
from mlcli.store.entities import RunStatus
from mlcli.store.index.experiments import changed_experiments, store_experiments
from mlcli.store.index.session import KNOWN_RUNS_SQL, IndexSession
from mlcli.store.index.updates import forget_run, scan_runs
from mlcli.store.layout import METRICS_LOG, PARAMS_LOG, RUN_DOC, TAGS_LOG, StoreLayout
from mlcli.store.ownership import Claim, end_if_orphaned, is_gone, recorded_claim
from mlcli.store.scan import file_signature

_REBUILD_BATCH = 5_000

ProgressCallback = Callable[[int, int], None]


@dataclass(frozen=True)
class RefreshResult:
    scanned: int
    removed: int


def refresh(session: IndexSession) -> RefreshResult:
    """Read what changed: new, live, journal-named and vanished runs, and experiments."""
    db, layout, damaged = session.db, session.layout, session.left_out.runs
    on_disk = set(_list_run_ids(layout))
    known = {row[0]: row for row in db.execute(KNOWN_RUNS_SQL)}
    journal_offset, journal_end, touched = _read_journal(session, full_check=not known)
    if touched is None:  # the journal was replaced: check every known run by stat
        touched = set(known)
    candidates = (on_disk - known.keys()) | {
        run_id
        for run_id, row in known.items()
        if run_id in on_disk and (row[1] in RunStatus.LIVE or run_id in touched)
    }
    for run_id in [r for r in damaged if r not in on_disk]:
        del damaged[run_id]
    to_scan = [
        r
        for r in candidates
        if (r not in known or _files_changed(layout, known[r])) and not _still_damaged(session, r)
    ]
    gone = [run_id for run_id in known if run_id not in on_disk]
    experiments = changed_experiments(session)
    if not to_scan and not gone and not experiments and journal_end == journal_offset:
        return RefreshResult(0, 0)
    with session.write():
        rows = {row[0]: row for row in session.known_rows(to_scan)}
        with session.bulk(len(to_scan) - len(rows)):
            scan_runs(session, to_scan, rows)
        for run_id in gone:
            if not layout.run_dir(run_id).exists():
                forget_run(db, run_id)
        store_experiments(session, experiments)
        session.set_meta("journal_offset", str(journal_end))
        session.set_meta("journal_identity", session.journal.identity())
    return RefreshResult(len(to_scan), len(gone))


def refresh_runs(session: IndexSession, run_ids: list[str]) -> None:
    """Bring just these runs up to date (no directory listing)."""
    rows = {row[0]: row for row in session.known_rows(run_ids)}
    stale = [r for r in run_ids if r not in rows or _files_changed(session.layout, rows[r])]
    if not stale:
        return
    experiments = changed_experiments(session)
    with session.write():
        scan_runs(session, stale, {row[0]: row for row in session.known_rows(stale)})
        store_experiments(session, experiments)


def rebuild(session: IndexSession, progress: ProgressCallback | None) -> int:
    """Forget everything and read every run again; returns the number of runs indexed."""
    run_ids = _list_run_ids(session.layout)
    session.left_out.runs.clear()
    session.left_out.experiments.clear()
    journal_end = session.journal.size()
    with session.write():
        for table in ("experiments", "runs", "params", "tags", "latest_metrics"):
            session.db.execute(f"DELETE FROM {table}")
        with session.bulk(len(run_ids)):
            for start in range(0, len(run_ids), _REBUILD_BATCH):
                scan_runs(session, run_ids[start : start + _REBUILD_BATCH], {})
                if progress:
                    progress(min(start + _REBUILD_BATCH, len(run_ids)), len(run_ids))
        store_experiments(session, changed_experiments(session))
        session.set_meta("journal_offset", str(journal_end))
        session.set_meta("journal_identity", session.journal.identity())
    return int(session.db.execute("SELECT count(*) FROM runs").fetchone()[0])


def end_orphaned_runs(
    session: IndexSession,
    run_ids: list[str] | None = None,
    owners: dict[str, tuple[str | None, Claim | None]] | None = None,
) -> None:
    """End the live runs whose owner (a process, a Slurm job) is gone (``ownership.py``):
    every run the index holds as RUNNING or SCHEDULED, or those of ``run_ids`` (indexed
    yet or not).

    ``owners`` remembers, between sweeps, the owner and heartbeat each RUNNING run's
    document records, by the document's signature: a sweep reads only the documents
    that changed, so a store with thousands of live runs (a team server's, most of them
    without an owner on this host) does not pay for reading them all on every query."""
    if run_ids is None:
        rows = session.db.execute(
            "SELECT run_id, doc_signature FROM runs WHERE status IN (?, ?)",
            (RunStatus.RUNNING, RunStatus.SCHEDULED),
        ).fetchall()
        if owners is not None:
            running = {run_id for run_id, _ in rows}
            for stale in [r for r in owners if r not in running]:
                del owners[stale]
        candidates = []
        for run_id, signature in rows:
            remembered = None if owners is None else owners.get(run_id)
            if remembered is not None and remembered[0] == signature:
                claim = remembered[1]
            else:
                claim = recorded_claim(session.layout, run_id)
                if owners is not None:
                    owners[run_id] = (signature, claim)
            if claim is not None and is_gone(claim):
                candidates.append(run_id)
    else:
        known = {row[0]: row for row in session.known_rows(run_ids)}
        candidates = [r for r in run_ids if r not in known or known[r][1] in RunStatus.LIVE]
    ended = [run_id for run_id in candidates if end_if_orphaned(session.layout, run_id)]
    if ended and run_ids is None:
        refresh_runs(session, ended)


def _read_journal(session: IndexSession, full_check: bool) -> tuple[int, int, set[str] | None]:
    """(stored offset, new offset, run ids named since) — None for the ids when the
    journal is not the one the index read before."""
    meta = dict(session.db.execute("SELECT key, value FROM meta"))
    offset = int(meta.get("journal_offset", "0"))
    identity = session.journal.identity()
    size = session.journal.size()
    if full_check:
        return offset, size, set()
    if identity != meta.get("journal_identity", identity) or size < offset:
        return -1, size, None
    if size == offset:
        return offset, offset, set()
    touched, end = session.journal.read(offset)
    return offset, end, touched


def _still_damaged(session: IndexSession, run_id: str) -> bool:
    known = session.left_out.runs.get(run_id)
    return known is not None and file_signature(session.layout.run_doc(run_id)) == known[0]


def _list_run_ids(layout: StoreLayout) -> list[str]:
    try:
        return [n for n in os.listdir(layout.runs_dir) if not n.startswith(".")]
    except FileNotFoundError:
        return []


def _files_changed(layout: StoreLayout, row: tuple[Any, ...]) -> bool:
    """Whether a run's files changed since the index read them: four stats. Paths are
    joined as text, not through pathlib, which cost three times the stats themselves
    when a refresh checks thousands of live runs."""
    run_id, _status, doc_signature, params_offset, tags_offset, metrics_offset = row
    folder = os.path.join(os.fspath(layout.runs_dir), run_id)
    return (
        file_signature(os.path.join(folder, RUN_DOC)) != doc_signature
        or file_size(os.path.join(folder, PARAMS_LOG)) != params_offset
        or file_size(os.path.join(folder, TAGS_LOG)) != tags_offset
        or file_size(os.path.join(folder, METRICS_LOG)) != metrics_offset
    )
