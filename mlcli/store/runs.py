"""Runs as files: ``runs/<run_id>/`` with ``run.json``, three logs and ``artifacts/``.

A run folder is built under a hidden name and renamed into place, so a reader never
sees a run without its ``run.json``. Logs only grow (single-write appends); only
``run.json`` is rewritten, atomically, under the run's lock. Any write to a run that
is no longer live is noted in the change journal (see ``changes.py``).

Writing a point must cost about one append (issue 24), so a ``RunFiles`` keeps, per
run, its paths as strings and its ``run.json`` as last read: a write checks the
document's signature (one ``stat``) instead of reading it, and reads it again only
when it changed (see :meth:`RunFiles.current_doc`).
"""

from __future__ import annotations

import os
import shutil
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from mlcli import system_tags
from mlcli.clock import now_ms
from mlcli.errors import ConflictError, InvalidInputError, NotFoundError, StoreError
from mlcli.files.fileio import (
    LOG_CHUNK_BYTES,
    SYNC_BATCH,
    append_bytes,
    doc_bytes,
    read_json,
    read_log_chunks,
    read_log_records,
    sync_files,
    sync_mode,
    write_json_atomic,
    write_new_file,
)
from mlcli.files.lock import FileLock
from mlcli.store.batches import (
    commit_line,
    committed_recently,
    new_batch_id,
    read_committed,
    validate_batch_id,
    visible_bytes,
    visible_records,
)
from mlcli.store.changes import ChangeJournal, folder_stamp
from mlcli.store.damage import run_doc_problem
from mlcli.store.entities import (
    DatasetInput,
    LifecycleStage,
    Metric,
    ModelInput,
    RunInfo,
    RunInputs,
    RunStatus,
)
from mlcli.store.inputs import fold_inputs, input_lines, new_inputs, validate_inputs
from mlcli.store.layout import (
    ARTIFACTS_DIR,
    BATCHES_LOG,
    METRICS_LOG,
    PARAMS_LOG,
    RUN_DOC,
    TAGS_LOG,
    StoreLayout,
)
from mlcli.store.ownership import RunOwner, owner_fields, owner_recorded
from mlcli.store.records import (
    decode_metric_log,
    fold_metric_log,
    fold_params,
    fold_tags,
    key_value_line,
    metric_line,
)
from mlcli.store.validation import validate_run_id, validate_run_id_prefix, validate_run_name

#: A run.json read less than this after it was written is read again next time: a
#: rewrite within the same tick of the filesystem's clock could keep its signature
#: (the inode number reused, the same size), as git's "racily clean" index entries.
RACY_NS = 50_000_000
#: How many runs' paths and documents a ``RunFiles`` keeps (then it starts afresh).
CACHED_RUNS = 4096

_Signature = tuple[int, int, int, int]


class _RunCache:
    """One run's paths as strings, and its run.json as last read."""

    __slots__ = (
        "artifact_uri",
        "directory",
        "doc",
        "doc_path",
        "info",
        "metrics_path",
        "signature",
    )

    def __init__(self, directory: str) -> None:
        self.directory = directory
        self.doc_path = os.path.join(directory, RUN_DOC)
        self.metrics_path = os.path.join(directory, METRICS_LOG)
        self.artifact_uri = ""
        self.signature: _Signature | None = None
        self.doc: dict[str, Any] = {}
        self.info: RunInfo | None = None


