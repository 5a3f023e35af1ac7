"""Building the index of many runs it does not hold yet (a rebuild, the first query on
a store without an index), on every core.

Reading the files is most of the cost of a cold build, and it needs no database: the
runs, sorted by id, go in batches to worker processes (``cold_worker``), each reading
its batch into plain rows; the rows come back in batch order and this process inserts
them, in the caller's write transaction. Memory stays bounded: a few batches per
worker are in flight, never the whole store.

Workers are fresh interpreters started on a dedicated entry (``cold_worker`` says
why not ``multiprocessing``). A worker that cannot start or dies hands its batches
back, and they are read here; few runs (``PARALLEL_MIN_RUNS``) or one core are read
here from the start, since starting workers costs more than they save.
"""

from __future__ import annotations

import contextlib
import heapq
import os
import pickle
import selectors
import subprocess
import sys
from collections import deque
from collections.abc import Callable, Generator, Sequence
from pathlib import Path

import mlcli
from mlcli.store.index.cold_worker import (
    BatchItem,
    BatchRows,
    ReadPlan,
    batch_rows,
    frame,
    frame_size,
)
from mlcli.store.index.session import IndexSession
from mlcli.store.index.summaries import append_checked, latest_lines
from mlcli.store.index.updates import PendingRows, insert_pending

PARALLEL_MIN_RUNS = 2_000
BATCH_RUNS = 500
MAX_WORKERS = 8
_AHEAD = 2  # batches sent to a worker before it answers the first: it never waits for us
_WORKER_ENTRY = "from mlcli.store.index.cold_worker import main; main()"
# Workers start in the folder that holds the mlcli package: they import this very
# mlcli, and nothing in the caller's working directory shadows a module.
_PACKAGE_PARENT = str(Path(mlcli.__file__).resolve().parent.parent)
_READ_BYTES = 1 << 20

Progress = Callable[[int, int], None]


def cold_build(
    session: IndexSession,
    run_ids: Sequence[str],
    progress: Progress | None = None,
    workers: int | None = None,
    summaries: str | None = None,
) -> int:
    """Read these runs, none of which the index holds, and insert their rows (inside
    a write transaction; under ``session.bulk`` for many runs). Gives the rows and the
    runs left out as damaged that ``updates.scan_runs`` gives; returns the number of
    runs inserted. ``progress`` is called with (runs read, runs in all) after each
    batch; ``workers`` overrides the number of worker processes (1: none).

    ``summaries`` (``summaries.TRUST`` or ``VERIFY``): take the runs that have a current
    summary in the journal from it, and read only the others' files (worth it when
    most runs are new: the whole journal is read). Every finished run read from its
    files gets its summary appended."""
    ids = sorted(run_ids)  # in key order, rows append to the B-trees
    latest = latest_lines(session.journal, set(ids)) if summaries is not None and ids else {}
    items: list[BatchItem] = [
        run_id if run_id not in latest else (run_id, *latest[run_id]) for run_id in ids
    ]
    batches = [items[start : start + BATCH_RUNS] for start in range(0, len(items), BATCH_RUNS)]
    # Summaries are parsed in the workers too: a worker's share of the work, not ours.
    count = worker_count(len(ids)) if workers is None else workers
    plan = ReadPlan(
        os.path.abspath(session.layout.runs_dir),
        session.log_chunk_bytes,
        (session.journal.identity() or _created(session)) if session.summarize else None,
        str(session.journal.path),
        summaries,
    )
    read: Generator[BatchRows, None, None]
    if count > 1:
        read = read_in_workers(plan, batches, count)
    else:
        read = (batch_rows(plan, batch) for batch in batches)
    inserted = done = 0
    with contextlib.closing(read):  # workers end now if an insert fails, not when collected
        for batch, rows in zip(batches, read, strict=True):
            inserted += _insert(session, rows)
            append_checked(session.journal, plan.runs_dir, rows.summaries, rows.summarized)
            done += len(batch)
            if progress:
                progress(done, len(ids))
    return inserted


def _created(session: IndexSession) -> str | None:
    """The identity of the journal, created empty if there is none yet (None: it
    cannot be: no summaries then)."""
    try:
        session.journal.touch()
    except OSError:
        return None
    return session.journal.identity() or None


