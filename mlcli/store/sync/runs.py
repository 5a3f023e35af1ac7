"""Moving one run between a local store and a remote.

Push: under the run's lock, read ``run.json`` and the size of each log (batch writers
hold that lock from their first line to their commit line, so no batch is caught half
written); upload the bytes of each log that are not on the remote yet as immutable
segments named by their byte range, then the changed artifacts and logged models,
and last the manifest, by compare-and-swap: readers see only what a manifest names,
so a push killed half-way leaves nothing half-visible, and the next push redoes it
(uploads are idempotent: the same range has the same key).

Pull: read the manifest; append the segments of other writers that are not applied
yet (the commit log last), download the artifacts that changed, and merge the run
document. A run new to the local store is built under a hidden name and renamed into
place, as every new run is.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

from mlcli.errors import StoreError
from mlcli.files.fileio import file_size, read_json, write_json_atomic
from mlcli.files.lock import FileLock
from mlcli.store.layout import (
    ARTIFACTS_DIR,
    BATCHES_LOG,
    INPUTS_LOG,
    LOGGED_MODELS_DIR,
    METRICS_LOG,
    PARAMS_LOG,
    RUN_DOC,
    TAGS_LOG,
)
from mlcli.store.sync import keys
from mlcli.store.sync.cas import Found, update_object
from mlcli.store.sync.context import SyncContext
from mlcli.store.sync.files import (
    append_once,
    encode_document,
    file_state,
    local_files,
    read_range,
)
from mlcli.store.sync.merge import Conflict, merge_run
from mlcli.store.sync.state import RunState

KEPT_CONFLICTS = 50
# The commit log goes last: a reader must never meet a commit before its lines.
LOGS = (PARAMS_LOG, TAGS_LOG, METRICS_LOG, INPUTS_LOG, BATCHES_LOG)


# -- push ------------------------------------------------------------------------------------


def push_run(ctx: SyncContext, run_id: str) -> RunState | None:
    """Push one run; its new state when the remote changed (None when nothing did).
    The caller saves the state once the journal names the run, so that a push killed
    in between pushes the run again (and journals it) next time."""
    run_dir = ctx.layout.run_dir(run_id)
    state = ctx.state.run(run_id)
    with FileLock(ctx.layout.run_lock(run_id)):
        doc = _remote_doc(ctx, run_id, read_json(run_dir / RUN_DOC))
        sizes = {log: file_size(run_dir / log) for log in LOGS}
    segment = _push_logs(ctx, run_id, run_dir, sizes, state)
    artifacts = _push_files(ctx, run_dir / ARTIFACTS_DIR, state.artifacts, run_id, "artifacts")
    models = _push_files(ctx, run_dir / LOGGED_MODELS_DIR, state.logged_models, run_id, "models")
    changed = segment is not None or artifacts or models or doc != state.base
    if not changed or ctx.report.dry_run:
        return state if changed else None
    merged, etag, caught_up = _write_manifest(ctx, run_id, state, doc, segment, artifacts, models)
    state.base = merged
    if caught_up:  # else a pull must still bring what others added before this push
        state.etag = etag
    if merged != doc:  # the remote knew better about something: take it here too
        _apply_doc(ctx, run_id, merged)
    return state


def _push_logs(
    ctx: SyncContext, run_id: str, run_dir: Path, sizes: dict[str, int], state: RunState
) -> dict[str, Any] | None:
    """Upload, as one segment, what of the first ``sizes`` bytes of each log is not on
    the remote (whole lines only: a torn line is never pushed); the segment's entry
    for the manifest, or None when there is nothing new."""
    parts: list[tuple[str, int, int, bytes]] = []
    for log in LOGS:  # the commit log last, within a segment too
        for start, end in state.log(log).gaps(sizes[log]):
            data = read_range(run_dir / log, start, end)
            cut = data.rfind(b"\n") + 1
            if cut:
                parts.append((log, start, start + cut, data[:cut]))
    if not parts:
        return None
    ranges = [[log, start, end] for log, start, end, _ in parts]
    name = keys.segment_name_of(ctx.writer, ranges)
    body = json.dumps({"parts": ranges}).encode() + b"\n" + b"".join(p[3] for p in parts)
    if not ctx.report.dry_run:
        ctx.objects.put(keys.run_segment_key(run_id, name), body)
    ctx.report.moved(len(body))
    for log, start, end, _ in parts:
        state.log(log).add(start, end)
        state.log(log).applied[ctx.writer] = end  # ours: a pull skips it by offset
    return {"name": name, "writer": ctx.writer, "parts": ranges}


def _push_files(
    ctx: SyncContext, root: Path, known: dict[str, list[int]], run_id: str, kind: str
) -> dict[str, int]:
    """Upload the files under ``root`` that changed since they were last synced."""
    uploaded: dict[str, int] = {}
    for relative, size, mtime_ns in local_files(root):
        if known.get(relative) == [size, mtime_ns]:
            continue
        if kind == "artifacts":
            key = keys.run_artifact_key(run_id, relative)
        else:
            key = keys.logged_model_key(run_id, relative.removesuffix(".json"))
        if not ctx.report.dry_run:
            ctx.objects.upload_file(key, root / relative)
        ctx.report.moved(size)
        known[relative] = [size, mtime_ns]
        uploaded[relative] = size
    return uploaded


def _write_manifest(
    ctx: SyncContext,
    run_id: str,
    state: RunState,
    doc: dict[str, Any],
    segment: dict[str, Any] | None,
    artifacts: dict[str, int],
    models: dict[str, int],
) -> tuple[dict[str, Any], str, bool]:
    """Write the run's manifest by compare-and-swap; the merged run document, the new
    ETag, and whether the manifest held nothing this store had not seen."""
    key = keys.run_manifest_key(run_id)

    def build(found: Found) -> tuple[bytes, tuple[dict[str, Any], list[Conflict], int]]:
        manifest: dict[str, Any] = (
            {"run": doc, "segments": [], "artifacts": {}, "logged_models": []}
            if found is None
            else _parse(found[0], key)
        )
        merged, conflicts = merge_run(state.base, doc, manifest["run"], ours_wins=True)
        manifest["run"] = merged
        listed = {entry["name"] for entry in manifest["segments"]}
        if segment is not None and segment["name"] not in listed:
            manifest["segments"].append(segment)
        manifest["artifacts"].update({path: {"size": size} for path, size in artifacts.items()})
        ids = {p.removesuffix(".json") for p in models}
        manifest["logged_models"] = sorted(set(manifest["logged_models"]) | ids)
        _record_conflicts(manifest, conflicts, ctx.writer)
        return encode_document(manifest), (merged, conflicts, manifest["conflict_count"])

    never_pushed = state.etag is None and state.base is None
    (merged, conflicts, count), etag, replaced = update_object(
        ctx, key, f"run {run_id[:8]}", build, likely_new=never_pushed
    )
    ctx.report.conflict(conflicts)
    state.conflicts_seen = count
    return merged, etag, replaced is None or replaced[1] == state.etag


def _record_conflicts(manifest: dict[str, Any], conflicts: list[Conflict], writer: str) -> None:
    """Keep the conflicts a push settled in the manifest (the last ``KEPT_CONFLICTS``),
    numbered, so that the other side's next pull reports them too: the value a push
    overwrote is never dropped silently on either side."""
    count = int(manifest.get("conflict_count", 0))
    listed = list(manifest.get("conflicts") or [])
    for conflict in conflicts:
        count += 1
        listed.append({"n": count, "writer": writer, **conflict.to_dict()})
    manifest["conflicts"] = listed[-KEPT_CONFLICTS:]
    manifest["conflict_count"] = count


def _report_their_conflicts(ctx: SyncContext, manifest: dict[str, Any], state: RunState) -> None:
    for entry in manifest.get("conflicts") or []:
        if entry.get("n", 0) > state.conflicts_seen and entry.get("writer") != ctx.writer:
            ctx.report.conflict([Conflict.from_dict(entry)])
    state.conflicts_seen = int(manifest.get("conflict_count", 0))


def _remote_doc(ctx: SyncContext, run_id: str, local_doc: dict[str, Any]) -> dict[str, Any]:
    """A run document as the remote keeps it: its experiment by name, not local id, and
    its tags as they are now (so that a tag both sides set is merged by rule, not by
    the order two logs happen to be in)."""
    doc = {k: v for k, v in local_doc.items() if k != "experiment_id"}
    doc["experiment_name"] = ctx.experiment_name(str(local_doc.get("experiment_id", "0")))
    doc["tags"] = ctx.store.runs.read_tags(run_id)
    return doc


# -- pull ------------------------------------------------------------------------------------


def pull_run(ctx: SyncContext, run_id: str) -> bool:
    """Pull one run; True when the local store changed."""
    key = keys.run_manifest_key(run_id)
    found = ctx.objects.get_if_present(key)
    if found is None:
        return False
    state = ctx.state.run(run_id)
    if found[1] == state.etag:
        return False
    manifest = _parse(found[0], key)
    if ctx.report.dry_run:
        return True
    if not ctx.layout.run_doc(run_id).is_file():
        _create_run(ctx, run_id, manifest, state)
        state.conflicts_seen = int(manifest.get("conflict_count", 0))  # not ours to report
    else:
        _report_their_conflicts(ctx, manifest, state)
        _update_run(ctx, run_id, manifest, state)
    state.etag = found[1]
    ctx.state.save_run(run_id, state)
    return True


def _create_run(ctx: SyncContext, run_id: str, manifest: dict[str, Any], state: RunState) -> None:
    staging = ctx.layout.runs_dir / f".pull-{run_id}-{os.urandom(4).hex()}"
    staging.mkdir(parents=True)
    try:
        write_json_atomic(staging / RUN_DOC, _local_doc(ctx, manifest["run"]))
        _pull_logs(ctx, run_id, staging, manifest, state)
        _pull_files(ctx, run_id, staging, manifest, state)
        os.rename(staging, ctx.layout.run_dir(run_id))
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    _settle_tags(ctx, run_id, manifest["run"])
    state.base = manifest["run"]


def _update_run(ctx: SyncContext, run_id: str, manifest: dict[str, Any], state: RunState) -> None:
    run_dir = ctx.layout.run_dir(run_id)
    with FileLock(ctx.layout.run_lock(run_id)):
        # what this store changed is read before others' lines are appended to its logs
        local = _remote_doc(ctx, run_id, read_json(run_dir / RUN_DOC))
        merged, conflicts = merge_run(state.base, local, manifest["run"], ours_wins=False)
        ctx.report.conflict(conflicts)
        _pull_logs(ctx, run_id, run_dir, manifest, state)
        if merged != local:
            write_json_atomic(run_dir / RUN_DOC, _local_doc(ctx, merged))
    _settle_tags(ctx, run_id, merged)
    _pull_files(ctx, run_id, run_dir, manifest, state)
    state.base = manifest["run"]
    ctx.store.runs.journal.note(run_id)


def _pull_logs(
    ctx: SyncContext, run_id: str, run_dir: Path, manifest: dict[str, Any], state: RunState
) -> None:
    """Append, segment by segment and in each the commit log last, the lines of other
    writers not applied here yet."""
    for entry in manifest["segments"]:
        writer = str(entry["writer"])
        parts = [(str(log), int(a), int(b)) for log, a, b in entry["parts"]]
        if all(end <= state.log(log).applied.get(writer, 0) for log, _, end in parts):
            continue
        body, _ = ctx.objects.get(keys.run_segment_key(run_id, entry["name"]))
        ctx.report.moved(len(body))
        data = body.partition(b"\n")[2]
        position = 0
        for log, begin, end in parts:
            chunk = data[position : position + end - begin]
            position += end - begin
            log_state = state.log(log)
            applied = log_state.applied.get(writer, 0)
            if end <= applied:
                continue
            # a push killed after its manifest and before its state was saved sends the
            # same bytes again in a longer segment: only what lies past them is new
            chunk = chunk[max(0, applied - begin) :]
            start = append_once(run_dir / log, chunk)
            log_state.add(start, start + len(chunk))
            log_state.applied[writer] = end


def _pull_files(
    ctx: SyncContext, run_id: str, run_dir: Path, manifest: dict[str, Any], state: RunState
) -> None:
    wanted = [
        (ARTIFACTS_DIR, path, keys.run_artifact_key(run_id, path), state.artifacts, info["size"])
        for path, info in sorted(manifest["artifacts"].items())
    ] + [
        (
            LOGGED_MODELS_DIR,
            f"{model_id}.json",
            keys.logged_model_key(run_id, model_id),
            state.logged_models,
            None,
        )
        for model_id in manifest["logged_models"]
    ]
    for folder, relative, key, known, size in wanted:
        target = run_dir / folder / relative
        local = file_state(target)
        if local is not None and known.get(relative) == local and size in (None, local[0]):
            continue  # unchanged since the last sync, and the same size as theirs
        if local is not None and relative in known and known[relative] != local:
            ctx.report.notice(
                f"run {run_id[:8]} {folder}/{relative} changed on both sides: kept yours "
                "(push to send it)"
            )
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        ctx.objects.download_file(key, target, size)
        downloaded = file_state(target)
        assert downloaded is not None
        ctx.report.moved(downloaded[0])
        known[relative] = list(downloaded)


def _apply_doc(ctx: SyncContext, run_id: str, remote_doc: dict[str, Any]) -> None:
    with FileLock(ctx.layout.run_lock(run_id)):
        write_json_atomic(ctx.layout.run_doc(run_id), _local_doc(ctx, remote_doc))
    _settle_tags(ctx, run_id, remote_doc)
    ctx.store.runs.journal.note(run_id)


def _settle_tags(ctx: SyncContext, run_id: str, agreed: dict[str, Any]) -> None:
    """Make the run's tags here the agreed ones: lines from several writers, appended in
    the order they arrived, may fold to another value; one more line sets it right."""
    wanted = agreed.get("tags")
    if not isinstance(wanted, dict):
        return  # a manifest from before tags were kept in it
    current = ctx.store.runs.read_tags(run_id)
    fixes: dict[str, str | None] = {k: v for k, v in wanted.items() if current.get(k) != v}
    fixes.update({k: None for k in current if k not in wanted})
    if fixes:
        ctx.store.runs.set_tags(run_id, fixes)


def _local_doc(ctx: SyncContext, remote_doc: dict[str, Any]) -> dict[str, Any]:
    doc = {k: v for k, v in remote_doc.items() if k not in ("experiment_name", "tags")}
    doc["experiment_id"] = ctx.experiment_id(str(remote_doc.get("experiment_name", "Default")))
    return doc


def _parse(data: bytes, key: str) -> dict[str, Any]:
    try:
        document = json.loads(data)
    except ValueError:
        raise StoreError(f"{key} on the remote is damaged (not JSON)") from None
    if not isinstance(document, dict) or not isinstance(document.get("run"), dict):
        raise StoreError(f"{key} on the remote is damaged (no run document)")
    document.setdefault("segments", [])
    document.setdefault("artifacts", {})
    document.setdefault("logged_models", [])
    return document
