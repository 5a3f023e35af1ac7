"""Moving registered models between a local store and a remote.

A model's manifest (``models/<name>/model.json``) holds its document, its aliases,
its event log segments and the versions the remote has. Version numbers are claimed
on the remote with a conditional create of ``versions/<n>.json``, so two people
registering the same model at once both get a version and neither overwrites the
other: a local version whose number the remote already gave to another version is
pushed under the next free number and renumbered here to match (the push says so).
A version is claimed as PENDING, its files uploaded, then marked READY; readers
skip PENDING versions, so a push killed half-way shows nothing half-made.

Stages and aliases are compare-and-swap: a push that would move an alias or a stage
that the remote moved since the last pull fails with a conflict error naming it;
pull first (the pull keeps your change and reports theirs), then push.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path
from typing import Any

from mlcli.clock import now_ms
from mlcli.errors import ConflictError, StoreError
from mlcli.files.fileio import (
    append_bytes,
    file_size,
    read_json,
    write_json_atomic,
)
from mlcli.files.lock import FileLock
from mlcli.store.sync import keys
from mlcli.store.sync.cas import Found, update_object
from mlcli.store.sync.context import SyncContext
from mlcli.store.sync.files import append_once, encode_document, local_files, read_range
from mlcli.store.sync.merge import Conflict, merge_document, merge_fields
from mlcli.store.sync.state import LogState

PENDING, READY = "PENDING", "READY"
MODEL_FIELDS = ("name", "description", "tags", "creation_time")


def local_model_names(ctx: SyncContext) -> list[str]:
    try:
        names = os.listdir(ctx.layout.models_dir)
    except FileNotFoundError:
        return []
    return sorted(n for n in names if ctx.layout.model_doc(n).is_file())


def remote_model_names(ctx: SyncContext) -> set[str]:
    names = set()
    for prefix in ctx.objects.list_prefixes(keys.MODELS):
        part = prefix[len(keys.MODELS) :].rstrip("/")
        name = keys.name_from_part(part)
        if name is None:
            found = ctx.objects.get_if_present(f"{prefix}model.json")
            if found is None:
                continue
            name = str(json.loads(found[0]).get("model", {}).get("name"))
        names.add(name)
    return names


# -- push ------------------------------------------------------------------------------------


def push_models(ctx: SyncContext, wanted: frozenset[str] | None) -> dict[str, dict[str, Any]]:
    """Push the models; the new state of each one the remote took (saved by the
    caller once the journal names them)."""
    pushed = {}
    for name in local_model_names(ctx):
        if wanted is not None and name not in wanted:
            continue
        state = _push_model(ctx, name)
        if state is not None:
            pushed[name] = state
            ctx.report.add("models", name)
    return pushed


def _push_model(ctx: SyncContext, name: str) -> dict[str, Any] | None:
    state = ctx.state.document("model", name) or {"versions": {}, "events": {}}
    with FileLock(ctx.layout.model_lock(name)):
        model = _model_fields(read_json(ctx.layout.model_doc(name)))
        aliases = _aliases(ctx, name)
        local_versions = _local_versions(ctx, name)
        events_size = file_size(ctx.layout.model_events(name))
    synced = state["versions"]  # str(number) -> {"base": doc}
    new = [n for n in sorted(local_versions) if str(n) not in synced]
    updated = [
        n
        for n in sorted(local_versions)
        if str(n) in synced and local_versions[n] != synced[str(n)]["base"]
    ]
    events = LogState(**state["events"]) if state["events"] else LogState()
    changed = (
        new
        or updated
        or events.gaps(events_size)
        or model != state.get("base_model")
        or aliases != state.get("base_aliases")
    )
    if not changed or ctx.report.dry_run:
        return {} if changed else None
    numbers = {n: _claim(ctx, name, n, local_versions[n]) for n in new}
    for n in updated:
        _update_version(ctx, name, n, local_versions[n], synced[str(n)]["base"])
    moved = {n: m for n, m in numbers.items() if n != m}
    if moved:
        _renumber(ctx, name, moved)
        events_size = file_size(ctx.layout.model_events(name))
        aliases = {a: moved.get(v, v) for a, v in aliases.items()}
        ctx.report.notice(
            ", ".join(f"{name} version {n} is version {m}" for n, m in sorted(moved.items()))
            + " (the remote had given those numbers to other versions; renumbered here too)"
        )
    segments = _push_events(ctx, name, events, events_size)
    manifest, etag, caught_up = _write_manifest(
        ctx, name, state, model, aliases, segments, numbers.values()
    )
    for n, m in numbers.items():
        synced[str(m)] = {"base": _local_versions(ctx, name).get(m, local_versions[n])}
    for n in updated:
        synced[str(n)] = {"base": local_versions[n]}
    state.update(
        base_model=manifest["model"],
        base_aliases=manifest["aliases"],
        etag=etag if caught_up else state.get("etag"),
        events=vars(events),
        versions=synced,
    )
    return state


def _claim(ctx: SyncContext, name: str, number: int, doc: dict[str, Any]) -> int:
    """Claim a version number on the remote for a local version; upload its files;
    mark it READY. Returns the number the remote gave it."""
    identity = _identity(doc)
    candidate = number
    while True:
        claim = {**doc, "version": candidate, "identity": identity, "state": PENDING}
        key = keys.version_key(name, candidate)
        etag = ctx.objects.create(key, encode_document(claim))
        if etag is None:
            found = ctx.objects.get_if_present(key)
            if found is None or json.loads(found[0]).get("identity") != identity:
                candidate += 1
                continue
            etag = found[1]  # ours, from a push killed before it finished
        break
    root = ctx.layout.version_artifacts(name, number)
    for relative, size, _ in local_files(root):
        ctx.objects.upload_file(
            keys.version_artifact_key(name, candidate, relative), root / relative
        )
        ctx.report.moved(size)
    ready = {**claim, "state": READY}
    if ctx.objects.replace(key, encode_document(ready), etag) is None:
        raise ConflictError(f"models:/{name}/{candidate}: changed on the remote while pushed")
    return candidate


def _update_version(
    ctx: SyncContext, name: str, number: int, doc: dict[str, Any], base: dict[str, Any]
) -> None:
    what = f"models:/{name}/{number}"

    def build(found: Found) -> tuple[bytes, list[Conflict]]:
        if found is None:
            raise StoreError(f"{what} vanished from the remote")
        theirs = json.loads(found[0])
        remote = {k: v for k, v in theirs.items() if k not in ("identity", "state")}
        stages = remote.get("stage"), doc.get("stage"), base.get("stage")
        if stages[0] != stages[2] and stages[1] != stages[2] and stages[0] != stages[1]:
            raise ConflictError(
                f"{what}: its stage moved to {stages[0]!r} on the remote since your last "
                f"pull (yours: {stages[1]!r}); pull, then transition it again"
            )
        merged, conflicts = merge_fields(base, doc, remote, what, True)
        return encode_document(
            {**merged, "identity": theirs.get("identity"), "state": READY}
        ), conflicts

    conflicts, _, _ = update_object(ctx, keys.version_key(name, number), what, build)
    ctx.report.conflict(conflicts)


def _push_events(ctx: SyncContext, name: str, events: LogState, size: int) -> list[str]:
    pushed = []
    for start, end in events.gaps(size):
        data = read_range(ctx.layout.model_events(name), start, end)
        cut = data.rfind(b"\n") + 1
        if not cut:
            continue
        segment = keys.segment_name(ctx.writer, start, start + cut)
        ctx.objects.put(keys.event_segment_key(name, segment), data[:cut])
        ctx.report.moved(cut)
        events.add(start, start + cut)
        events.applied[ctx.writer] = start + cut
        pushed.append(segment)
    return pushed


def _write_manifest(
    ctx: SyncContext,
    name: str,
    state: dict[str, Any],
    model: dict[str, Any],
    aliases: dict[str, int],
    segments: list[str],
    numbers: Any,
) -> tuple[dict[str, Any], str, bool]:
    key = keys.model_key(name)
    base_aliases = state.get("base_aliases")

    def build(found: Found) -> tuple[bytes, tuple[dict[str, Any], list[Conflict]]]:
        manifest: dict[str, Any] = (
            {"model": model, "aliases": {}, "events": [], "versions": []}
            if found is None
            else _parse(found[0], key)
        )
        merged_model, conflicts = merge_document(
            state.get("base_model"), model, manifest["model"], f"model {name!r}", True
        )
        _check_aliases(name, base_aliases, aliases, manifest["aliases"])
        merged_aliases, _ = merge_fields(
            base_aliases, aliases, manifest["aliases"], f"models:/{name} alias", True
        )
        manifest.update(model=merged_model, aliases=merged_aliases)
        manifest["events"] += [s for s in segments if s not in manifest["events"]]
        manifest["versions"] = sorted({*manifest["versions"], *numbers})
        return encode_document(manifest), (manifest, conflicts)

    (manifest, conflicts), etag, replaced = update_object(ctx, key, f"model {name!r}", build)
    ctx.report.conflict(conflicts)
    return manifest, etag, replaced is None or replaced[1] == state.get("etag")


def _check_aliases(
    name: str, base: dict[str, int] | None, ours: dict[str, int], theirs: dict[str, int]
) -> None:
    base = base or {}
    for alias in sorted({*ours, *theirs}):
        mine, other, was = ours.get(alias), theirs.get(alias), base.get(alias)
        if mine != was and other != was and mine != other:
            raise ConflictError(
                f"models:/{name}@{alias}: moved to version {other} on the remote since your "
                f"last pull (yours: {mine}); pull, then set it again"
            )


def _renumber(ctx: SyncContext, name: str, moved: dict[int, int]) -> None:
    """Give local versions the numbers the remote gave them (under the model's lock)."""
    with FileLock(ctx.layout.model_lock(name)):
        staged = {}
        for n in moved:
            temporary = ctx.layout.versions_dir(name) / f".renumber-{n}"
            os.rename(ctx.layout.version_dir(name, n), temporary)
            staged[n] = temporary
        for n, m in moved.items():
            os.rename(staged[n], ctx.layout.version_dir(name, m))
            doc_path = ctx.layout.version_doc(name, m)
            doc = read_json(doc_path)
            doc["version"] = m
            write_json_atomic(doc_path, doc)
        aliases = _aliases(ctx, name)
        if any(v in moved for v in aliases.values()):
            fixed = {a: moved.get(v, v) for a, v in aliases.items()}
            write_json_atomic(ctx.layout.model_aliases(name), fixed)
        for n, m in sorted(moved.items()):  # the history says so: earlier lines name n
            event = {  # a line of events.jsonl (registry/entities.py: RegistryEvent)
                "time": now_ms(), "user": "mlcli push", "action": "renumber", "version": m,
                "from": str(n), "to": str(m), "comment": None,
            }  # fmt: skip
            line = json.dumps(event, ensure_ascii=False) + "\n"
            append_bytes(ctx.layout.model_events(name), line.encode())


# -- pull ------------------------------------------------------------------------------------


def pull_models(ctx: SyncContext, changed: set[str], wanted: frozenset[str] | None) -> None:
    for name in sorted(changed):
        if wanted is not None and name not in wanted:
            continue
        if _pull_model(ctx, name):
            ctx.report.add("models", name)


def _pull_model(ctx: SyncContext, name: str) -> bool:
    key = keys.model_key(name)
    found = ctx.objects.get_if_present(key)
    if found is None:
        return False
    state = ctx.state.document("model", name) or {"versions": {}, "events": {}}
    if state.get("etag") == found[1]:
        return False
    if ctx.report.dry_run:
        return True
    manifest = _parse(found[0], key)
    ctx.layout.model_dir(name).mkdir(parents=True, exist_ok=True)
    doc_path = ctx.layout.model_doc(name)
    if not doc_path.is_file():  # first its document: a pull killed later leaves a model
        write_json_atomic(doc_path, {**manifest["model"], "name": name})
    synced = state["versions"]
    for number in manifest["versions"]:
        _pull_version(ctx, name, int(number), synced)
    events = LogState(**state["events"]) if state["events"] else LogState()
    with FileLock(ctx.layout.model_lock(name)):
        doc_path = ctx.layout.model_doc(name)
        local = _model_fields(read_json(doc_path)) if doc_path.is_file() else manifest["model"]
        merged, conflicts = merge_document(
            state.get("base_model"), local, manifest["model"], f"model {name!r}", False
        )
        aliases, alias_conflicts = merge_fields(
            state.get("base_aliases"), _aliases(ctx, name), manifest["aliases"],
            f"models:/{name} alias", True,
        )  # fmt: skip
        ctx.report.conflict(conflicts + alias_conflicts)
        full = read_json(doc_path) if doc_path.is_file() else {}
        write_json_atomic(doc_path, {**full, **merged, "name": name})
        write_json_atomic(ctx.layout.model_aliases(name), aliases)
        for segment in manifest["events"]:
            writer, _, end = keys.parse_segment_name(segment)
            if end <= events.applied.get(writer, 0):
                continue
            data, _ = ctx.objects.get(keys.event_segment_key(name, segment))
            start = append_once(ctx.layout.model_events(name), data)
            events.add(start, start + len(data))
            events.applied[writer] = end
    state.update(
        base_model=manifest["model"],
        base_aliases=manifest["aliases"],
        etag=found[1],
        events=vars(events),
        versions=synced,
    )
    ctx.state.save_document("model", name, state)
    return True


def _pull_version(ctx: SyncContext, name: str, number: int, synced: dict[str, Any]) -> None:
    found = ctx.objects.get_if_present(keys.version_key(name, number))
    if found is None:
        return
    remote = json.loads(found[0])
    if remote.get("state") != READY:
        return  # being pushed, or its pusher died: not visible yet
    doc = {k: v for k, v in remote.items() if k not in ("identity", "state")}
    local_path = ctx.layout.version_doc(name, number)
    if str(number) not in synced:
        if local_path.is_file():
            if _identity(read_json(local_path)) != remote.get("identity"):
                ctx.report.notice(
                    f"models:/{name}/{number} on the remote is another version than your "
                    f"local {number} (not pushed yet): push first, it will be renumbered"
                )
                return
        else:
            _download_version(ctx, name, number, doc)
        synced[str(number)] = {"base": doc}
        return
    base = synced[str(number)]["base"]
    if doc == base:
        return
    with FileLock(ctx.layout.model_lock(name)):
        local = read_json(local_path)
        merged, conflicts = merge_fields(base, local, doc, f"models:/{name}/{number}", True)
        ctx.report.conflict(conflicts)
        write_json_atomic(local_path, merged)
    synced[str(number)] = {"base": doc}


def _download_version(ctx: SyncContext, name: str, number: int, doc: dict[str, Any]) -> None:
    versions = ctx.layout.versions_dir(name)
    versions.mkdir(parents=True, exist_ok=True)
    staging = versions / f".pull-{number}-{os.urandom(4).hex()}"
    try:
        (staging / "artifacts").mkdir(parents=True)
        prefix = keys.version_artifact_key(name, number, "")
        for info in ctx.objects.list(prefix):
            relative = info.key[len(prefix) :]
            target = staging / "artifacts" / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            ctx.objects.download_file(info.key, target, info.size)
            ctx.report.moved(info.size)
        write_json_atomic(staging / "version.json", doc)
        os.rename(staging, ctx.layout.version_dir(name, number))
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


# -- shared ----------------------------------------------------------------------------------


def _local_versions(ctx: SyncContext, name: str) -> dict[int, dict[str, Any]]:
    try:
        entries = os.listdir(ctx.layout.versions_dir(name))
    except FileNotFoundError:
        return {}
    found = {}
    for entry in entries:
        if entry.isdigit() and ctx.layout.version_doc(name, int(entry)).is_file():
            found[int(entry)] = read_json(ctx.layout.version_doc(name, int(entry)))
    return found


def _aliases(ctx: SyncContext, name: str) -> dict[str, int]:
    path: Path = ctx.layout.model_aliases(name)
    try:
        return {str(k): int(v) for k, v in read_json(path).items()}
    except FileNotFoundError:
        return {}


def _model_fields(doc: dict[str, Any]) -> dict[str, Any]:
    return {k: doc.get(k) for k in MODEL_FIELDS}


def _identity(doc: dict[str, Any]) -> str:
    """What makes a version itself wherever it is, whatever number it has."""
    seed = json.dumps(
        [doc.get("run_id"), doc.get("source"), doc.get("creation_time"), doc.get("user_id")]
    )
    return hashlib.sha256(seed.encode()).hexdigest()[:16]


def _parse(data: bytes, key: str) -> dict[str, Any]:
    try:
        manifest = json.loads(data)
    except ValueError:
        raise StoreError(f"{key} on the remote is damaged (not JSON)") from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("model"), dict):
        raise StoreError(f"{key} on the remote is damaged (no model document)")
    manifest.setdefault("aliases", {})
    manifest.setdefault("events", [])
    manifest.setdefault("versions", [])
    return manifest
