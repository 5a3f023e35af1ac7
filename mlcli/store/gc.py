"""Garbage collection: remove deleted runs and experiments for good, and what killed
writers left behind (``mlcli gc``).

A purge must never take what a user is bringing back: each run is checked and removed
while holding its lock, the lock ``runs restore`` holds while it rewrites ``run.json``;
each experiment, with its runs, while holding the experiments lock that ``experiments
restore`` takes. A restore either finishes first (and the run stays) or finds the run
gone (and says so); it never restores a run half removed.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field

from mlcli.clock import now_ms
from mlcli.errors import NotFoundError
from mlcli.files.lock import FileLock
from mlcli.store.entities import LifecycleStage, ViewType
from mlcli.store.leftovers import ORPHAN_AFTER_SECONDS, Leftover, find_leftovers, remove_leftover
from mlcli.store.store import Store


@dataclass
class GcResult:
    runs: list[str] = field(default_factory=list)
    experiments: list[str] = field(default_factory=list)
    leftovers: list[Leftover] = field(default_factory=list)


def collect_garbage(
    store: Store,
    older_than_ms: int = 0,
    dry_run: bool = False,
    leftovers_older_than: float = ORPHAN_AFTER_SECONDS,
) -> GcResult:
    """Purge runs deleted at least ``older_than_ms`` ago, experiments deleted that long
    ago with all their runs, and the leftovers of writers killed more than
    ``leftovers_older_than`` seconds ago."""
    cutoff = now_ms() - older_than_ms
    store.index.refresh()
    result = GcResult()
    old_experiments = {
        e.experiment_id
        for e in store.experiments.list(ViewType.DELETED_ONLY)
        if (store.experiments.deleted_time(e.experiment_id) or 0) <= cutoff
    }
    deleted_runs = store.index.query(
        "SELECT run_id FROM runs WHERE lifecycle_stage = ?", [LifecycleStage.DELETED]
    )
    for (run_id,) in deleted_runs:
        with _run_held(store, run_id, dry_run) as held:
            if not held:
                continue
            try:
                info = store.runs.info(run_id)
            except NotFoundError:
                continue
            if info.experiment_id in old_experiments:
                continue  # goes with its experiment, below
            if (
                info.lifecycle_stage == LifecycleStage.DELETED
                and (info.deleted_time or 0) <= cutoff
            ):
                result.runs.append(run_id)
                if not dry_run:
                    store.runs.purge(run_id)
    for experiment_id in sorted(old_experiments):
        _purge_experiment(store, experiment_id, cutoff, dry_run, result)
    result.leftovers = find_leftovers(store.layout, leftovers_older_than)
    if not dry_run:
        for leftover in result.leftovers:
            remove_leftover(leftover)
        store.index.refresh()
    return result


def _purge_experiment(
    store: Store, experiment_id: str, cutoff: int, dry_run: bool, result: GcResult
) -> None:
    lock = contextlib.nullcontext() if dry_run else FileLock(store.layout.experiments_lock)
    with lock:
        try:
            experiment = store.experiments.get(experiment_id)
        except NotFoundError:
            return
        deleted_time = store.experiments.deleted_time(experiment_id) or 0
        if experiment.lifecycle_stage != LifecycleStage.DELETED or deleted_time > cutoff:
            return  # restored meanwhile
        runs = store.index.query("SELECT run_id FROM runs WHERE experiment_id = ?", [experiment_id])
        for (run_id,) in runs:
            with _run_held(store, run_id, dry_run) as held:
                if not held or not store.runs.exists(run_id):
                    continue
                result.runs.append(run_id)
                if not dry_run:
                    store.runs.purge(run_id)
        result.experiments.append(experiment_id)
        if not dry_run:
            store.experiments.purge(experiment_id)


@contextlib.contextmanager
def _run_held(store: Store, run_id: str, dry_run: bool) -> Iterator[bool]:
    """Hold the run's lock (not for a dry run, which changes nothing); yields False when
    the run's folder is gone."""
    if dry_run:
        yield store.runs.exists(run_id)
        return
    with contextlib.ExitStack() as held:
        try:
            held.enter_context(FileLock(store.layout.run_lock(run_id)))
        except (NotFoundError, NotADirectoryError):
            yield False
            return
        yield True
