"""Following a sweep's job array until every task has ended.

Each poll reads the whole array with one ``scontrol show job`` (one state per task,
pending ranges as one). A task that has ended has its trial run ended from its state
when ``mlcli run`` did not end it (``slurm_follow.finish_run``: a time limit ends it
FAILED, a cancellation KILLED, with the reason). The parent becomes RUNNING when the
first task starts, and shows the trials' counts by state as the metrics
``trials_scheduled``, ``trials_running``, ``trials_finished``, ``trials_failed`` and
``trials_killed`` whenever they change. At the end it records the best trial and
``sweep/trials.json`` as a local sweep does, and ends FINISHED when every trial did,
FAILED when one did not, KILLED when the sweep was cancelled.

A first Ctrl-C (SIGTERM, SIGHUP) cancels the whole array and follows it until Slurm
has ended it; with ``--fail-fast`` a failed trial cancels the rest.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

from mlcli import system_tags
from mlcli.clusters.slurm_follow import POLL_SECONDS, Cancellation, finish_run
from mlcli.clusters.slurm_sweep import ArraySweep
from mlcli.projects.feedback import Feedback, SilentFeedback
from mlcli.slurm import jobs
from mlcli.slurm.commands import SlurmError
from mlcli.slurm.jobs import JobState
from mlcli.store import Run, RunStatus, this_process
from mlcli.sweeps.objective import Objective, parse_objective
from mlcli.sweeps.parent import record_best
from mlcli.sweeps.planning import SweepPlan
from mlcli.sweeps.process import TrialOutcome
from mlcli.sweeps.runner import SweepResult, trial_record
from mlcli.sweeps.tags import (
    DIRECTION_TAG,
    OBJECTIVE_TAG,
    SAMPLER_TAG,
    SEED_TAG,
    TRIALS_ARTIFACT,
    TRIALS_TAG,
)
from mlcli.tracking.client import TrackingClient

COUNT_METRICS = {
    RunStatus.SCHEDULED: "trials_scheduled",
    RunStatus.RUNNING: "trials_running",
    RunStatus.FINISHED: "trials_finished",
    RunStatus.FAILED: "trials_failed",
    RunStatus.KILLED: "trials_killed",
}


@dataclass(frozen=True)
class SweepFacts:
    """What following and ending a sweep needs of it: from its plan (``mlcli run``)
    or from its parent's tags (the job that ends a detached sweep)."""

    sampler: str
    seed: int | None
    total: int
    objective: Objective | None
    fail_fast: bool = False

    @classmethod
    def from_plan(cls, plan: SweepPlan) -> SweepFacts:
        sampler = plan.sampler
        return cls(sampler.name, sampler.seed, plan.total, plan.objective, plan.request.fail_fast)

    @classmethod
    def from_parent(cls, parent: Run) -> SweepFacts:
        tags = parent.data.tags
        seed = tags.get(SEED_TAG)
        metric = tags.get(OBJECTIVE_TAG)
        objective = parse_objective(metric, tags.get(DIRECTION_TAG)) if metric else None
        return cls(
            tags.get(SAMPLER_TAG, "grid"),
            int(seed) if seed and seed.isdigit() else None,
            int(tags.get(TRIALS_TAG, "0")),
            objective,
        )


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
) -> SweepResult:
    """Follow ``sweep``'s array until every task ended; end its runs; the result."""
    feedback = feedback or SilentFeedback()
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
                metrics = [
                    (name, float(counts.get(s, 0)), step) for s, name in COUNT_METRICS.items()
                ]
                client.log_batch(parent_id, metrics=metrics)
            if len(outcomes) == len(sweep.trials):
                break
            cancellation.pause(poll)
    done = list(outcomes.values())
    return finish_sweep(client, sweep.parent, sweep.experiment_id, plan, done, cancelled, feedback)


def finish_sweep(
    client: TrackingClient,
    parent: Run,
    experiment_id: str,
    plan: SweepFacts,
    outcomes: Sequence[TrialOutcome],
    cancelled: bool,
    feedback: Feedback,
) -> SweepResult:
    """Record the best trial and the trials' summary; end the parent (unless it was
    ended already: ``mlcli runs cancel``)."""
    parent_id = parent.run_id
    run_name = parent.info.run_name
    best = None
    if plan.objective is not None:
        best = record_best(client, parent_id, plan.objective)
        if best is not None:
            feedback.info(
                f"Best trial: {best.trial} (run {best.run_id}), "
                f"{plan.objective.metric}={best.value:g}"
            )
    ordered = sorted(outcomes, key=lambda o: o.trial.number)
    client.log_dict(parent_id, [trial_record(o) for o in ordered], TRIALS_ARTIFACT)
    parent = client.get_run(parent_id)
    if parent.info.status not in RunStatus.LIVE:
        status = parent.info.status
    elif cancelled:
        status = RunStatus.KILLED
    elif len(ordered) == plan.total and all(o.status == RunStatus.FINISHED for o in ordered):
        status = RunStatus.FINISHED
    else:
        status = RunStatus.FAILED
    if parent.info.status in RunStatus.LIVE:
        failed = [o for o in ordered if o.status != RunStatus.FINISHED]
        if failed and status == RunStatus.FAILED:
            reason = f"{len(failed)} of {plan.total} trial(s) did not finish: " + ", ".join(
                f"trial {o.trial.number} {o.status}" for o in failed[:10]
            )
            client.log_batch(parent_id, tags={system_tags.PROJECT_FAILURE_REASON: reason})
        client.set_terminated(parent_id, status)
    summary = _summary(ordered)
    feedback.info(f"Sweep {parent_id} {status}: {summary}")
    code = 0 if status == RunStatus.FINISHED else (130 if status == RunStatus.KILLED else 1)
    return SweepResult(
        run_id=parent_id,
        run_name=run_name,
        experiment_id=experiment_id,
        status=status,
        exit_code=code,
        sampler=plan.sampler,
        seed=plan.seed,
        total=plan.total,
        objective=plan.objective,
        best=best,
        trials=tuple(ordered),
    )


def valued(
    client: TrackingClient, outcome: TrialOutcome, objective: Objective | None
) -> TrialOutcome:
    if objective is None or outcome.status != RunStatus.FINISHED or outcome.run_id is None:
        return outcome
    return replace(outcome, value=objective.value(client.get_run(outcome.run_id)))


def parent_running(client: TrackingClient, parent_id: str) -> None:
    if client.get_run(parent_id).info.status == RunStatus.SCHEDULED:
        client.store.runs.set_status(parent_id, RunStatus.RUNNING, owner=this_process())


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


def _count_metrics(counts: dict[str, int], step: int) -> list[tuple[str, float, int]]:
    return [(name, float(counts.get(status, 0)), step) for status, name in COUNT_METRICS.items()]


def _summary(outcomes: Sequence[TrialOutcome]) -> str:
    counted: dict[str, int] = {}
    for outcome in outcomes:
        counted[outcome.status] = counted.get(outcome.status, 0) + 1
    return ", ".join(f"{n} {status}" for status, n in sorted(counted.items())) or "no trial ran"


def announce(feedback: Feedback, outcome: TrialOutcome, plan: SweepFacts) -> None:
    parts = [f"run {outcome.run_id}"]
    if plan.objective is not None and outcome.value is not None:
        parts.append(f"{plan.objective.metric}={outcome.value:g}")
    feedback.info(f"Trial {outcome.trial.number}/{plan.total} {outcome.status}: {', '.join(parts)}")
