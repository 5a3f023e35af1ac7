"""How a sweep run by a scheduler (Slurm, Kubernetes) ends, whoever follows it.

The parent shows the trials' counts by state as the metrics ``trials_scheduled``,
``trials_running``, ``trials_finished``, ``trials_failed`` and ``trials_killed``
(``count_metrics``); each ended trial is announced with its objective; at the end
the best trial and ``sweep/trials.json`` are recorded as a local sweep does, and the
parent ends FINISHED when every trial did, FAILED when one did not, KILLED when the
sweep was cancelled (``finish_sweep``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from mlcli import system_tags
from mlcli.projects.feedback import Feedback
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
    feedback.info(f"Sweep {parent_id} {status}: {summary_of(ordered)}")
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


def summary_of(outcomes: Sequence[TrialOutcome]) -> str:
    counted: dict[str, int] = {}
    for outcome in outcomes:
        counted[outcome.status] = counted.get(outcome.status, 0) + 1
    return ", ".join(f"{n} {status}" for status, n in sorted(counted.items())) or "no trial ran"


def announce(feedback: Feedback, outcome: TrialOutcome, plan: SweepFacts) -> None:
    parts = [f"run {outcome.run_id}"]
    if plan.objective is not None and outcome.value is not None:
        parts.append(f"{plan.objective.metric}={outcome.value:g}")
    feedback.info(f"Trial {outcome.trial.number}/{plan.total} {outcome.status}: {', '.join(parts)}")


def count_metrics(counts: dict[str, int], step: int) -> list[tuple[str, float, int]]:
    """The parent's count metrics for ``counts`` (trials by status) at ``step``."""
    return [(name, float(counts.get(status, 0)), step) for status, name in COUNT_METRICS.items()]
