"""Following a sweep's job array until every task has ended.

Each poll reads the whole array with one ``scontrol show job`` (one state per task,
pending ranges as one). A task that has ended has its trial run ended from its state
when ``mlcli run`` did not end it (``slurm_follow.finish_run``: a time limit ends it
FAILED, a cancellation KILLED, with the reason). The parent becomes RUNNING when the
first task starts, shows the trials' counts whenever they change, and ends as
``sweep_ending`` says.

Each task's output (``trial-<task>.out``/``.err``) is copied to the terminal as it
grows, a line at a time, prefixed with its trial's number (``slurm_sweep_output``).

A first Ctrl-C (SIGTERM, SIGHUP) cancels the whole array and follows it until Slurm
has ended it; with ``--fail-fast`` a failed trial cancels the rest.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable
from typing import IO

from mlcli.clusters.slurm_follow import POLL_SECONDS, Cancellation, finish_run
from mlcli.clusters.slurm_sweep import ArraySweep
from mlcli.clusters.slurm_sweep_output import TrialOutputTail
from mlcli.clusters.sweep_ending import (
    SweepFacts,
    announce,
    count_metrics,
    finish_sweep,
    parent_running,
    valued,
)
from mlcli.projects.feedback import Feedback, SilentFeedback
from mlcli.slurm import jobs
from mlcli.slurm.commands import SlurmError
from mlcli.slurm.jobs import JobState
from mlcli.store import RunStatus
from mlcli.sweeps.process import TrialOutcome
from mlcli.sweeps.runner import SweepResult
from mlcli.tracking.client import TrackingClient

_RANGE = re.compile(r"(\d+)(?:-(\d+))?(?::\d+)?")


def task_states(states: Iterable[JobState]) -> dict[int, JobState]:
    """Each array task's state, pending ranges (``[3-7%4]``) spread to their tasks."""
    found: dict[int, JobState] = {}
    for state in states:
        task = state.array_task_id
        if task is None:
            continue
        for part in task.strip("[]").split("%")[0].split(","):
            match = _RANGE.fullmatch(part)
            if match:
                last = int(match.group(2) or match.group(1))
                for number in range(int(match.group(1)), last + 1):
                    found[number] = state
    return found


def follow_array(
    client: TrackingClient,
    sweep: ArraySweep,
    plan: SweepFacts,
    *,
    feedback: Feedback | None = None,
    poll: float = POLL_SECONDS,
    echo: IO[bytes] | None = None,
) -> SweepResult:
    """Follow ``sweep``'s array until every task ended; end its runs; the result.
    ``echo``: where the tasks' output is copied, each line prefixed with its trial."""
    feedback = feedback or SilentFeedback()
    output = TrialOutputTail(sweep.folder, {t.task: t.trial.number for t in sweep.trials}, echo)
    parent_id = sweep.parent.run_id
    outcomes: dict[int, TrialOutcome] = {}
    started: dict[int, float] = {}
    cancellation = Cancellation()
    cancelled = unreachable = False
    shown: dict[str, int] = {}
    step = 0
    with cancellation.installed():
        while True:
            if cancellation.requested and not cancelled:
                feedback.info(
                    f"Cancelling Slurm job array {sweep.job_id} (Ctrl-C again to stop following)"
                )
                jobs.cancel(sweep.job_id)
                cancelled = True
            try:
                listing = jobs.read_job(sweep.job_id)
                unreachable = False
            except SlurmError as exc:
                if not unreachable:
                    feedback.info(f"Slurm job array {sweep.job_id}: cannot read it ({exc})")
                unreachable = True
                cancellation.pause(poll)
                continue
            states = task_states(listing or [])
            output.poll()
            for item in sweep.trials:
                if item.task in outcomes:
                    continue
                state = states.get(item.task)
                if state is not None and state.state == "RUNNING":
                    started.setdefault(item.task, time.monotonic())
                if listing is not None and (state is None or not state.finished):
                    continue
                ended = finish_run(client, item.run_id, sweep.task_job(item), state)
                seconds = time.monotonic() - started.get(item.task, time.monotonic())
                outcome = TrialOutcome(
                    item.trial, ended.status, ended.exit_code, item.run_id, seconds=seconds
                )
                outcomes[item.task] = valued(client, outcome, plan.objective)
                announce(feedback, outcomes[item.task], plan)
                if ended.status != RunStatus.FINISHED and plan.fail_fast and not cancelled:
                    feedback.info(f"Trial {item.trial.number} {ended.status}: --fail-fast")
                    jobs.cancel(sweep.job_id)
                    cancelled = True
            counts = _counts(sweep, states, outcomes)
            if counts != shown:
                if counts.get(RunStatus.RUNNING) and not shown.get(RunStatus.RUNNING):
                    parent_running(client, parent_id)
                shown = counts
                step += 1
                client.log_batch(parent_id, metrics=count_metrics(counts, step))
            if len(outcomes) == len(sweep.trials):
                break
            cancellation.pause(poll)
    output.close()
    done = list(outcomes.values())
    return finish_sweep(client, sweep.parent, sweep.experiment_id, plan, done, cancelled, feedback)


def _counts(
    sweep: ArraySweep, states: dict[int, JobState], outcomes: dict[int, TrialOutcome]
) -> dict[str, int]:
    counts: dict[str, int] = {}
    for item in sweep.trials:
        if item.task in outcomes:
            status = outcomes[item.task].status
        else:
            state = states.get(item.task)
            running = state is not None and state.state in ("RUNNING", "COMPLETING")
            status = RunStatus.RUNNING if running else RunStatus.SCHEDULED
        counts[status] = counts.get(status, 0) + 1
    return counts
