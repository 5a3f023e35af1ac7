"""Running trials, up to ``parallel`` at once, until the sampler has no more.

The loop runs in the calling thread (the main one, for ``mlcli run``, so that its
signal handlers run between steps): it starts trials while there is a free slot and
no reason to stop, then waits for the next to end. It stops starting trials when the
sweep is interrupted, or, with ``fail_fast``, when one fails, in which case it also
stops the running ones (they end KILLED). It never returns while a trial it started
is still running.
"""

from __future__ import annotations

import queue
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from mlcli.projects.execution import kill_grace_seconds
from mlcli.store import RunStatus
from mlcli.sweeps.process import TrialGroup, TrialOutcome, TrialProcess
from mlcli.sweeps.samplers import Sampler, Trial

#: How long the loop sleeps between looks at the stop flag while trials run.
POLL_SECONDS = 0.1
#: Beyond the trials' own grace period, how long a stopped trial may take to end
#: before its ``mlcli run`` is killed outright.
STOP_MARGIN_SECONDS = 30.0

Launch = Callable[[Trial, "queue.Queue[TrialOutcome]"], TrialProcess]


@dataclass
class Scheduler:
    """``launch`` starts one trial; ``finish`` completes an outcome (run id,
    objective value) once its trial ended; ``started``/``ended`` are told of each."""

    sampler: Sampler
    launch: Launch
    finish: Callable[[TrialOutcome], TrialOutcome]
    group: TrialGroup
    parallel: int = 1
    fail_fast: bool = False
    started: Callable[[Trial], None] = lambda trial: None
    ended: Callable[[TrialOutcome], None] = lambda outcome: None
    outcomes: list[TrialOutcome] = field(default_factory=list)
    _done: queue.Queue[TrialOutcome] = field(default_factory=queue.Queue)
    _stop_since: float | None = None

    def run(self, interrupted: Callable[[], bool]) -> list[TrialOutcome]:
        """Run every trial (or until stopped); the outcomes in the order trials ended."""
        try:
            while True:
                if interrupted():
                    self._stopping()
                self._fill()
                if not len(self.group):
                    return self.outcomes
                try:
                    outcome = self._done.get(timeout=POLL_SECONDS)
                except queue.Empty:
                    self._enforce_stop()
                    continue
                self._record(outcome)
        finally:
            self._drain()

    def _fill(self) -> None:
        while self._stop_since is None and len(self.group) < self.parallel:
            trial = self.sampler.ask()
            if trial is None:
                return
            self.started(trial)
            self.group.add(self.launch(trial, self._done))

    def _record(self, outcome: TrialOutcome) -> None:
        self.group.remove(outcome.trial.number)
        outcome = self.finish(outcome)
        finished = outcome.status == RunStatus.FINISHED
        self.sampler.tell(outcome.trial, outcome.value if finished else None)
        self.outcomes.append(outcome)
        self.ended(outcome)
        if not finished and self.fail_fast and self._stop_since is None:
            self._stopping()
            self.group.send_signal(signal.SIGTERM)

    def _stopping(self) -> None:
        if self._stop_since is None:
            self._stop_since = time.monotonic()

    def _enforce_stop(self) -> None:
        """A trial that outlives its grace period by far is killed (its run, left
        RUNNING, is ended by the sweep)."""
        if self._stop_since is None:
            return
        if time.monotonic() - self._stop_since > 2 * kill_grace_seconds() + STOP_MARGIN_SECONDS:
            self.group.kill_now()

    def _drain(self) -> None:
        """On the way out after an error in the loop, stop the trials still running
        and wait for them to end (their outcomes as they are)."""
        if not len(self.group):
            return
        self._stopping()
        self.group.send_signal(signal.SIGTERM)
        while len(self.group):
            try:
                outcome = self._done.get(timeout=POLL_SECONDS)
            except queue.Empty:
                self._enforce_stop()
                continue
            self.group.remove(outcome.trial.number)
            self.outcomes.append(outcome)
