"""Logging work done on a thread after the call that asked for it has returned:
autologging's model, serialised and written after ``fit`` (docs/capture.md).

One daemon thread runs the jobs in the order they were given. What a job writes is
waited for wherever it could be missed in this process: the end of its run (fluent
``end_run``, leaving a ``start_run`` block), reads of that run (``get_run``, its
artifacts, a model URI naming it), reads of several runs or of logged models, and
interpreter exit. A job that fails loses its own work, never the training: the
failure is reported when its run ends, as a warning on the ``mlcli`` logger.

A job is given a client of its own for the store (the local store opened again in the
thread): a store object and its index connection are not shared between threads.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mlcli.tracking import TrackingClient

_log = logging.getLogger("mlcli")

Action = Callable[["TrackingClient"], object]


@dataclass(frozen=True)
class _Job:
    run_id: str
    what: str  # "the model": reported as "the model not logged: ..."
    action: Action
    store_root: Path


class BackgroundWork:
    def __init__(self) -> None:
        self._reset()

    def _reset(self) -> None:
        self._changed = threading.Condition()
        self._jobs: deque[_Job] = deque()
        self._pending: dict[str, int] = {}  # run id -> its jobs not finished yet
        self._failures: dict[str, list[str]] = {}  # run id -> lines to report at its end
        self._thread: threading.Thread | None = None
        self._clients: dict[Path, TrackingClient] = {}  # the thread's own, by store root

    def submit(self, run_id: str, what: str, action: Action, store_root: Path) -> None:
        """Run ``action(client)`` on the thread, after every job given before it."""
        with self._changed:
            self._jobs.append(_Job(run_id, what, action, store_root))
            self._pending[run_id] = self._pending.get(run_id, 0) + 1
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._work, name="mlcli-background", daemon=True
                )
                self._thread.start()
            self._changed.notify_all()

    def is_current(self) -> bool:
        """Whether the caller is the thread itself (whose work is never autologged)."""
        return threading.current_thread() is self._thread

    def pending(self, run_id: str | None = None) -> bool:
        """Whether jobs of ``run_id`` (of any run: None) are given and not finished."""
        with self._changed:
            return bool(self._pending) if run_id is None else run_id in self._pending

    def wait(self, run_id: str | None = None) -> None:
        """Until the jobs of ``run_id`` (every job: None) are finished. The thread's
        own jobs read runs too: there it returns at once."""
        if self.is_current():
            return
        with self._changed:
            self._changed.wait_for(lambda: not self._busy(run_id))

    def finish(self, run_id: str) -> None:
        """At the end of ``run_id``: wait for every job (those of its child runs too)
        and report those of ``run_id`` that failed."""
        self.wait()
        self._report(run_id)

    def finish_all(self) -> None:
        self.wait()
        with self._changed:
            failed = list(self._failures)
        for run_id in failed:
            self._report(run_id)

    def end_run_after(self, run_id: str, end: Action, store_root: Path) -> None:
        """End ``run_id`` (``end(client)``) on the thread once its jobs are done,
        reporting those that failed first."""

        def report_and_end(client: TrackingClient) -> None:
            self._report(run_id)
            end(client)

        self.submit(run_id, "the run's end", report_and_end, store_root)

    def _busy(self, run_id: str | None) -> bool:
        return bool(self._pending) if run_id is None else run_id in self._pending

    def _report(self, run_id: str) -> None:
        with self._changed:
            lines = self._failures.pop(run_id, [])
        for line in lines:
            _log.warning("%s", line)

    def _work(self) -> None:
        while True:
            with self._changed:
                self._changed.wait_for(lambda: bool(self._jobs))
                job = self._jobs.popleft()
            try:
                job.action(self._client(job.store_root))
            except Exception as exc:  # the job's work is lost; the failure is not
                line = f"mlcli: {job.what} not logged: {type(exc).__name__}: {exc}"
                with self._changed:
                    self._failures.setdefault(job.run_id, []).append(line)
            finally:
                with self._changed:
                    left = self._pending[job.run_id] - 1
                    if left:
                        self._pending[job.run_id] = left
                    else:
                        del self._pending[job.run_id]
                    self._changed.notify_all()

    def _client(self, store_root: Path) -> TrackingClient:
        from mlcli.store import Store
        from mlcli.tracking import TrackingClient

        if store_root not in self._clients:
            self._clients[store_root] = TrackingClient(Store.open(store_root))
        return self._clients[store_root]


_work = BackgroundWork()


def background_work() -> BackgroundWork:
    return _work


atexit.register(_work.finish_all)
# A forked child starts with no jobs: the parent's are the parent's to do.
os.register_at_fork(after_in_child=_work._reset)
