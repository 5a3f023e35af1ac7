"""Bringing the index up to date with the run files (how it stays cheap: see the
package's docstring, ``mlcli/store/index/__init__.py``).

A refresh of a store where nothing changed does no work that grows with the number of
runs: it does not list ``runs/`` nor load the rows of finished runs. What tells it
that no run folder came or went is the *stamp* of ``runs/`` (``_listing_stamp``):
device, inode, mtime, ctime and link count of the directory. Creating, renaming or
deleting an entry sets the directory's mtime and ctime; setting the mtime back (what
``rsync`` and ``tar`` do) sets the ctime, which nothing but the kernel sets; a copy
or a restore of the store is a new inode. A finished run that changes in place is
named by the change journal; live runs are checked by ``stat`` (only their rows are
read, by SQL).

The racy case (git's "racily clean" index): timestamps come from a coarse clock, so
a folder created right after the listing, in the same clock tick as the stat taken
before it, leaves the stamp unchanged. So the stamp is taken *before* listing, and it
is recorded only when the directory's last change (its mtime or ctime) lies more than
``RACY_SECONDS`` in the past by this host's clock: any later change then gets a
later timestamp. A stamp too recent to trust is not recorded, and the next refresh
lists again (a store that keeps changing is listed on every query, which is what it
costs anyway). The margin also covers a filesystem with 2 s timestamps (FAT) and a
file server whose clock is behind ours by less than its size.

When the stamp moved, the journal may account for it: a run created or purged by
mlcli is named in the journal after its folder came or went, and the link count of
``runs/`` (2 plus its subdirectories) moves by one for each. When the count moved by
exactly the named runs whose folders appeared or vanished (``_journal_accounts``),
those are all that changed, and ``runs/`` is not listed: a new run costs that run's
read, however many runs the store holds. Anything else (a folder another tool
copied in, a filesystem that does not count subdirectories) makes the counts differ,
and the refresh lists. A folder added by another tool while another is removed by
hand between two queries leaves the count as the journal explains it; it is found
at the next listing (or by ``mlcli index rebuild``).

Folders on disk that the runs table does not hold (a damaged ``run.json``, a folder
without one yet) are remembered in the index's meta (``unindexed_runs``), so that
a refresh that does not list still looks at them again (by ``stat``) and a new
process still warns about the damaged ones.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from mlcli.store.entities import RunStatus
from mlcli.store.index.cold import cold_build
from mlcli.store.index.experiments import changed_experiments, store_experiments
from mlcli.store.index.session import KNOWN_RUNS_SQL, IndexSession
from mlcli.store.index.summaries import TRUST, VERIFY
from mlcli.store.index.updates import forget_run, scan_runs
from mlcli.store.layout import StoreLayout
from mlcli.store.ownership import Claim, end_if_orphaned, is_gone, recorded_claim
from mlcli.store.scan import file_signature, files_changed

RACY_SECONDS = 2.0  # a stamp of runs/ changed less than this long ago is not trusted
STAMP_KEY = "runs_dir_stamp"  # meta: the trusted stamp of runs/ at the last listing
LINKS_KEY = "runs_dir_links"  # meta: "dev:ino:links" of runs/ as the index knows it, or ""
UNINDEXED_KEY = "unindexed_runs"  # meta: JSON list of run folders not in the runs table
_LIVE_RUNS_SQL = f"{KNOWN_RUNS_SQL} WHERE status IN ({','.join('?' * len(RunStatus.LIVE))})"

ProgressCallback = Callable[[int, int], None]


@dataclass(frozen=True)
class RefreshResult:
    scanned: int
    removed: int


def refresh(session: IndexSession) -> RefreshResult:
    """Read what changed: new, live, journal-named and vanished runs, and experiments
    (``runs/`` is listed only when its stamp says a folder may have come or gone)."""
    db, layout = session.db, session.layout
    meta = dict(db.execute("SELECT key, value FROM meta"))
    empty = db.execute("SELECT 1 FROM runs LIMIT 1").fetchone() is None
    journal_offset, journal_end, touched, chain = _read_journal(session, meta, full_check=empty)
    stamp = _listing_stamp(layout)  # before listing: see the module's docstring
    recorded_stamp = meta.get(STAMP_KEY) or None
    remembered = set(json.loads(meta.get(UNINDEXED_KEY, "[]")))
    gone: list[str] = []
    links = meta.get(LINKS_KEY) or ""
    if touched is None or stamp is None or stamp[0] != recorded_stamp:
        accounted, chained = None, False
        if touched is not None and stamp is not None and links:
            accounted = _journal_accounts(session, links, stamp[0], touched, remembered)
        if accounted is None and touched is not None and stamp is not None and recorded_stamp:
            accounted = _journal_chain(session, recorded_stamp, stamp[0], chain, touched)
            chained = accounted is not None
        if accounted is not None:  # every folder that came or went is a journaled one
            added, gone = accounted
            unindexed = remembered | added
            # A chain's last stamp was taken by its creator right after its change: a
            # settled clock now says nothing of the tick after it (see _journal_chain),
            # so it is recorded as it is; the next create chains from it.
            listed_stamp = stamp[0] if stamp[1] or chained else ""  # type: ignore[index]
            new_links = _links(stamp[0])  # type: ignore[index]
        else:
            on_disk, hidden_seen = _run_folders(layout)
            indexed = _indexed_ids(db)
            unindexed = on_disk - indexed
            gone = sorted(indexed - on_disk)
            listed_stamp = stamp[0] if stamp is not None and stamp[1] else ""
            # The count needs no settled clock, only a listing without staging folders.
            new_links = _links(stamp[0]) if stamp is not None and not hidden_seen else ""
    else:  # no folder came or went: only those left out last time may have changed
        unindexed = remembered
        listed_stamp = recorded_stamp or ""
        new_links = links
    if touched is None:  # the journal was replaced: check every known run by stat
        rows = db.execute(KNOWN_RUNS_SQL).fetchall()
    else:
        rows = db.execute(_LIVE_RUNS_SQL, tuple(RunStatus.LIVE)).fetchall()
        rows += session.known_rows(sorted(touched))
    gone_set = set(gone)
    changed = {row[0] for row in rows if row[0] not in gone_set and _files_changed(layout, row)}
    damaged = session.left_out.runs
    # A folder left out before is read again only if its run.json changed (one stat);
    # any other is read now: reading it is what tells, so no stat first (a million of
    # them, on a cold cache, cost minutes before the first run was read).
    to_scan = sorted(
        changed
        | {
            r
            for r in unindexed
            if (r not in remembered and r not in damaged) or not _still_left_out(session, r)
        }
    )
    for run_id in [r for r in damaged if r not in unindexed]:
        del damaged[run_id]
    experiments = changed_experiments(session)
    if (
        not to_scan
        and not gone
        and not experiments
        and journal_end == journal_offset
        and listed_stamp == (recorded_stamp or "")
        and new_links == links
        and unindexed == remembered
    ):
        return RefreshResult(0, 0)
    with session.write(), session.journal.pass_own_summaries(journal_end) as passed:
        known = {row[0]: row for row in session.known_rows(to_scan)}
        new = [run_id for run_id in to_scan if run_id not in known]
        with session.bulk(len(new)):
            scan_runs(session, [run_id for run_id in to_scan if run_id in known], known)
            # On every core when many are new; from the runs' summaries for a new index.
            cold_build(session, new, session.progress, summaries=TRUST if empty else None)
        for run_id in gone:
            if not layout.run_dir(run_id).exists():
                forget_run(db, run_id)
        store_experiments(session, experiments)
        session.set_meta("journal_offset", str(passed()))  # the summaries just written too
        session.set_meta("journal_identity", session.journal.identity())
        # Runs read as damaged just now were indexed before: they are left out now too.
        left_out = unindexed | set(damaged)
        still_out = left_out - {row[0] for row in session.known_rows(sorted(left_out))}
        if still_out != remembered:
            session.set_meta(UNINDEXED_KEY, json.dumps(sorted(still_out)))
        if listed_stamp != (recorded_stamp or ""):
            session.set_meta(STAMP_KEY, listed_stamp)
        if new_links != links:
            session.set_meta(LINKS_KEY, new_links)
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
    with session.write(), session.journal.pass_own_summaries(journal_end) as passed:
        for table in ("experiments", "runs", "params", "tags", "latest_metrics"):
            session.db.execute(f"DELETE FROM {table}")
        with session.bulk(len(run_ids)):
            cold_build(session, run_ids, progress, summaries=VERIFY)
        store_experiments(session, changed_experiments(session))
        session.set_meta("journal_offset", str(passed()))
        session.set_meta("journal_identity", session.journal.identity())
        session.set_meta(STAMP_KEY, "")  # the next refresh lists: who is left out now
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


def _read_journal(
    session: IndexSession, meta: dict[str, str], full_check: bool
) -> tuple[int, int, set[str] | None, list[tuple[str, str]]]:
    """(stored offset, new offset, run ids named since, the chain of ``runs/`` stamps
    their creates and purges recorded) — None for the ids when the journal is not the
    one the index read before."""
    offset = int(meta.get("journal_offset", "0"))
    identity = session.journal.identity()
    size = session.journal.size()
    if full_check:
        return offset, size, set(), []
    recorded = meta.get("journal_identity", identity)
    # A journal begun since the index last looked (there was none) is read from its
    # start, not taken for a replaced one: the first run created in a store that had
    # no journal would otherwise make the next query stat every run.
    begun = recorded == "" and offset == 0
    if (identity != recorded and not begun) or size < offset:
        return -1, size, None, []
    if size == offset:
        return offset, offset, set(), []
    touched, chain, end = session.journal.read_changes(offset)
    return offset, end, touched, chain


def _still_left_out(session: IndexSession, run_id: str) -> bool:
    """Whether a folder the runs table does not hold is as it was: still without a
    run.json, or with the same damaged one (one stat)."""
    signature = file_signature(session.layout.run_doc(run_id))
    known = session.left_out.runs.get(run_id)
    return signature is None or (known is not None and signature == known[0])


def _listing_stamp(layout: StoreLayout) -> tuple[str, bool] | None:
    """The stamp of ``runs/`` (None when there is none), and whether it is old enough
    to be trusted to change with the next folder created or deleted (see the module's
    docstring)."""
    try:
        st = os.stat(layout.runs_dir)
    except FileNotFoundError:
        return None
    stamp = f"{st.st_dev}:{st.st_ino}:{st.st_mtime_ns}:{st.st_ctime_ns}:{st.st_nlink}"
    last_change = max(st.st_mtime_ns, st.st_ctime_ns)
    return stamp, time.time_ns() - last_change > RACY_SECONDS * 1e9


def _list_run_ids(layout: StoreLayout) -> list[str]:
    try:
        return [n for n in os.listdir(layout.runs_dir) if not n.startswith(".")]
    except FileNotFoundError:
        return []


def _run_folders(layout: StoreLayout) -> tuple[set[str], bool]:
    """The names in ``runs/`` but hidden ones (staging and trash folders), and whether
    there were hidden ones."""
    try:
        names = set(os.listdir(layout.runs_dir))
    except FileNotFoundError:
        return set(), False
    hidden = [n for n in names if n[0] == "."]
    names.difference_update(hidden)
    return names, bool(hidden)


def _journal_accounts(
    session: IndexSession, recorded: str, current: str, touched: set[str], left_out: set[str]
) -> tuple[set[str], list[str]] | None:
    """The run folders that came and went since the recorded stamp, when the journal
    accounts for every one of them (None: list ``runs/`` to find out).

    A directory's link count is 2 plus its subdirectories (XFS, tmpfs, and ext4 up to
    64,998 of them; btrfs, some network filesystems and a larger ext4 directory report
    1, and are listed). Every mlcli write that adds or
    removes a run folder names the run in the journal after doing it, so when the
    count moved by exactly the named runs whose folders appeared or vanished, no other
    folder came or went. The recorded count (``dev:ino:links``) must be *exact*: taken
    when ``runs/`` held no hidden (staging, trash) folder, whose coming and going the
    journal does not name. It needs no settled clock (unlike the stamp): a folder that
    came between the count and the listing is indexed and named later, and the counts
    then differ, so the refresh lists; one that came after the listing is named and
    counted. Any unexplained change (a folder copied in by another tool, a create still
    under way) makes the counts differ, and the refresh lists."""
    old, new = recorded.split(":"), current.split(":")
    if len(old) != 3 or len(new) != 5 or old[:2] != new[:2]:
        return None  # another directory (a restore, a copy): list it
    old_links, new_links = int(old[2]), int(new[4])
    if old_links < 2 or new_links < 2:
        return None
    known = {row[0] for row in session.known_rows(sorted(touched))}
    runs_dir = os.fspath(session.layout.runs_dir)
    added = {
        r
        for r in touched
        if r not in known and r not in left_out and os.path.isdir(os.path.join(runs_dir, r))
    }
    gone = sorted(r for r in known if not os.path.isdir(os.path.join(runs_dir, r)))
    if new_links != old_links + len(added) - len(gone):
        return None
    return added, gone


def _journal_chain(
    session: IndexSession,
    recorded: str,
    current: str,
    chain: list[tuple[str, str]],
    touched: set[str],
) -> tuple[set[str], list[str]] | None:
    """The run folders that came and went since the recorded stamp, when the creates
    and purges named in the journal account for every change of ``runs/`` (None: list
    it). Where the link count says nothing (an ext4 ``runs/`` of more than 64,998 runs,
    btrfs), each create and purge records the stamp of ``runs/`` just before and just
    after it: when they chain from the stamp the index recorded to the stamp now, each
    one following the last, nothing else changed ``runs/`` in between (any other
    entry made or removed moves its modification time). The journal's creates and
    purges are then all that came and went.

    What a chain cannot see: where timestamps are as coarse as the clock tick (Linux
    before 6.13's multigrain timestamps), an entry another tool makes in the same tick
    just after a stamp was taken leaves the stamp as it was. A settled clock at the
    refresh does not help (the tick is long past), so a chain's stamp is recorded
    even when recent; such a folder is found at the next listing."""
    old, new = recorded.split(":"), current.split(":")
    if len(old) != 5 or len(new) != 5 or old[:2] != new[:2] or not chain:
        return None  # another directory, or a change the journal does not explain
    stamp = f"{old[2]}:{old[3]}"
    for before, after in chain:
        if before != stamp:
            return None
        stamp = after
    if stamp != f"{new[2]}:{new[3]}":
        return None
    runs_dir = os.fspath(session.layout.runs_dir)
    known = {row[0] for row in session.known_rows(sorted(touched))}
    added = {r for r in touched if r not in known and os.path.isdir(os.path.join(runs_dir, r))}
    gone = sorted(r for r in known if not os.path.isdir(os.path.join(runs_dir, r)))
    return added, gone


def _links(stamp: str) -> str:
    """``dev:ino:links`` of a stamp of ``runs/``."""
    dev, ino, _mtime, _ctime, links = stamp.split(":")
    return f"{dev}:{ino}:{links}"


def _indexed_ids(db: sqlite3.Connection) -> set[str]:
    """The ids of the indexed runs: one string from SQLite, split (a third cheaper
    than a row per run; no folder name holds a ``/``)."""
    (joined,) = db.execute("SELECT group_concat(run_id, '/') FROM runs").fetchone()
    return set(joined.split("/")) if joined else set()


def _files_changed(layout: StoreLayout, row: tuple[Any, ...]) -> bool:
    """Whether a run's files changed since the index read them (``scan.files_changed``)."""
    return files_changed(os.fspath(layout.runs_dir), row)
