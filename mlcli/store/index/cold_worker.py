"""Reading run folders into index rows: the half of a cold build (``cold.py``) that
worker processes do.

A worker is started as ``python -c "from mlcli.store.index.cold_worker import main;
main()"``: a dedicated entry,
so nothing of the caller is imported again (``multiprocessing``'s spawn and forkserver
re-import the caller's ``__main__``, and a script without a ``__main__`` guard would
start its work again in every worker), and nothing is forked from a process that may
hold threads or SQLite handles. It imports what reading a run needs (``scan``) and no
more: no CLI, no third-party package.

The protocol on its stdin and stdout is frames: an 8-byte big-endian length, then a
pickle. The first frame is the ``ReadPlan``: where the runs are, and how the journal's
summaries are read and written (``summaries.py``); each
frame after it is a list of ``BatchItem``, answered by one frame of their ``BatchRows``. An
empty frame (or the end of stdin) ends the worker.
"""

from __future__ import annotations

import gc
import os
import pickle
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from mlcli.store.index.rows import metric_row
from mlcli.store.index.summaries import check_row, encode, is_summarized, rows_of_line
from mlcli.store.index.updates import _run_values
from mlcli.store.scan import LOGS, read_run

_LENGTH_BYTES = 8


@dataclass
class BatchRows:
    """The rows of a batch of runs new to the index, as ``updates.scan_runs`` writes
    them, and the runs left out because their run.json is damaged."""

    runs: list[tuple[Any, ...]] = field(default_factory=list)
    params: list[tuple[Any, ...]] = field(default_factory=list)
    tags: list[tuple[Any, ...]] = field(default_factory=list)
    metrics: list[tuple[Any, ...]] = field(default_factory=list)
    damaged: list[tuple[str, str, str]] = field(default_factory=list)  # id, signature, problem
    summaries: bytes = b""  # the summary lines of the finished runs (``summaries.py``)
    summarized: list[tuple[Any, ...]] = field(default_factory=list)  # their check rows
    reader: int = field(default_factory=os.getpid)  # the process that read them


@dataclass(frozen=True)
class ReadPlan:
    """How a cold build reads its runs: where they are, how much of a log at a time,
    and the journal: its identity (for the summaries written of runs read from their
    files; None: none are written), its path and how its summaries are taken (None:
    not at all; ``summaries.TRUST`` or ``VERIFY``)."""

    runs_dir: str
    chunk_bytes: int
    journal: str | None = None
    journal_path: str | None = None
    summaries: str | None = None


# A run to read: its id, or its id and where its summary is in the journal.
BatchItem = str | tuple[str, int, int]


def batch_rows(plan: ReadPlan, items: Sequence[BatchItem]) -> BatchRows:
    """Read these runs (none of them indexed yet) into rows: what ``scan_runs`` does for
    a run the index does not hold, without a database. A run given with the place of
    its summary is taken from it, and read from its files only if the summary does not
    do (``summaries.rows_of_line``). A finished run read from its files gets its
    summary line, for the journal of ``plan.journal``."""
    rows = BatchRows()
    lines = []
    journal = None
    if plan.summaries is not None and plan.journal_path is not None:
        journal = _open_journal(plan.journal_path)
    try:
        for item in items:
            if isinstance(item, str):
                run_id = item
            else:
                run_id, offset, length = item
                if journal is not None:
                    taken = rows_of_line(
                        os.pread(journal, length, offset),
                        run_id,
                        plan.runs_dir,
                        plan.journal,
                        plan.summaries or "",
                    )
                    if taken is not None:
                        _add(rows, *taken)
                        continue
            lines.append(_read_files(plan, run_id, rows))
    finally:
        if journal is not None:
            os.close(journal)
    rows.summaries = b"".join(line for line in lines if line)
    return rows


def _open_journal(path: str) -> int | None:
    try:
        return os.open(path, os.O_RDONLY)
    except OSError:
        return None


def _add(
    rows: BatchRows,
    run_row: tuple[Any, ...],
    params: list[Any],
    tags: list[Any],
    metrics: list[Any],
) -> None:
    rows.runs.append(run_row)
    rows.params += params
    rows.tags += tags
    rows.metrics += metrics


def _read_files(plan: ReadPlan, run_id: str, rows: BatchRows) -> bytes:
    """Read one run from its files into ``rows``; its summary line if it is finished
    and summaries are written (else b"")."""
    read = read_run(plan.runs_dir, (run_id, None, (0, 0, 0)), plan.chunk_bytes)
    if read.signature is None:
        return b""  # a folder without run.json is not a run
    if read.damage is not None:
        rows.damaged.append((run_id, read.signature, read.damage))
        return b""
    assert read.doc is not None
    ends = [0, 0, 0]
    params: list[tuple[Any, ...]] = []
    tags: list[tuple[Any, ...]] = []
    metrics: list[tuple[Any, ...]] = []
    for position, log in enumerate(LOGS):
        part = read.logs.get(log)
        if part is None:
            continue
        ends[position] = part.end
        if log == "params":
            params = [(run_id, key, value) for key, value in part.params]
        elif log == "tags":  # read from the start: a deleted tag is simply absent
            tags = [(run_id, key, value) for key, value in part.tags.items() if value is not None]
        else:
            metrics = [metric_row(run_id, point) for point in part.metrics.values()]
    run_row = (*_run_values(read.doc, read.signature), *ends, run_id)
    _add(rows, run_row, params, tags, metrics)
    if plan.journal is None or not is_summarized(run_row):
        return b""
    rows.summarized.append(check_row(run_row))
    return encode(run_row, params, tags, metrics, plan.journal)


def frame(value: Any) -> bytes:
    payload = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    return len(payload).to_bytes(_LENGTH_BYTES, "big") + payload


def read_frame(stream: BinaryIO) -> Any:
    """The next frame's value; None at the end of the stream or on an empty frame."""
    header = stream.read(_LENGTH_BYTES)
    if len(header) < _LENGTH_BYTES:
        return None
    size = int.from_bytes(header, "big")
    if not size:
        return None
    payload = stream.read(size)
    if len(payload) < size:
        return None
    return pickle.loads(payload)


def frame_size(header: bytes | bytearray) -> int:
    return int.from_bytes(header[:_LENGTH_BYTES], "big") + _LENGTH_BYTES


def main() -> None:
    # Frames go to a copy of stdout; anything else printed goes to stderr instead.
    out = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    stdin = sys.stdin.buffer
    start = read_frame(stdin)
    if start is None:
        return
    plan: ReadPlan = start
    # A batch builds tens of thousands of tuples and no cycles: the collector's passes
    # over them cost a sixth of the reading. One collection per batch frees any cycle.
    gc.disable()
    while (items := read_frame(stdin)) is not None:
        out.write(frame(batch_rows(plan, items)))
        out.flush()
        gc.collect()