class RunFiles:
    def __init__(self, layout: StoreLayout) -> None:
        self.layout = layout
        self.journal = ChangeJournal(layout.changes_log)
        self._runs_dir = str(layout.runs_dir)
        self._cache: dict[str, _RunCache] = {}
        self._runs_uri = ""

    def _cached(self, run_id: str) -> _RunCache:
        entry = self._cache.get(run_id)
        if entry is None:
            if len(self._cache) >= CACHED_RUNS:
                self._cache.clear()
            entry = self._cache[run_id] = _RunCache(os.path.join(self._runs_dir, run_id))
        return entry

    # -- identity ----------------------------------------------------------------------

    def list_ids(self) -> list[str]:
        try:
            return [n for n in os.listdir(self.layout.runs_dir) if not n.startswith(".")]
        except FileNotFoundError:
            return []

    def exists(self, run_id: str) -> bool:
        return os.path.isfile(self._cached(run_id).doc_path)

    def resolve(self, ref: str) -> str:
        """The full id of the run whose id is or starts with ``ref`` (like git)."""
        prefix = validate_run_id_prefix(ref)
        if len(prefix) == 32:
            if self.exists(prefix):
                return prefix
            raise NotFoundError(f"no run with id {ref!r}")
        matches = [run_id for run_id in self.list_ids() if run_id.startswith(prefix)]
        if not matches:
            raise NotFoundError(f"no run with an id starting with {ref!r}")
        if len(matches) > 1:
            shown = ", ".join(sorted(matches)[:5]) + (", ..." if len(matches) > 5 else "")
            raise NotFoundError(
                f"run id prefix {ref!r} is ambiguous: it matches {len(matches)} runs ({shown})"
            )
        return matches[0]

    # -- run.json ----------------------------------------------------------------------

    def create(
        self,
        *,
        experiment_id: str,
        run_name: str,
        user_id: str,
        tags: dict[str, str],
        parent_run_id: str | None = None,
        start_time: int | None = None,
        status: str = RunStatus.RUNNING,
        run_id: str | None = None,
        owner: RunOwner | None = None,
    ) -> RunInfo:
        """A new run; ``run_id`` keeps a given id (an import's) instead of a random one;
        ``owner``: the process that will end it (see ``ownership.py``)."""
        given = run_id is not None
        run_id = uuid.uuid4().hex if run_id is None else validate_run_id(run_id)
        validate_run_name(run_name)  # every path (an import's too) ends here
        if given and self.exists(run_id):  # (a random id is new: uuid4)
            raise ConflictError(f"a run with id {run_id} already exists")
        doc = new_run_document(
            run_id, run_name, experiment_id, user_id, parent_run_id, start_time, status, owner
        )
        all_tags = creation_tags(run_name, user_id, tags, parent_run_id)
        lines = "".join(key_value_line(k, v) for k, v in all_tags.items())
        staging = os.path.join(self._runs_dir, f".new-{run_id}")
        before = folder_stamp(self._runs_dir)  # runs/ as this create found it: see note
        try:
            os.mkdir(staging)
        except FileNotFoundError:  # the store's first run
            os.makedirs(self._runs_dir, exist_ok=True)
            os.mkdir(staging)
        try:
            # The folder is hidden until renamed into place: its files need no
            # renames of their own (a reader never sees them half-written).
            write_new_file(os.path.join(staging, RUN_DOC), doc_bytes(doc), document=True)
            write_new_file(os.path.join(staging, TAGS_LOG), lines.encode())
            os.mkdir(os.path.join(staging, ARTIFACTS_DIR))
            try:
                os.rename(staging, self._cached(run_id).directory)
            except OSError as exc:  # a given id taken meanwhile (a non-empty target)
                raise ConflictError(f"a run with id {run_id} already exists") from exc
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        # A reader then reads this run, not all of runs/: the note says how runs/ changed.
        self.journal.note(run_id, folder=(before, folder_stamp(self._runs_dir)))
        owner_recorded(self, run_id, status, owner)
        return self._info(doc)

    def read_doc(self, run_id: str) -> dict[str, Any]:
        path = self.layout.run_doc(run_id)
        try:
            doc = read_json(path)
        except FileNotFoundError:
            raise NotFoundError(f"no run with id {run_id!r}") from None
        problem = run_doc_problem(doc)
        if problem is not None:
            raise StoreError(f"{path} is damaged: {problem}; see 'mlcli fsck'")
        return doc

    def current_doc(self, run_id: str) -> dict[str, Any]:
        """run.json as last read, read again only if its signature (inode, size,
        mtime, ctime) changed since: one ``stat`` when nothing changed. Not for a
        rewrite (that reads under the run's lock); the dict must not be changed."""
        entry = self._cached(run_id)
        try:
            stat = os.stat(entry.doc_path)
        except FileNotFoundError:
            entry.signature = None
            raise NotFoundError(f"no run with id {run_id!r}") from None
        signature = (stat.st_ino, stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns)
        if signature == entry.signature:
            return entry.doc
        doc = self.read_doc(run_id)
        settled = time.time_ns() - max(stat.st_mtime_ns, stat.st_ctime_ns) > RACY_NS
        # Read after the stat: a newer document under an older signature is read again.
        entry.signature = signature if settled else None
        entry.doc = doc
        entry.info = None
        return doc

    def info(self, run_id: str) -> RunInfo:
        doc = self.current_doc(run_id)
        entry = self._cached(run_id)
        if entry.info is None:  # cleared whenever the document is read again
            entry.info = self._info(doc)
        return entry.info

    def update(self, run_id: str, **changes: Any) -> RunInfo:
        with FileLock(self.layout.run_lock(run_id)):
            doc = self._rewrite_doc(run_id, changes)
        self.journal.note(run_id)
        return self._info(doc)

    def set_status(
        self, run_id: str, status: str, end_time: int | None = None, owner: RunOwner | None = None
    ) -> RunInfo:
        """A live status records ``owner`` as the run's owner (None: nobody watched).
        An end status first makes the run's logs durable (``MLCLI_SYNC=batch``)."""
        if status in RunStatus.TERMINAL and sync_mode() == SYNC_BATCH:
            directory = self._cached(run_id).directory
            sync_files(
                os.path.join(directory, name)
                for name in (METRICS_LOG, PARAMS_LOG, TAGS_LOG, BATCHES_LOG)
            )
        info = self.update(run_id, **status_change(status, end_time, owner))
        owner_recorded(self, run_id, status, owner)
        return info

    def set_lifecycle(self, run_id: str, stage: str) -> RunInfo:
        return self.update(run_id, **lifecycle_change(stage))

    def purge(self, run_id: str) -> None:
        """Remove a run's folder for good: renamed out of sight first, so a crash
        half-way leaves no half-run behind."""
        trash = self.layout.runs_dir / f".purge-{run_id}"
        before = folder_stamp(self._runs_dir)
        os.replace(self.layout.run_dir(run_id), trash)
        shutil.rmtree(trash)
        self.journal.note(run_id, folder=(before, folder_stamp(self._runs_dir)))

    # -- logs ----------------------------------------------------------------------------

    def log_params(self, run_id: str, params: dict[str, str]) -> None:
        """Append params; the same value again is fine, a different one a ConflictError."""
        self.log_batch(run_id, params=params)

    def set_tags(self, run_id: str, tags: dict[str, str | None]) -> None:
        """Set tags (a value of None deletes the tag)."""
        self.log_batch(run_id, tags=tags)

    def log_batch(
        self,
        run_id: str,
        *,
        params: dict[str, str] | None = None,
        tags: dict[str, str | None] | None = None,
        metrics: list[Metric] | None = None,
        batch_id: str | None = None,
    ) -> None:
        """Append params, tags and metrics as one batch that readers see whole or not
        at all (see ``batches.py``). Params follow :meth:`log_params`'s rule; a tag
        value of None deletes the tag; ``mlcli.runName`` renames the run. A batch
        given an id that the run committed recently is not written again: a client
        that lost the answer to a batch sends it again under the same id.

        Everything is checked and encoded before the first write, and the writes hold
        the run's lock, from the first line to the commit line.
        """
        params, tags, metrics = params or {}, tags or {}, metrics or []
        name = tags.get(system_tags.RUN_NAME)
        if name is not None:
            validate_run_name(name)
        if batch_id is not None:
            validate_batch_id(batch_id)
        with FileLock(self.layout.run_lock(run_id)):
            if batch_id is not None and committed_recently(
                self.layout.batches_log(run_id), batch_id
            ):
                return
            existing = self.read_params(run_id) if params else {}
            conflict = check_param_conflicts(run_id, existing, params)
            if conflict:
                raise conflict
            new_params = {k: v for k, v in params.items() if k not in existing}
            count = len(new_params) + len(tags) + len(metrics)
            if not count:
                return
            batch = batch_id or (new_batch_id() if count > 1 else None)
            texts = [
                (self.layout.params_log(run_id), new_params.items(), key_value_line),
                (self.layout.tags_log(run_id), tags.items(), key_value_line),
            ]
            parts = [
                (path, "".join(line(k, v, batch) for k, v in items).encode())
                for path, items, line in texts
            ]
            metric_text = "".join(
                metric_line(m.key, m.value, m.step, m.timestamp, batch) for m in metrics
            )
            parts.append((self.layout.metrics_log(run_id), metric_text.encode()))
            if batch:
                parts.append((self.layout.batches_log(run_id), commit_line(batch, count)))
            self._append_parts(
                run_id, [(path, data) for path, data in parts if data], batch=count > 1
            )
            if name:
                self._rewrite_doc(run_id, {"run_name": name})

    def append_metrics(self, run_id: str, metrics: list[Metric]) -> None:
        if not metrics:
            return
        data = "".join(metric_line(m.key, m.value, m.step, m.timestamp) for m in metrics)
        self._append_parts(
            run_id, [(self._cached(run_id).metrics_path, data.encode())], batch=len(metrics) > 1
        )

    def append_metric_lines(self, run_id: str, data: bytes) -> None:
        """Append already-encoded metric lines (the fluent API's batched flush: a
        batch, fsynced under ``MLCLI_SYNC=batch``)."""
        self._append_parts(run_id, [(self._cached(run_id).metrics_path, data)], batch=True)

    def log_inputs(
        self,
        run_id: str,
        datasets: list[DatasetInput] | None = None,
        models: list[ModelInput] | None = None,
    ) -> None:
        """Record datasets and logged models as inputs of the run (``inputs.jsonl``,
        see ``inputs.py``); those it already has are not written again. All the lines
        are one append, under the run's lock."""
        datasets, models = datasets or [], models or []
        validate_inputs(datasets, models)
        if not datasets and not models:
            return
        with FileLock(self.layout.run_lock(run_id)):
            fresh, fresh_models = new_inputs(self.read_inputs(run_id), datasets, models)
            data = "".join(input_lines(fresh, fresh_models)).encode()
            if data:
                self._append_parts(run_id, [(self.layout.inputs_log(run_id), data)])

    def read_inputs(self, run_id: str) -> RunInputs:
        """The run's inputs (NotFoundError when there is no such run)."""
        if not self.exists(run_id):
            raise NotFoundError(f"no run with id {run_id!r}")
        return fold_inputs(read_log_records(self.layout.inputs_log(run_id)))

    def read_params(self, run_id: str) -> dict[str, str]:
        params: dict[str, str] = {}
        committed = read_committed(self.layout.batches_log(run_id))
        records = read_log_records(self.layout.params_log(run_id))
        fold_params(visible_records(records, committed), params)
        return params

    def read_tags(self, run_id: str) -> dict[str, str]:
        tags: dict[str, str] = {}
        committed = read_committed(self.layout.batches_log(run_id))
        records = read_log_records(self.layout.tags_log(run_id))
        fold_tags(visible_records(records, committed), tags)
        return tags

    def read_latest_metrics(self, run_id: str) -> dict[str, Metric]:
        """The latest point per key, from the log itself (read a chunk at a time)."""
        latest: dict[str, Metric] = {}
        committed = read_committed(self.layout.batches_log(run_id))
        for data, _ in read_log_chunks(self.layout.metrics_log(run_id)):
            fold_metric_log(visible_bytes(data, committed), latest)
        return latest

    def read_metric_history(self, run_id: str, key: str | None = None) -> list[Metric]:
        return list(self.iter_metric_history(run_id, key))

    def iter_metric_history(
        self, run_id: str, key: str | None = None, chunk_size: int = LOG_CHUNK_BYTES
    ) -> Iterator[Metric]:
        """The points of a run's metrics (only ``key``'s when given), in the order they
        were logged. The log is read a chunk at a time and only the wanted points are
        built, so a caller that keeps a page of them holds a page, however long the
        log. NotFoundError (at once, not on the first ``next``) when there is no run.
        """
        if not self.exists(run_id):
            raise NotFoundError(f"no run with id {run_id!r}")
        return _metric_points(
            self.layout.metrics_log(run_id), self.layout.batches_log(run_id), key, chunk_size
        )

    # -- internals -------------------------------------------------------------------------

    def _append_parts(
        self, run_id: str, parts: list[tuple[str | Path, bytes]], *, batch: bool = False
    ) -> None:
        """Append to several logs, in order (each part one write); ``batch``: the
        parts are a batch, each fsynced under ``MLCLI_SYNC=batch``."""
        try:
            for path, data in parts:
                append_bytes(path, data, batch=batch)
        except FileNotFoundError:
            raise NotFoundError(f"no run with id {run_id!r}") from None
        # Check the status after the append: if the run is no longer live, a reader may
        # already have indexed it as finished and will not look at it again unless told.
        try:
            status = self.current_doc(run_id).get("status")
        except (NotFoundError, StoreError):
            status = None
        if status not in RunStatus.LIVE:
            self.journal.note(run_id)

    def _rewrite_doc(self, run_id: str, changes: dict[str, Any]) -> dict[str, Any]:
        """Apply ``changes`` to run.json; the caller holds the run's lock."""
        doc = self.read_doc(run_id)
        doc.update(changes)
        write_json_atomic(self.layout.run_doc(run_id), doc)
        return doc

    def _info(self, doc: dict[str, Any]) -> RunInfo:
        run_id = doc["run_id"]
        entry = self._cached(run_id)
        if not entry.artifact_uri:
            if run_id.isascii() and run_id.isalnum():  # no %-encoding: as_uri once per store
                if not self._runs_uri:
                    self._runs_uri = Path(self._runs_dir).as_uri()
                entry.artifact_uri = f"{self._runs_uri}/{run_id}/{ARTIFACTS_DIR}"
            else:
                entry.artifact_uri = Path(entry.directory, ARTIFACTS_DIR).as_uri()
        return run_info_from_doc(doc, entry.artifact_uri)


