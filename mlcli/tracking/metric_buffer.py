"""Batching of fluent ``log_metric`` calls, so a training loop is not slowed by I/O.

Points are encoded at once and kept in memory per run, and appended in one write
(one batch: fsynced under ``MLCLI_SYNC=batch``):

- when 10,000 are waiting (by the thread below, while the caller goes on);
- on a deadline measured from the oldest point not yet written: a daemon thread
  sleeps until that point is ``FLUSH_SECONDS`` (0.5 s) old and writes everything
  then. No point is logged, no thread wakes up;
- if that thread is held up (a busy machine, a C extension holding the GIL), by the
  next ``add`` itself once the oldest point is ``MAX_UNWRITTEN_SECONDS`` (0.75 s) old.
  So when ``log_metric`` returns, every point logged 0.75 s before it was called is
  in the store: a SIGKILL of a process that keeps logging loses at most the last
  0.75 s of points (see ``benchmarks/metric_loss.py`` for the figure measured);
  while a write is under way (a team server that is slow, or restarting and being
  retried), ``add`` leaves it to the thread and keeps buffering, up to
  ``MAX_PENDING_POINTS``; past that it waits (the loop is held back rather than
  memory growing without bound);
- before any read through a client in this process, when a run ends, at exit.

A forked child starts with an empty buffer, so no point is written twice.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time

from mlcli.errors import NotFoundError, PartlyWritten
from mlcli.store import RunRecords, metric_line

FLUSH_POINTS = 10_000
#: While a write is under way, ``add`` buffers up to this many points before it waits.
MAX_PENDING_POINTS = 200_000
#: The flusher thread writes a point this long after it was logged.
FLUSH_SECONDS = 0.5
#: ``add`` writes everything itself once the oldest unwritten point is this old.
MAX_UNWRITTEN_SECONDS = 0.75

_log = logging.getLogger("mlcli")
_Batches = list[tuple[tuple[RunRecords, str], list[str]]]


class MetricBuffer:
    def __init__(
        self,
        flush_points: int = FLUSH_POINTS,
        flush_seconds: float = FLUSH_SECONDS,
        max_unwritten_seconds: float = MAX_UNWRITTEN_SECONDS,
    ) -> None:
        self.flush_points = flush_points
        self.flush_seconds = flush_seconds
        self.max_unwritten_seconds = max(flush_seconds, max_unwritten_seconds)
        self._init_state()

    def _init_state(self) -> None:
        self._pending: dict[tuple[RunRecords, str], list[str]] = {}
        self._count = 0
        self._prefixes: dict[str, str] = {}
        # Monotonic times of the oldest point pending, and of the oldest point taken
        # by a flush that has not finished writing: the deadlines count from these.
        self._pending_since: float | None = None
        self._writing_since: float | None = None
        self._lock = threading.Lock()  # guards the fields above
        self._wake = threading.Condition(self._lock)  # the flusher sleeps on it
        self._write_lock = threading.Lock()  # one flush at a time, in order
        self._thread: threading.Thread | None = None

    def add(
        self, runs: RunRecords, run_id: str, key: str, value: float, step: int, ts: int
    ) -> None:
        if value - value == 0.0:  # finite: the line from its key's prefix (the hot path)
            prefix = self._prefixes.get(key)
            if prefix is None:
                if len(self._prefixes) >= 10_000:
                    self._prefixes.clear()
                prefix = self._prefixes[key] = _line_prefix(key)
            line = f'{prefix}{value!r},"step":{step},"timestamp":{ts}}}\n'
        else:
            line = metric_line(key, value, step, ts)
        now = time.monotonic()
        with self._lock:
            lines = self._pending.get((runs, run_id))
            if lines is None:
                lines = self._pending[(runs, run_id)] = []
            lines.append(line)
            count = self._count = self._count + 1
            oldest = self._pending_since
            if (  # the common case: nothing due, nothing being written
                oldest is not None
                and count < self.flush_points
                and self._writing_since is None
                and now - oldest < self.max_unwritten_seconds
                and self._thread is not None
            ):
                return
            if oldest is None:
                oldest = self._pending_since = now
                self._wake.notify()  # the flusher sleeps until this point is due
            writing = self._writing_since
            if writing is not None and writing < oldest:
                oldest = writing
            late = now - oldest >= self.max_unwritten_seconds
            full = self._count >= self.flush_points
            if writing is not None and self._count < MAX_PENDING_POINTS:
                late = full = False  # the thread is writing: do not queue up behind it
                if self._count >= self.flush_points:
                    self._wake.notify()
            elif (
                full and not late and self._thread is not None and self._count < MAX_PENDING_POINTS
            ):
                # The thread writes (and fsyncs, MLCLI_SYNC=batch) a full buffer while
                # the loop goes on; were it held up, ``late`` makes this call write.
                self._wake.notify()
                full = False
        if full:
            self.flush()
        elif late:
            self._flush_or_warn()
        elif self._thread is None:
            self._start_thread()

    def flush(self, run_id: str | None = None) -> None:
        """Write what is pending (for one run, or all); errors propagate to the caller."""
        with self._write_lock:
            with self._lock:
                batches = self._take(run_id)
                if not batches:
                    return
                # (For one run's points, the oldest pending time stays: a conservative
                # deadline for the others.)
                self._writing_since = self._pending_since
                if not self._pending:
                    self._pending_since = None
            try:
                self._write(batches)
            finally:
                with self._lock:
                    self._writing_since = None

    def discard(self) -> None:
        with self._lock:
            self._pending.clear()
            self._count = 0
            self._pending_since = None

    def _write(self, batches: _Batches) -> None:
        for index, ((runs, rid), lines) in enumerate(batches):
            try:
                runs.append_metric_lines(rid, "".join(lines).encode())
            except NotFoundError:
                _log.warning(
                    "mlcli: run %s no longer exists; %d metric points dropped", rid, len(lines)
                )
            except PartlyWritten as partly:  # keep what was not written, for the next try
                rest = (
                    [((runs, rid), lines[partly.written :])] if partly.written < len(lines) else []
                )
                self._put_back(rest + batches[index + 1 :])
                raise (partly.__cause__ or partly) from None
            except BaseException:  # keep the points for the next try, due a deadline on
                self._put_back(batches[index:])
                raise

    def _flush_or_warn(self) -> None:
        try:
            self.flush()
        except Exception as exc:
            _log.warning("mlcli: could not write metrics yet (%s); will retry", exc)

    def _oldest_unwritten(self) -> float | None:
        times = [t for t in (self._pending_since, self._writing_since) if t is not None]
        return min(times) if times else None

    def _take(self, run_id: str | None) -> _Batches:
        if run_id is None:
            taken = list(self._pending.items())
            self._pending.clear()
        else:
            taken = [(k, v) for k, v in self._pending.items() if k[1] == run_id]
            for key, _ in taken:
                del self._pending[key]
        self._count -= sum(len(lines) for _, lines in taken)
        return taken

    def _put_back(self, batches: _Batches) -> None:
        with self._lock:
            for key, lines in batches:
                self._pending[key] = lines + self._pending.get(key, [])
                self._count += len(lines)
            self._pending_since = time.monotonic()  # retried one deadline from now

    def _start_thread(self) -> None:
        with self._lock:
            if self._thread is not None:
                return
            self._thread = threading.Thread(
                target=self._run_flusher, name="mlcli-metric-flush", daemon=True
            )
        self._thread.start()

    def _run_flusher(self) -> None:
        """Sleep until the oldest unwritten point is due, write, and again."""
        while True:
            with self._lock:
                while True:
                    oldest = self._oldest_unwritten()
                    if oldest is None:
                        self._wake.wait()
                        continue
                    if self._count >= self.flush_points:
                        break
                    delay = oldest + self.flush_seconds - time.monotonic()
                    if delay <= 0:
                        break
                    self._wake.wait(delay)
            self._flush_or_warn()

    def _reset_after_fork(self) -> None:
        self._init_state()


def _line_prefix(key: str) -> str:
    """The start of ``key``'s lines, up to its value: ``{"key":"loss","value":``."""
    line = metric_line(key, 0.0, 0, 0)
    return line[: line.index(',"value":') + len(',"value":')]


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