def worker_count(runs: int) -> int:
    """How many worker processes read ``runs`` runs: none (1) for few, else two per core.

    Two, since reading a store that is not in the page cache waits on the disk: 100k
    runs read cold took 94 s with 2 workers and 52 s with 4 on 2 cores, read warm 30 s
    and 31 s."""
    if runs < PARALLEL_MIN_RUNS or not sys.executable or getattr(sys, "frozen", False):
        return 1  # a frozen app's executable is not a Python that runs -c
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = os.cpu_count() or 1
    return 1 if cores < 2 else min(2 * cores, MAX_WORKERS)


def _insert(session: IndexSession, rows: BatchRows) -> int:
    insert_pending(session.db, PendingRows(rows.runs, rows.params, rows.tags, rows.metrics))
    damaged = session.left_out.runs
    if damaged:
        for row in rows.runs:
            damaged.pop(row[-1], None)
    for run_id, signature, problem in rows.damaged:
        damaged[run_id] = (signature, problem)
    return len(rows.runs)


class _Worker:
    """One worker process, the batches sent to it, and the bytes of its answers."""

    def __init__(self, process: subprocess.Popen[bytes]) -> None:
        self.process = process
        assert process.stdin is not None and process.stdout is not None
        self.stdin = process.stdin
        self.fd = process.stdout.fileno()
        self.sent: deque[int] = deque()  # batch numbers, in the order sent
        self.received = bytearray()

    @classmethod
    def start(cls, plan: ReadPlan) -> _Worker | None:
        try:
            process = subprocess.Popen(
                [sys.executable, "-c", _WORKER_ENTRY],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                cwd=_PACKAGE_PARENT,
            )
        except OSError:
            return None
        worker = cls(process)
        return worker if worker.write(frame(plan)) else None

    def write(self, data: bytes) -> bool:
        """Whether ``data`` went to the worker (False: it is gone)."""
        try:
            self.stdin.write(data)
            self.stdin.flush()
        except (BrokenPipeError, ValueError):
            return False
        return True

    def send(self, number: int, items: Sequence[BatchItem]) -> bool:
        if not self.write(frame(items)):
            return False
        self.sent.append(number)
        return True

    def receive(self) -> list[tuple[int, BatchRows]] | None:
        """The batches whose answer is now complete; None when the worker is gone."""
        data = os.read(self.fd, _READ_BYTES)
        if not data:
            return None
        self.received += data
        answers = []
        while len(self.received) >= 8 and len(self.received) >= frame_size(self.received):
            size = frame_size(self.received)
            answers.append((self.sent.popleft(), pickle.loads(self.received[8:size])))
            del self.received[:size]
        return answers

    def stop(self) -> None:
        """End the worker: stdin closed, it ends; stdout closed too, in case it is
        half-way through an answer no one will read."""
        for stream in (self.process.stdin, self.process.stdout):
            with contextlib.suppress(OSError):
                if stream is not None:
                    stream.close()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def read_in_workers(
    plan: ReadPlan, batches: Sequence[Sequence[BatchItem]], count: int
) -> Generator[BatchRows, None, None]:
    """The rows of each batch, in order, read by ``count`` workers."""
    started = (_Worker.start(plan) for _ in range(count))
    workers = [worker for worker in started if worker is not None]
    selector = selectors.DefaultSelector()
    to_send = list(range(len(batches)))  # a heap: batches handed back go out first
    answers: dict[int, BatchRows] = {}
    window = count * _AHEAD * 2  # how far ahead of the next batch to insert reading goes
    next_out = 0

    def drop(worker: _Worker) -> None:
        selector.unregister(worker.fd)
        workers.remove(worker)
        worker.stop()
        for number in worker.sent:
            heapq.heappush(to_send, number)

    def feed() -> None:
        for worker in list(workers):
            while len(worker.sent) < _AHEAD and to_send and to_send[0] - next_out < window:
                number = heapq.heappop(to_send)
                if not worker.send(number, batches[number]):
                    heapq.heappush(to_send, number)
                    drop(worker)
                    break

    try:
        for worker in workers:
            selector.register(worker.fd, selectors.EVENT_READ, worker)
        feed()
        while next_out < len(batches):
            if next_out in answers:
                yield answers.pop(next_out)
                next_out += 1
                feed()
            elif not workers:  # none started, or all are gone: read here
                number = heapq.heappop(to_send)
                answers[number] = batch_rows(plan, batches[number])
            else:
                for key, _ in selector.select():
                    worker = key.data
                    received = worker.receive()
                    if received is None:
                        drop(worker)
                    else:
                        answers.update(received)
                feed()
    finally:
        for worker in list(workers):
            worker.stop()
        selector.close()
