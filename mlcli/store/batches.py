"""A batch of params, tags and metrics appears to readers whole, or not at all.

A batch of more than one line spans up to three logs (params, tags, metrics), and a
write of many lines can be cut short (a kill, a full disk). So every line of such a
batch carries the batch's id, and once all of them are written the writer appends
one commit line to the run's ``batches.jsonl``::

    params.jsonl   {"key": "lr", "value": "0.1", "batch": "3f9c2a1b5e7d4c60"}
    metrics.jsonl  {"key":"loss","value":0.5,"step":1,"timestamp":17,"batch":"3f9c2a1b5e7d4c60"}
    batches.jsonl  {"batch": "3f9c2a1b5e7d4c60", "lines": 7}

Readers read the commit log before the other logs and skip every line whose batch
has not committed: a batch whose writer died half-way stays invisible for good, one
being written becomes visible, whole, when its commit line lands. Lines without a
batch id (single writes, the fluent API's buffered metrics) are always visible.

Batch writers hold the run's lock from their first line to their commit. The index,
which must not step past a batch still being written (it reads each log once, from
where it stopped), waits for that lock when it meets uncommitted lines and reads
again: under the lock, an uncommitted batch is one whose writer died. A writer that
holds the lock longer than ``WRITER_WAIT_SECONDS`` (a stopped process) is waited for
no longer: the index then reads each log up to the first uncommitted line only, and
reads on from there next time.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import time
import uuid
from collections.abc import Iterable, Iterator
from typing import Any

from mlcli.files.fileio import read_log_records

BATCH_FIELD = "batch"
WRITER_WAIT_SECONDS = 10.0  # how long a reader waits for a batch writer (see below)
# As written by key_value_line (json.dumps: a space after ':') and metric_line (none).
_MARKER = re.compile(rb'"batch": ?"([0-9a-f]{16})"')
_MARKER_TEXT = b'"batch":'


def new_batch_id() -> str:
    return uuid.uuid4().hex[:16]


_BATCH_ID = re.compile(r"[0-9A-Za-z_-]{8,64}")


def validate_batch_id(batch_id: str) -> str:
    """An id a client gives a batch: 8 to 64 letters, digits, '-' or '_'."""
    from mlcli.errors import InvalidInputError

    if not isinstance(batch_id, str) or not _BATCH_ID.fullmatch(batch_id):
        raise InvalidInputError(
            f"invalid batch id {str(batch_id)[:80]!r}: expected 8 to 64 letters, digits, '-' or '_'"
        )
    return batch_id


def commit_line(batch_id: str, lines: int) -> bytes:
    return json.dumps({BATCH_FIELD: batch_id, "lines": lines}).encode() + b"\n"


#: How far back in ``batches.jsonl`` a named batch is looked for (about 25,000 commits).
RECENT_COMMITS_BYTES = 1 << 20


def committed_recently(path: str | os.PathLike[str], batch_id: str) -> bool:
    """Whether the batch ``batch_id`` is among the run's recent commits: a batch sent
    again after a lost answer comes back soon, so the tail of the log is enough, and a
    request does not read a run's whole history of batches."""
    marker = json.dumps({BATCH_FIELD: batch_id})[1:-1].encode()  # '"batch": "<id>"'
    try:
        with open(path, "rb") as handle:
            size = handle.seek(0, os.SEEK_END)
            handle.seek(max(0, size - RECENT_COMMITS_BYTES))
            return marker in handle.read()
    except FileNotFoundError:
        return False


def read_committed(path: str | os.PathLike[str]) -> frozenset[str]:
    """The ids of the batches that committed, from a run's ``batches.jsonl``."""
    return frozenset(
        record[BATCH_FIELD]
        for record in read_log_records(path)
        if isinstance(record.get(BATCH_FIELD), str)
    )


def visible_bytes(data: bytes, committed: frozenset[str], hidden: set[str] | None = None) -> bytes:
    """The complete lines of ``data`` that a reader may see: those of no batch or of a
    committed one. The ids of batches left out are added to ``hidden``."""
    if _MARKER_TEXT not in data:
        return data
    uncommitted = {raw.decode() for raw in set(_MARKER.findall(data))} - committed
    if not uncommitted:
        return data
    if hidden is not None:
        hidden |= uncommitted
    return b"".join(line + b"\n" for line in data.split(b"\n")[:-1] if _visible(line, committed))


def visible_records(
    records: Iterable[dict[str, Any]], committed: frozenset[str], hidden: set[str] | None = None
) -> Iterator[dict[str, Any]]:
    """The records of no batch or of a committed one (see :func:`visible_bytes`)."""
    for record in records:
        batch = record.get(BATCH_FIELD)
        if batch is None or batch in committed:
            yield record
        elif hidden is not None:
            hidden.add(str(batch))


def first_uncommitted(data: bytes, committed: frozenset[str]) -> int | None:
    """Where in ``data`` (complete lines) the first line of an uncommitted batch starts."""
    if _MARKER_TEXT not in data:
        return None
    for found in _MARKER.finditer(data):
        if found.group(1).decode() not in committed:
            return data.rfind(b"\n", 0, found.start()) + 1
    return None


@contextlib.contextmanager
def batch_writers_done(
    lock_path: str | os.PathLike[str], timeout: float = WRITER_WAIT_SECONDS
) -> Iterator[bool]:
    """Hold the run's lock shared, waiting at most ``timeout`` seconds for a batch
    writer to let go of it. Yields True while it is held (no batch is half-way then),
    or when there is no lock to hold (no writer ever made one); False when a writer
    still holds it, stopped perhaps (SIGSTOP, a suspended job)."""
    try:
        fd = os.open(lock_path, os.O_RDONLY)
    except OSError:
        yield True
        return
    try:
        yield _lock_shared(fd, timeout)
    finally:
        os.close(fd)  # releases the lock


def _lock_shared(fd: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    pause = 0.001
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            if time.monotonic() >= deadline:
                return False
            time.sleep(pause)
            pause = min(pause * 2, 0.05)
        except OSError:  # a filesystem without locks: read what is there
            return True


def _visible(line: bytes, committed: frozenset[str]) -> bool:
    found = _MARKER.search(line)
    return found is None or found.group(1).decode() in committed