def _metric_points(
    path: Path, batches_path: Path, key: str | None, chunk_size: int
) -> Iterator[Metric]:
    committed = read_committed(batches_path)  # before the log: see batches.py
    for data, _ in read_log_chunks(path, 0, chunk_size):
        yield from decode_metric_log(visible_bytes(data, committed), key)


def status_change(
    status: str, end_time: int | None = None, owner: RunOwner | None = None
) -> dict[str, Any]:
    """What a new status changes in a run's document, every store alike: an end status
    its end time, a live status its owner (None: nobody watched)."""
    if status not in RunStatus.ALL:
        raise InvalidInputError(
            f"invalid run status {status!r}: expected one of {', '.join(RunStatus.ALL)}"
        )
    if status in RunStatus.TERMINAL:
        return {"status": status, "end_time": end_time or now_ms()}
    return {"status": status, "end_time": None, **owner_fields(owner)}


def lifecycle_change(stage: str) -> dict[str, Any]:
    """What deleting or restoring a run changes in its document."""
    deleted_time = now_ms() if stage == LifecycleStage.DELETED else None
    return {"lifecycle_stage": stage, "deleted_time": deleted_time}


def run_info_from_doc(doc: dict[str, Any], artifact_uri: str) -> RunInfo:
    return RunInfo(
        run_id=doc["run_id"],
        run_name=doc.get("run_name") or "",
        experiment_id=str(doc.get("experiment_id", "0")),
        status=doc.get("status", RunStatus.RUNNING),
        start_time=int(doc.get("start_time") or 0),
        end_time=doc.get("end_time"),
        lifecycle_stage=doc.get("lifecycle_stage", LifecycleStage.ACTIVE),
        user_id=doc.get("user_id") or "",
        parent_run_id=doc.get("parent_run_id"),
        artifact_uri=artifact_uri,
        deleted_time=doc.get("deleted_time"),
    )


