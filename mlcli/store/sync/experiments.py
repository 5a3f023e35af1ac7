"""Moving experiments between a local store and a remote, matched by name.

An experiment's id belongs to one store (``0``, ``1``, ... are allocated locally), so
the remote keys experiments by name: Bob's ``bob-nlp`` and Alice's ``alice-vision``
stay two experiments wherever they meet, whatever ids they had. The document (stage,
tags) is merged field by field against the last version both sides agreed on.
"""

from __future__ import annotations

import json
from typing import Any

from mlcli.errors import StoreError
from mlcli.files.fileio import read_json, write_json_atomic
from mlcli.files.lock import FileLock
from mlcli.store.entities import LifecycleStage, ViewType
from mlcli.store.sync import keys
from mlcli.store.sync.cas import Found, update_object
from mlcli.store.sync.context import SyncContext
from mlcli.store.sync.merge import Conflict, merge_document

SYNCED_FIELDS = ("name", "lifecycle_stage", "deleted_time", "creation_time", "tags")


def local_documents(ctx: SyncContext) -> dict[str, tuple[str, dict[str, Any]]]:
    """name -> (local id, document as the remote keeps it). Of several experiments with
    one name (one active, others deleted), the active one; else the last deleted."""
    chosen: dict[str, tuple[str, dict[str, Any]]] = {}
    for experiment in ctx.store.experiments.list(ViewType.ALL):
        doc = _synced(read_json(ctx.layout.experiment_doc(experiment.experiment_id)))
        held = chosen.get(experiment.name)
        if held is None or _preferred(doc, held[1]):
            chosen[experiment.name] = (experiment.experiment_id, doc)
    return chosen


def push_experiment(ctx: SyncContext, name: str, doc: dict[str, Any]) -> dict[str, Any] | None:
    """Push one experiment; its new state when the remote changed (saved by the
    caller once the journal names it), else None."""
    state = ctx.state.document("experiment", name)
    base = None if state is None else state.get("base")
    if doc == base:
        return None
    if ctx.report.dry_run:
        return {}
    key = keys.experiment_key(name)

    def build(found: Found) -> tuple[bytes, tuple[dict[str, Any], list[Conflict]]]:
        theirs = doc if found is None else _parse(found[0], key)
        merged, conflicts = merge_document(base, doc, theirs, f"experiment {name!r}", True)
        return json.dumps(merged, sort_keys=True).encode(), (merged, conflicts)

    (merged, conflicts), etag, _ = update_object(ctx, key, f"experiment {name!r}", build)
    ctx.report.conflict(conflicts)
    if merged != doc:
        _apply(ctx, name, merged)
    return {"base": merged, "etag": etag}


def pull_experiment(ctx: SyncContext, key: str) -> str | None:
    """Pull the experiment at ``key``; its name when the local store changed."""
    found = ctx.objects.get_if_present(key)
    if found is None:
        return None
    theirs = _parse(found[0], key)
    name = str(theirs["name"])
    state = ctx.state.document("experiment", name) or {}
    if state.get("etag") == found[1]:
        return None
    if not ctx.report.dry_run:
        _apply(ctx, name, theirs, base=state.get("base"))
        ctx.state.save_document("experiment", name, {"base": theirs, "etag": found[1]})
    return name


def _apply(
    ctx: SyncContext, name: str, theirs: dict[str, Any], base: dict[str, Any] | None = None
) -> None:
    """Make the local experiment named ``name`` agree with ``theirs`` (created if
    missing), merging against ``base`` when the local one changed too."""
    experiment_id = ctx.experiment_id(name)
    path = ctx.layout.experiment_doc(experiment_id)
    with FileLock(ctx.layout.experiments_lock):
        local = read_json(path)
        merged, conflicts = merge_document(
            base, _synced(local), theirs, f"experiment {name!r}", False
        )
        ctx.report.conflict(conflicts)
        local.update({k: v for k, v in merged.items() if k != "name"})
        write_json_atomic(path, local)


def _synced(doc: dict[str, Any]) -> dict[str, Any]:
    return {k: doc.get(k) for k in SYNCED_FIELDS if k != "tags"} | {
        "tags": dict(doc.get("tags") or {})
    }


def _preferred(doc: dict[str, Any], held: dict[str, Any]) -> bool:
    if (doc["lifecycle_stage"] == LifecycleStage.ACTIVE) != (
        held["lifecycle_stage"] == LifecycleStage.ACTIVE
    ):
        return bool(doc["lifecycle_stage"] == LifecycleStage.ACTIVE)
    return bool((doc.get("deleted_time") or 0) > (held.get("deleted_time") or 0))


def _parse(data: bytes, key: str) -> dict[str, Any]:
    try:
        doc = json.loads(data)
    except ValueError:
        raise StoreError(f"{key} on the remote is damaged (not JSON)") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("name"), str):
        raise StoreError(f"{key} on the remote is damaged (no name)")
    return _synced(doc)
