"""A heartbeat for runs whose owner cannot be judged by the reader.

A reader can only look at a process on its own host and in its own pid namespace
(``ownership.py``). So the process that owns a run also keeps ``heartbeat`` in the
run's document fresh: ``{"at": <ms>, "every": <seconds>}``, written when it records
itself as owner and then every ``MLCLI_HEARTBEAT_SECONDS`` (default 60) by a daemon
thread, one small document update through the store (``runs.update``), never in a
training loop's path. The thread stops when the run ends, gets another owner, or
is gone; one beat at most lands after the end.

A reader that cannot judge the owner ends the run once the heartbeat is older than
``MLCLI_STALE_AFTER_SECONDS`` (default 600), and never before three of the owner's
own periods: a late beat on a loaded machine is not a death. Both clocks take part,
so hosts whose clocks disagree by more than the limit should not share a store.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import threading
from typing import Any, Protocol

from mlcli.clock import now_ms
from mlcli.errors import InvalidInputError, NotFoundError
from mlcli.store.entities import RunInfo, RunStatus

HEARTBEAT_FIELD = "heartbeat"
DEFAULT_PERIOD_SECONDS = 60.0
DEFAULT_STALE_AFTER_SECONDS = 600.0
_PERIODS_BEFORE_STALE = 3


class _Updatable(Protocol):
    def update(self, run_id: str, **changes: Any) -> RunInfo: ...


def period_seconds() -> float:
    return _seconds("MLCLI_HEARTBEAT_SECONDS", DEFAULT_PERIOD_SECONDS)


def stale_after_seconds() -> float:
    return _seconds("MLCLI_STALE_AFTER_SECONDS", DEFAULT_STALE_AFTER_SECONDS)


def _seconds(name: str, default: float) -> float:
    text = os.environ.get(name, "").strip()
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not 0 < value < 1e9:
        raise InvalidInputError(f"{name}={text!r}: expected a number of seconds above 0")
    return value


def beat(period: float | None = None) -> dict[str, Any]:
    """The heartbeat a document records now."""
    return {"at": now_ms(), "every": period_seconds() if period is None else period}


def heartbeat_change(period: float) -> dict[str, Any]:
    """What one beat changes in a run's document: ``runs.update(run_id, **change)``."""
    return {HEARTBEAT_FIELD: beat(period)}


def last_beat(doc: dict[str, Any]) -> tuple[int, float] | None:
    """(time in ms, period in seconds) of a document's heartbeat; None without one."""
    value = doc.get(HEARTBEAT_FIELD)
    if not isinstance(value, dict):
        return None
    at, every = value.get("at"), value.get("every")
    if not isinstance(at, int) or isinstance(at, bool) or not isinstance(every, int | float):
        return None
    return at, float(every)


def stale_since(heartbeat: tuple[int, float], now: int | None = None) -> bool:
    """Whether a heartbeat is too old for its owner to be alive."""
    at, every = heartbeat
    limit = max(stale_after_seconds(), _PERIODS_BEFORE_STALE * every)
    return (now_ms() if now is None else now) - at > limit * 1000


class _Beater:
    def __init__(self, runs: _Updatable, run_id: str, period: float) -> None:
        self.runs, self.run_id, self.period = runs, run_id, period
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._loop, name=f"heartbeat-{run_id}", daemon=True)

    def _loop(self) -> None:
        while not self.stop.wait(self.period):
            try:
                info = self.runs.update(self.run_id, **heartbeat_change(self.period))
            except (NotFoundError, InvalidInputError):
                break  # purged, or a store that cannot carry it
            except Exception:  # a store briefly away: beat again later
                continue
            if info.status not in RunStatus.LIVE:
                break
        with _lock:
            if _beating.get(self.run_id) is self:
                del _beating[self.run_id]


_lock = threading.Lock()
_beating: dict[str, _Beater] = {}


def keep_beating(runs: _Updatable, run_id: str, period: float) -> None:
    """Refresh ``run_id``'s heartbeat every ``period`` seconds from now on."""
    with _lock:
        current = _beating.get(run_id)
        if current is not None and current.runs is runs and not current.stop.is_set():
            return
        if current is not None:
            current.stop.set()
        _beating[run_id] = beater = _Beater(runs, run_id, period)
    try:
        beater.thread.start()
    except RuntimeError:  # the interpreter is shutting down: nothing left to keep alive
        stop_beating(run_id)


def stop_beating(run_id: str) -> None:
    with _lock:
        beater = _beating.pop(run_id, None)
    if beater is not None:
        beater.stop.set()


def _stop_all() -> None:
    """At exit: no beat half-written while the interpreter goes away."""
    with _lock:
        beaters = list(_beating.values())
        _beating.clear()
    for beater in beaters:
        beater.stop.set()
    for beater in beaters:
        with contextlib.suppress(RuntimeError):
            beater.thread.join(timeout=5)


def _forget_in_child() -> None:
    global _lock
    _lock = threading.Lock()  # another thread may have held it at the fork
    _beating.clear()  # the parent's threads do not exist in a forked child


atexit.register(_stop_all)
os.register_at_fork(after_in_child=_forget_in_child)
