"""Batching of fluent ``log_metric`` calls, so a training loop is not slowed by I/O.

Points are encoded at once and kept in memory per run; they are appended in one
write when 10,000 are waiting, at least once a second (by a daemon thread), before
any read through a client in this process, when a run ends, and at interpreter
exit. A forked child starts with an empty buffer, so no point is written twice.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading

from mlcli.errors import NotFoundError
from mlcli.store.records import metric_line
from mlcli.store.runs import RunFiles

FLUSH_POINTS = 10_000
FLUSH_SECONDS = 1.0

_log = logging.getLogger("mlcli")


class MetricBuffer:
    def __init__(self, flush_points: int = FLUSH_POINTS, flush_seconds: float = FLUSH_SECONDS):
        self.flush_points = flush_points
        self.flush_seconds = flush_seconds
        self._pending: dict[tuple[RunFiles, str], list[str]] = {}
        self._count = 0
        self._lock = threading.Lock()  # guards _pending and _count
        self._write_lock = threading.Lock()  # one flush at a time, in order
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    def add(self, runs: RunFiles, run_id: str, key: str, value: float, step: int, ts: int) -> None:
        line = metric_line(key, value, step, ts)
        with self._lock:
            lines = self._pending.get((runs, run_id))
            if lines is None:
                lines = self._pending[(runs, run_id)] = []
            lines.append(line)
            self._count += 1
            full = self._count >= self.flush_points
        if full:
            self.flush()
        elif self._thread is None:
            self._start_thread()

    def flush(self, run_id: str | None = None) -> None:
        """Write what is pending (for one run, or all); errors propagate to the caller."""
        with self._write_lock:
            batches = self._take(run_id)
            failed: BaseException | None = None
            for index, ((runs, rid), lines) in enumerate(batches):
                try:
                    runs.append_metric_lines(rid, "".join(lines).encode())
                except NotFoundError:
                    _log.warning(
                        "mlcli: run %s no longer exists; %d metric points dropped", rid, len(lines)
                    )
                except BaseException as exc:  # keep the points for the next try
                    self._put_back(batches[index:])
                    failed = exc
                    break
            if failed is not None:
                raise failed

    def discard(self) -> None:
        with self._lock:
            self._pending.clear()
            self._count = 0

    def _take(self, run_id: str | None) -> list[tuple[tuple[RunFiles, str], list[str]]]:
        with self._lock:
            if run_id is None:
                taken = list(self._pending.items())
                self._pending.clear()
            else:
                taken = [(k, v) for k, v in self._pending.items() if k[1] == run_id]
                for key, _ in taken:
                    del self._pending[key]
            self._count -= sum(len(lines) for _, lines in taken)
            return taken

    def _put_back(self, batches: list[tuple[tuple[RunFiles, str], list[str]]]) -> None:
        with self._lock:
            for key, lines in batches:
                self._pending[key] = lines + self._pending.get(key, [])
                self._count += len(lines)

    def _start_thread(self) -> None:
        with self._lock:
            if self._thread is not None:
                return
            self._thread = threading.Thread(
                target=self._run_periodic, name="mlcli-metric-flush", daemon=True
            )
        self._thread.start()

    def _run_periodic(self) -> None:
        while not self._stop.wait(self.flush_seconds):
            try:
                self.flush()
            except Exception as exc:
                _log.warning("mlcli: could not write metrics yet (%s); will retry", exc)

    def _reset_after_fork(self) -> None:
        self._pending = {}
        self._count = 0
        self._lock = threading.Lock()
        self._write_lock = threading.Lock()
        self._thread = None
        self._stop = threading.Event()


_buffer = MetricBuffer()


def metric_buffer() -> MetricBuffer:
    """The process's buffer."""
    return _buffer


def flush_pending() -> None:
    if _buffer._count:
        _buffer.flush()


def _flush_at_exit() -> None:
    try:
        _buffer.flush()
    except Exception as exc:
        _log.error("mlcli: metrics could not be written at exit: %s", exc)


atexit.register(_flush_at_exit)
os.register_at_fork(after_in_child=_buffer._reset_after_fork)
