"""Reading what the index needs from one run's files: the half of indexing that needs
no database.

``read_run`` reads ``run.json`` (when its signature changed) and each log from the
offset the index reached, and folds what it read: params as rows, tags as their final
values, metrics as the latest point per key *of what was read* (the index merges that
with what it holds, which gives the same result as folding everything in order, since
"latest" is a maximum and a later line wins a tie). The result is a plain, picklable
value.

Building the index of a large store reads every metric point ever logged, so this is
the hot path of a cold start (see ``records.fold_metric_log``). Logs are read and
folded a chunk at a time (``fileio.read_log_chunks``): a log of ten million points
costs a few MB, not ten times its size. When many runs are read at once (a cold
index), ``index.cold`` runs this reading in worker processes started on a dedicated
entry (neither ``spawn``, which re-imports the caller's main module, nor ``fork``,
unsafe in a process that runs threads).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from mlcli.files.fileio import (
    LOG_CHUNK_BYTES,
    file_size,
    parse_lines,
    read_document,
    read_log_chunks,
)
from mlcli.store.batches import (
    batch_writers_done,
    first_uncommitted,
    read_committed,
    visible_bytes,
)
from mlcli.store.damage import run_doc_problem
from mlcli.store.entities import Metric
from mlcli.store.layout import (
    BATCHES_LOG,
    METRICS_LOG,
    PARAMS_LOG,
    RUN_DOC,
    RUN_LOCK,
    TAGS_LOG,
)
from mlcli.store.records import fold_metric_log

LOGS = ("params", "tags", "metrics")


@dataclass
class LogRead:
    end: int  # the offset to resume at
    replaced: bool = False  # the log shrank: what the index holds of it is void
    params: list[tuple[str, str]] = field(default_factory=list)
    tags: dict[str, str | None] = field(default_factory=dict)  # None: deleted
    metrics: dict[str, Metric] = field(default_factory=dict)


@dataclass
class RunRead:
    """What changed in one run's files since the index read them."""

    run_id: str
    signature: str | None  # of run.json; None when the folder has no run.json
    doc: dict[str, Any] | None = None  # run.json, when its signature changed
    damage: str | None = None  # what is wrong with run.json, when it cannot be read
    logs: dict[str, LogRead] = field(default_factory=dict)  # only logs that grew


# (run id, known doc signature or None, offsets of params, tags, metrics)
ReadRequest = tuple[str, str | None, tuple[int, int, int]]


def read_run(
    runs_dir: str, request: ReadRequest, chunk_size: int = LOG_CHUNK_BYTES, batches: str = "wait"
) -> RunRead:
    """What changed in one run's files; each log is read ``chunk_size`` bytes at a
    time and folded as it goes, so a log of any length costs bounded memory.

    Lines of a batch that has not committed are left out, and the read never steps
    past a batch still being written, since the offsets it returns are not read again
    (see ``batches.py``). Meeting one, it waits for the batch's writer and reads again
    (``batches="settled"``: no batch is half-way, so one without its commit line never
    will have it); if the writer holds on, it reads each log up to its first
    uncommitted line (``batches="stop"``).
    """
    run_id, known_signature, offsets = request
    run_dir = f"{runs_dir}{os.sep}{run_id}"  # os.path.join costs more, 40,000 times over
    doc_path = f"{run_dir}{os.sep}{RUN_DOC}"
    signature = file_signature(doc_path)
    result = RunRead(run_id, signature)
    if signature is None:
        return result
    if signature != known_signature:
        try:
            doc, problem = read_document(doc_path)
        except FileNotFoundError:  # the run was removed meanwhile
            result.signature = None
            return result
        result.damage = problem or run_doc_problem(doc)
        if result.damage is not None:
            return result
        result.doc = doc
    committed = read_committed(f"{run_dir}{os.sep}{BATCHES_LOG}")  # before the logs
    hidden: set[str] = set()
    for log, offset in zip(LOGS, offsets, strict=True):
        path = f"{run_dir}{os.sep}{log}.jsonl"
        replaced = False
        if offset:  # from the start, a read needs no stat first
            try:
                size = os.stat(path).st_size
            except FileNotFoundError:
                size = 0
            if size == offset:
                continue
            replaced = size < offset
            if replaced:
                offset = 0
        read: LogRead | None = None
        for data, end in read_log_chunks(path, offset, chunk_size):
            if read is None:
                read = LogRead(end, replaced)
            cut = first_uncommitted(data, committed) if batches == "stop" else None
            if cut is not None:
                data, end = data[:cut], end - (len(data) - cut)
            read.end = end
            _fold_chunk(log, visible_bytes(data, committed, hidden), read)
            if cut is not None:
                break
        if read is None:
            if not replaced:
                continue
            read = LogRead(offset, replaced)
        result.logs[log] = read
    if hidden and batches == "wait":
        # A batch half-written: wait for its writer to let go of the run's lock, then
        # read again. Whatever is still uncommitted then was left by a writer that died.
        with batch_writers_done(f"{run_dir}{os.sep}{RUN_LOCK}") as done:
            return read_run(runs_dir, request, chunk_size, "settled" if done else "stop")
    return result


def read_runs(
    runs_dir: str, requests: Sequence[ReadRequest], chunk_size: int = LOG_CHUNK_BYTES
) -> Iterator[RunRead]:
    """``read_run`` of each request, in order."""
    for request in requests:
        yield read_run(runs_dir, request, chunk_size)


def _fold_chunk(log: str, data: bytes, read: LogRead) -> None:
    """Fold complete lines of one log into ``read``: in file order, so folding a log
    chunk by chunk gives what folding it whole would."""
    if log == "params":
        read.params += [
            (r["key"], str(r["value"]))
            for r in parse_lines(data)
            if isinstance(r.get("key"), str) and r.get("value") is not None
        ]
    elif log == "tags":
        for record in parse_lines(data):  # the last line for a key wins
            key, value = record.get("key"), record.get("value")
            if isinstance(key, str):
                read.tags[key] = None if value is None else str(value)
    else:
        fold_metric_log(data, read.metrics)


def files_changed(runs_dir: str, row: Sequence[Any]) -> bool:
    """Whether a run's files changed since they were read into ``row`` (a run's row as
    ``KNOWN_RUNS_SQL`` selects it: id, status, run.json's signature, the offsets read
    of params, tags and metrics): four stats. Paths are joined as text, not through
    pathlib, which cost three times the stats themselves when a refresh checks
    thousands of live runs."""
    run_id, _status, doc_signature, params_offset, tags_offset, metrics_offset = row
    folder = f"{runs_dir}{os.sep}{run_id}{os.sep}"
    return (
        file_signature(f"{folder}{RUN_DOC}") != doc_signature
        or file_size(f"{folder}{PARAMS_LOG}") != params_offset
        or file_size(f"{folder}{TAGS_LOG}") != tags_offset
        or file_size(f"{folder}{METRICS_LOG}") != metrics_offset
    )


def file_signature(path: str | os.PathLike[str]) -> str | None:
    """Identity, size and modification time of a file: changes when it is replaced."""
    try:
        st = os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        return None
    return f"{st.st_ino}:{st.st_size}:{st.st_mtime_ns}"
