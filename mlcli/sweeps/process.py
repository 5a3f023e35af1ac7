"""One trial as a process: a normal ``mlcli run`` of the entry point, started in a
session of its own, its output relayed line by line with the trial's number.

The trial's ``mlcli run`` is the only process the sweep signals: it forwards the
signal to its entry point's process group, waits for it (``MLCLI_KILL_GRACE``), ends
its run KILLED and prints its outcome as JSON, which is how the sweep learns the
run id and status. Being in its own session, a trial does not get the terminal's
Ctrl-C directly, so it is signalled once, by the sweep, and keeps its grace period.
Should the sweep itself be killed outright, a watchdog per trial signals the trial's
``mlcli run`` the same way (``projects/watchdog.py``), so that no trial outlives it.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import signal
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import IO

from mlcli.errors import EnvironmentFailure
from mlcli.projects.execution import exit_code_for_signal, kill_grace_seconds
from mlcli.projects.watchdog import GroupWatchdog
from mlcli.store import RunStatus
from mlcli.sweeps.samplers import Trial

OUTPUT_DRAIN_SECONDS = 5.0
_ERROR_PREFIX = b"mlcli: error: "
_KILLED_CODES = frozenset(
    exit_code_for_signal(s) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
)


@dataclass(frozen=True)
class TrialOutcome:
    """How a trial ended. ``run_id`` is None when it ended before creating its run (or
    said nothing); ``value`` is the objective's, filled in by the sweep."""

    trial: Trial
    status: str
    exit_code: int
    run_id: str | None = None
    error: str | None = None
    seconds: float = 0.0
    value: float | None = None


class OutputRelay:
    """Copies each trial's output, a whole line at a time, to one stream, each line
    prefixed with ``[N]`` (the trial's number); nothing when the stream is None."""

    def __init__(self, stream: IO[bytes] | None) -> None:
        self._stream = stream
        self._lock = threading.Lock()

    def write_line(self, number: int, line: bytes) -> None:
        if self._stream is None:
            return
        if not line.endswith(b"\n"):
            line += b"\n"
        with self._lock, contextlib.suppress(OSError, ValueError):
            self._stream.write(b"[%d] %s" % (number, line))
            self._stream.flush()


class TrialProcess:
    """A started trial. When it ends, its TrialOutcome is put on ``done``."""

    def __init__(
        self,
        trial: Trial,
        argv: Sequence[str],
        environ: Mapping[str, str],
        relay: OutputRelay,
        done: queue.Queue[TrialOutcome],
    ) -> None:
        self.trial = trial
        self._relay = relay
        self._done = done
        self._started = time.monotonic()
        self._error: str | None = None
        # The trial's mlcli run gets the grace period first, then its own for its
        # entry point: the watchdog waits for both.
        self._watchdog = GroupWatchdog(2 * kill_grace_seconds() + 5)
        try:
            self.process = subprocess.Popen(
                list(argv),
                env=dict(environ),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                start_new_session=True,
            )
        except OSError as exc:
            self._watchdog.release()
            raise EnvironmentFailure(f"cannot start a trial: {exc.strerror or exc}") from None
        self._watchdog.guard(self.process.pid)
        self._watcher = threading.Thread(
            target=self._watch, name=f"mlcli-trial-{trial.number}", daemon=True
        )
        self._watcher.start()

    @property
    def running(self) -> bool:
        return self.process.returncode is None

    def send_signal(self, signum: int) -> None:
        """Signal the trial's ``mlcli run`` (safe from a signal handler)."""
        if self.running:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(self.process.pid, signum)

    def _watch(self) -> None:
        assert self.process.stdout is not None and self.process.stderr is not None
        relay = threading.Thread(target=self._relay_output, args=(self.process.stderr,))
        relay.daemon = True
        relay.start()
        report = self.process.stdout.read()
        code = self.process.wait()
        self._watchdog.release()
        # A process the trial left behind may hold its stderr open: not waited for.
        relay.join(timeout=OUTPUT_DRAIN_SECONDS)
        self.process.stdout.close()
        if not relay.is_alive():
            self.process.stderr.close()
        seconds = time.monotonic() - self._started
        self._done.put(_outcome(self.trial, report, code, self._error, seconds))

    def _relay_output(self, pipe: IO[bytes]) -> None:
        for line in iter(pipe.readline, b""):
            if line.startswith(_ERROR_PREFIX):
                self._error = line[len(_ERROR_PREFIX) :].decode(errors="replace").strip()
            self._relay.write_line(self.trial.number, line)


class TrialGroup:
    """The running trials, as one target for ``projects.execution.Interruptions``: a
    signal to the sweep is forwarded to every trial; ``kill`` (a second signal, or
    the grace period over) forwards it again, which makes each trial stop its entry
    point at once. Either way every trial still ends its run itself."""

    def __init__(self) -> None:
        self._running: dict[int, TrialProcess] = {}
        self.signum: int | None = None

    def add(self, process: TrialProcess) -> None:
        self._running[process.trial.number] = process
        if self.signum is not None:
            process.send_signal(self.signum)

    def remove(self, number: int) -> None:
        self._running.pop(number, None)

    def __len__(self) -> int:
        return len(self._running)

    def send_signal(self, signum: int) -> None:
        self.signum = self.signum or signum
        for process in list(self._running.values()):
            process.send_signal(signum)

    def kill(self) -> None:
        for process in list(self._running.values()):
            process.send_signal(self.signum or signal.SIGTERM)

    def kill_now(self) -> None:
        """SIGKILL every trial's ``mlcli run``: the last resort, when one does not end."""
        for process in list(self._running.values()):
            process.send_signal(signal.SIGKILL)

    def wait(self) -> int:
        return 0

    def close(self) -> None:
        pass


def _outcome(
    trial: Trial, report: bytes, code: int, error: str | None, seconds: float
) -> TrialOutcome:
    """The outcome from the trial's ``--json`` report; without one (it ended before
    creating its run, or failed after), from its exit code."""
    try:
        data = json.loads(report)
        return TrialOutcome(
            trial, str(data["status"]), int(data["exit_code"]), str(data["run_id"]), error, seconds
        )
    except (ValueError, KeyError, TypeError):
        pass
    if code < 0:
        code = exit_code_for_signal(-code)
    status = RunStatus.KILLED if code in _KILLED_CODES else RunStatus.FAILED
    return TrialOutcome(trial, status, code, None, error, seconds)