def check_param_conflicts(
    run_id: str, existing: dict[str, str], params: dict[str, str]
) -> ConflictError | None:
    for key, value in params.items():
        if key in existing and existing[key] != value:
            return ConflictError(
                f"param {key!r} of run {run_id[:8]} is already {existing[key]!r}; "
                f"params cannot change (attempted {value!r})",
                error_code="INVALID_PARAMETER_VALUE",
            )
    return None


def new_run_document(
    run_id: str,
    run_name: str,
    experiment_id: str,
    user_id: str,
    parent_run_id: str | None,
    start_time: int | None,
    status: str,
    owner: RunOwner | None,
) -> dict[str, Any]:
    """The document (``run.json``) of a run just created, in every store."""
    doc: dict[str, Any] = {
        "run_id": run_id,
        "run_name": run_name,
        "experiment_id": experiment_id,
        "status": status,
        "start_time": now_ms() if start_time is None else start_time,
        "end_time": None,
        "lifecycle_stage": LifecycleStage.ACTIVE,
        "deleted_time": None,
        "user_id": user_id,
        "parent_run_id": parent_run_id,
    }
    if owner is not None:
        doc.update(owner_fields(owner))
    return doc


def creation_tags(
    run_name: str, user_id: str, tags: dict[str, str], parent_run_id: str | None
) -> dict[str, str]:
    """The tags a run is created with: its name (whatever ``tags`` said), user and parent."""
    all_tags = {system_tags.RUN_NAME: run_name, system_tags.USER: user_id, **tags}
    all_tags[system_tags.RUN_NAME] = run_name
    if parent_run_id:
        all_tags[system_tags.PARENT_RUN_ID] = parent_run_id
    return all_tags
