"""Garbage collection: remove deleted runs and experiments for good (``mlcli gc``)."""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import dataclass, field

from mlcli.clock import now_ms
from mlcli.errors import NotFoundError
from mlcli.store.entities import LifecycleStage, ViewType
from mlcli.store.store import Store

STALE_STAGING_SECONDS = 3600


@dataclass
class GcResult:
    runs: list[str] = field(default_factory=list)
    experiments: list[str] = field(default_factory=list)


def collect_garbage(store: Store, older_than_ms: int = 0, dry_run: bool = False) -> GcResult:
    """Purge runs deleted at least ``older_than_ms`` ago, runs of experiments deleted
    that long ago, and then those experiments. Each candidate is checked against its
    file before it is removed, so a run restored meanwhile survives."""
    cutoff = now_ms() - older_than_ms
    store.index.refresh()
    result = GcResult()
    old_experiments = [
        e.experiment_id
        for e in store.experiments.list(ViewType.DELETED_ONLY)
        if (store.experiments.deleted_time(e.experiment_id) or 0) <= cutoff
    ]
    marks = ",".join("?" * len(old_experiments))
    rows = store.index.query(
        "SELECT run_id FROM runs WHERE lifecycle_stage = 'deleted' OR experiment_id IN "
        f"({marks or 'NULL'})",
        old_experiments,
    )
    for (run_id,) in rows:
        try:
            info = store.runs.info(run_id)
        except NotFoundError:
            continue
        expired = (
            info.lifecycle_stage == LifecycleStage.DELETED and (info.deleted_time or 0) <= cutoff
        )
        if expired or info.experiment_id in old_experiments:
            result.runs.append(run_id)
            if not dry_run:
                store.runs.purge(run_id)
    for experiment_id in old_experiments:
        result.experiments.append(experiment_id)
        if not dry_run:
            store.experiments.purge(experiment_id)
    if not dry_run:
        _remove_stale_staging(store)
        store.index.refresh()
    return result


def _remove_stale_staging(store: Store) -> None:
    """Half-purged folders, and half-created ones old enough to be abandoned."""
    limit = time.time() - STALE_STAGING_SECONDS
    for parent in (store.layout.runs_dir, store.layout.experiments_dir):
        try:
            names = os.listdir(parent)
        except FileNotFoundError:
            continue
        for name in names:
            path = parent / name
            abandoned = name.startswith(".purge-") or (
                name.startswith(".new-") and path.stat().st_mtime < limit
            )
            if abandoned and path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
