"""Ending the team store's live runs whose owner is gone, as readers of a local store do
(``mlcli.store.ownership``, ``index/refresh.py``): before a search, and before a get.

One query finds the live runs (RUNNING, SCHEDULED) whose document records an owner,
through the index on ``runs.status``: its cost grows with the live runs, never with the
finished ones. Each claim (owner and heartbeat) is judged by ``ownership.ending``, from
this process: an owner process on this host (same boot, same pid namespace) by looking
at it, one elsewhere by its heartbeat; a Slurm job or Kubernetes Job by asking its
scheduler, where it can be asked from here. Such an ask costs ~10 ms, so a verdict that
a job lives is kept for ``RECHECK_SECONDS`` while the run's claim is unchanged: a
server answering many reads asks about each job at most that often. Looking at a
process or a heartbeat costs microseconds and is done on every sweep.

A run whose owner is gone is ended in one transaction under its row's lock, after
reading its document again (``TeamRuns.end_orphaned``): replicas racing end it once,
and the write reaches the bucket like any other (the run is dirty, then flushed).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from mlcli.store.entities import RunStatus
from mlcli.store.heartbeat import HEARTBEAT_FIELD
from mlcli.store.ownership import (
    OWNER_FIELD,
    Claim,
    KubernetesJobOwner,
    SlurmJobOwner,
    ending,
    live_claim,
)

if TYPE_CHECKING:
    from mlcli.store.team.store import TeamStore

RECHECK_SECONDS = 5.0  # a scheduler's "this job lives" holds this long for a claim

_LIVE_OWNED = (
    f"SELECT run_id, status, doc->'{OWNER_FIELD}', doc->'{HEARTBEAT_FIELD}' FROM runs "
    f"WHERE status = ANY(%s) AND jsonb_typeof(doc->'{OWNER_FIELD}') = 'object'"
)


class OrphanSweeper:
    """Ends the runs whose owner is gone, for one team store in this process."""

    def __init__(self, store: TeamStore) -> None:
        self._store = store
        self._lock = threading.Lock()
        self._alive: dict[str, tuple[Claim, float]] = {}  # run -> claim asked about, when

    def sweep(self, run_ids: Sequence[str] | None = None) -> list[str]:
        """End the live runs (those of ``run_ids``, else every one) whose owner is gone;
        the ids of those ended here."""
        sql, args = _LIVE_OWNED, [sorted(RunStatus.LIVE)]
        if run_ids is not None:
            if not run_ids:
                return []
            sql, args = sql + " AND run_id = ANY(%s)", [*args, list(run_ids)]
        claims = {}
        for run_id, status, owner, heartbeat in self._store.database.query(sql, args):
            doc: dict[str, Any] = {"status": status, OWNER_FIELD: owner, HEARTBEAT_FIELD: heartbeat}
            claim = live_claim(doc)
            if claim is not None:
                claims[run_id] = claim
        if run_ids is None:
            with self._lock:
                for stale in [r for r in self._alive if r not in claims]:
                    del self._alive[stale]
        return [run_id for run_id, claim in claims.items() if self._end_if_gone(run_id, claim)]

    def _end_if_gone(self, run_id: str, claim: Claim) -> bool:
        asks = isinstance(claim.owner, SlurmJobOwner | KubernetesJobOwner)
        if asks and self._recently_alive(run_id, claim):
            return False
        end = ending(claim)
        if end is None:
            if asks:
                with self._lock:
                    self._alive[run_id] = (claim, time.monotonic())
            return False
        with self._lock:
            self._alive.pop(run_id, None)
        status, tags = end
        return self._store.runs.end_orphaned(run_id, claim, status, tags)

    def _recently_alive(self, run_id: str, claim: Claim) -> bool:
        with self._lock:
            known = self._alive.get(run_id)
        return (
            known is not None
            and known[0] == claim
            and time.monotonic() - known[1] < RECHECK_SECONDS
        )
