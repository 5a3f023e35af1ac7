"""``push`` and ``pull`` between a local store and a remote: which runs, experiments
and models to move, in parallel, with progress; see the modules beside this one for
how each kind moves.

Incremental both ways. A push looks at the runs the remote has not seen, the runs the
local change journal names since the last push, and the live ones (one directory
listing and one journal read: nothing per finished, unchanged run). A pull reads the
remote's journal from its cursor; the first pull (or a clone) lists the remote.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Callable, Collection, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from mlcli.clock import now_ms
from mlcli.files.lock import FileLock
from mlcli.store.entities import RunStatus, ViewType
from mlcli.store.sync import experiments as experiment_sync
from mlcli.store.sync import journal, keys
from mlcli.store.sync import registry as registry_sync
from mlcli.store.sync.context import Report, SyncContext
from mlcli.store.sync.runs import pull_run, push_run

if TYPE_CHECKING:
    from mlcli.objects.base import ObjectStore
    from mlcli.store.store import Store

Progress = Callable[[int, int], None]
T = TypeVar("T")
WORKERS = 16
CHUNK = 500  # runs whose states are saved after one journal entry


@dataclass(frozen=True)
class Selection:
    """What to move: None means everything. ``run_ids`` are full ids; ``experiments``
    and ``models`` names."""

    run_ids: frozenset[str] | None = None
    experiments: frozenset[str] | None = None
    models: frozenset[str] | None = None
    runs_wanted: bool = True  # False: only the registry (``--models`` alone)

    @property
    def everything(self) -> bool:
        return (
            self.runs_wanted
            and self.run_ids is None
            and self.experiments is None
            and self.models is None
        )


def push(
    store: Store,
    objects: ObjectStore,
    selection: Selection = Selection(),
    dry_run: bool = False,
    progress: Progress | None = None,
    workers: int = WORKERS,
) -> Report:
    with _session(store, objects, Report("push", objects.url, dry_run=dry_run), workers) as ctx:
        _ensure_format(ctx)
        if selection.runs_wanted:
            experiments = _push_experiments(ctx, selection)
            _journal_then_save(ctx, "experiment", experiments)
            _push_runs(ctx, selection, progress)
        models = registry_sync.push_models(ctx, selection.models)
        _journal_then_save(ctx, "model", models)
    return ctx.report


def pull(
    store: Store,
    objects: ObjectStore,
    selection: Selection = Selection(),
    dry_run: bool = False,
    progress: Progress | None = None,
    workers: int = WORKERS,
) -> Report:
    with _session(store, objects, Report("pull", objects.url, dry_run=dry_run), workers) as ctx:
        _check_format(ctx)
        changes, finish = _remote_changes(ctx)
        for key in sorted(keys.experiment_key(n) for n in changes.experiments):
            name = experiment_sync.pull_experiment(ctx, key)
            if name is not None:
                ctx.report.add("experiments", name)
        if selection.runs_wanted:
            wanted = sorted(
                r for r in changes.runs if selection.run_ids is None or r in selection.run_ids
            )
            pulled = _parallel(ctx, wanted, lambda r: _pull_selected(ctx, r, selection), progress)
            for run_id, changed in zip(wanted, pulled, strict=True):
                if changed:
                    ctx.report.add("runs", run_id)
        registry_sync.pull_models(ctx, changes.models, selection.models)
        if selection.everything and not dry_run:
            finish()  # a partial pull must not move the cursor past what it left
    return ctx.report


# -- push ------------------------------------------------------------------------------------


def _journal_then_save(ctx: SyncContext, kind: str, states: dict[str, dict[str, Any]]) -> None:
    """Name what was pushed in the journal, then record it as pushed: a push killed in
    between pushes (and journals) it again."""
    if not states or ctx.report.dry_run:
        return
    names = set(states)
    if kind == "experiment":
        journal.record(ctx, journal.Changes(experiments=names))
    else:
        journal.record(ctx, journal.Changes(models=names))
    for name, state in states.items():
        ctx.state.save_document(kind, name, state)


def _push_experiments(ctx: SyncContext, selection: Selection) -> dict[str, dict[str, Any]]:
    """The experiments chosen, or those of the runs chosen, or every one."""
    chosen = selection.experiments
    if chosen is None and selection.run_ids is not None:
        chosen = frozenset(
            ctx.experiment_name(_experiment_of(ctx, r))
            for r in selection.run_ids
            if ctx.layout.run_doc(r).is_file()
        )
    pushed = {}
    for name, (_, doc) in sorted(experiment_sync.local_documents(ctx).items()):
        if chosen is not None and name not in chosen:
            continue
        state = experiment_sync.push_experiment(ctx, name, doc)
        if state is not None:
            pushed[name] = state
            ctx.report.add("experiments", name)
    return pushed


def _push_runs(ctx: SyncContext, selection: Selection, progress: Progress | None) -> None:
    candidates, journal_end = _push_candidates(ctx)
    if selection.run_ids is not None:
        candidates &= selection.run_ids
    if selection.experiments is not None:
        ids = _experiment_ids(ctx, selection.experiments)
        candidates = {r for r in candidates if _experiment_of(ctx, r) in ids}
    ordered = sorted(candidates)
    done = 0
    for start in range(0, len(ordered), CHUNK):
        chunk = ordered[start : start + CHUNK]
        states = _parallel(ctx, chunk, lambda r: push_run(ctx, r))
        changed = {r: s for r, s in zip(chunk, states, strict=True) if s is not None}
        if changed and not ctx.report.dry_run:
            journal.record(ctx, journal.Changes(set(changed)))
            for run_id, state in changed.items():
                ctx.state.save_run(run_id, state)
        for run_id in changed:
            ctx.report.add("runs", run_id)
        done += len(chunk)
        if progress:
            progress(done, len(ordered))
    if selection.everything and not ctx.report.dry_run:
        ctx.state.set_meta("local_changes", journal_end)


def _push_candidates(ctx: SyncContext) -> tuple[set[str], str]:
    """The runs a push must look at, and where the local change journal ends."""
    try:
        listed = {n for n in os.listdir(ctx.layout.runs_dir) if not n.startswith(".")}
    except FileNotFoundError:
        listed = set()
    known = ctx.state.known_runs()
    live = {r for r, s in known.items() if (s.base or {}).get("status") in RunStatus.LIVE}
    identity = ctx.store.runs.journal.identity()
    previous = json.loads(ctx.state.meta("local_changes") or "{}")
    offset = previous.get("offset", 0) if previous.get("identity") == identity else 0
    touched, end = ctx.store.runs.journal.read(offset)
    if offset == 0 and previous:  # the journal was replaced: look at every run
        touched = set(listed)
    end_marker = json.dumps({"identity": identity, "offset": end})
    return (listed - set(known)) | ((touched | live) & listed), end_marker


def _experiment_ids(ctx: SyncContext, names: Collection[str]) -> set[str]:
    return {e.experiment_id for e in ctx.store.experiments.list(ViewType.ALL) if e.name in names}


def _experiment_of(ctx: SyncContext, run_id: str) -> str:
    return str(ctx.store.runs.read_doc(run_id).get("experiment_id", "0"))


# -- pull ------------------------------------------------------------------------------------


def _remote_changes(ctx: SyncContext) -> tuple[journal.Changes, Callable[[], None]]:
    """What changed on the remote since the last pull (everything, the first time),
    and a function that moves the cursor once it is all applied."""
    started = now_ms()
    cursor = ctx.state.meta("journal_cursor")
    if cursor is None:
        # The journal's recent entries are listed before the remote itself, and count as
        # read: what they name is in the listing, or was pushed after it and is met
        # again by the next pull (it lists from before this one started).
        seen: set[str] = set()
        read = journal.recent_keys(ctx, started)
        changes = journal.Changes(
            runs={p[len(keys.RUNS) :].rstrip("/") for p in ctx.objects.list_prefixes(keys.RUNS)},
            experiments=_remote_experiment_names(ctx),
            models=registry_sync.remote_model_names(ctx),
        )
    else:
        state = json.loads(cursor)
        seen = set(state.get("seen", []))
        changes, read = journal.read_since(ctx, int(state["ms"]), seen)

    def finish() -> None:
        keep = started - journal.CLOCK_SKEW_MS
        recent = sorted(k for k in seen | set(read) if keys.journal_time(k) >= keep)
        ctx.state.set_meta("journal_cursor", json.dumps({"ms": started, "seen": recent}))

    return changes, finish


def _remote_experiment_names(ctx: SyncContext) -> set[str]:
    names = set()
    for info in ctx.objects.list(keys.EXPERIMENTS):
        part = info.key[len(keys.EXPERIMENTS) :].removesuffix(".json")
        name = keys.name_from_part(part)
        if name is None:  # a hashed key: the name is inside
            found = ctx.objects.get_if_present(info.key)
            if found is None:
                continue
            name = str(json.loads(found[0]).get("name"))
        names.add(name)
    return names


def _pull_selected(ctx: SyncContext, run_id: str, selection: Selection) -> bool:
    if selection.experiments is not None:
        found = ctx.objects.get_if_present(keys.run_manifest_key(run_id))
        if found is None:
            return False
        name = json.loads(found[0]).get("run", {}).get("experiment_name")
        if name not in selection.experiments:
            return False
    return pull_run(ctx, run_id)


# -- shared ----------------------------------------------------------------------------------


def _parallel(
    ctx: SyncContext,
    items: list[str],
    work: Callable[[str], T],
    progress: Progress | None = None,
) -> list[T]:
    if len(items) <= 1 or ctx.workers <= 1:
        results = []
        for item in items:
            results.append(work(item))
            if progress:
                progress(len(results), len(items))
    else:
        with ThreadPoolExecutor(max_workers=ctx.workers) as pool:
            results = []
            for result in pool.map(work, items):
                results.append(result)
                if progress:
                    progress(len(results), len(items))
    return results


@contextlib.contextmanager
def _session(
    store: Store, objects: ObjectStore, report: Report, workers: int
) -> Iterator[SyncContext]:
    """One transfer at a time between this store and this remote."""
    ctx = SyncContext(store, objects, report, workers)
    try:
        with FileLock(ctx.state.path.with_name("transfer.lock")):
            yield ctx
    finally:
        ctx.close()


def _ensure_format(ctx: SyncContext) -> None:
    if ctx.report.dry_run:
        _check_format(ctx, writing=True)
        return
    marker = json.dumps({"format": keys.FORMAT, "kind": "mlcli-remote"}).encode()
    if ctx.objects.create(keys.FORMAT_KEY, marker) is None:
        _check_format(ctx, writing=True)


def _check_format(ctx: SyncContext, writing: bool = False) -> None:
    from mlcli.errors import StoreError

    found = ctx.objects.get_if_present(keys.FORMAT_KEY)
    if found is None:
        return  # an empty remote: nothing to pull yet
    try:
        marker = json.loads(found[0])
        version = int(marker.get("format", 0))
    except (ValueError, AttributeError):
        raise StoreError(f"{ctx.objects.url}: {keys.FORMAT_KEY} is damaged") from None
    if writing and marker.get(keys.SERVED):
        raise StoreError(
            f"{ctx.objects.url} is served by mlcli servers (its index is in PostgreSQL): "
            "write through a server's URL (clone and pull still read it)"
        )
    if version > keys.FORMAT:
        raise StoreError(
            f"{ctx.objects.url} has remote format {version}, newer than this mlcli reads "
            f"({keys.FORMAT}); upgrade mlcli"
        )
