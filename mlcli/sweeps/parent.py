"""The parent run's bookkeeping: its tags, finding its trials, the best trial, and
ending any trial run its process left RUNNING.

The best trial is chosen exactly as ``mlcli select`` chooses
(``mlcli.compare.best_run``: the highest or lowest latest value, ties to the newest
run) among the parent's FINISHED children, so that

    mlcli select --max KEY --filter "tags.mlcli.parentRunId = 'PARENT' and status = 'FINISHED'"

prints the parent's ``best_run_id``.
"""

from __future__ import annotations

from dataclasses import dataclass

from mlcli import system_tags
from mlcli.compare import NoRunError, best_run
from mlcli.projects.runner import project_tags
from mlcli.search import And, Compare, Field, Node
from mlcli.store import Run, RunStatus
from mlcli.sweeps.objective import Objective
from mlcli.sweeps.planning import SweepPlan
from mlcli.sweeps.tags import (
    BEST_RUN_SYSTEM_TAG,
    BEST_RUN_TAG,
    BEST_TRIAL_TAG,
    DIRECTION_TAG,
    OBJECTIVE_TAG,
    PARALLEL_TAG,
    SAMPLER_TAG,
    SEED_TAG,
    SPEC_TAG,
    TRIAL_TAG,
    TRIALS_TAG,
)
from mlcli.tracking import TrackingClient


@dataclass(frozen=True)
class BestTrial:
    run_id: str
    trial: int | None
    value: float


def parent_tags(plan: SweepPlan) -> dict[str, str]:
    """The project's tags (source, lineage, entry point) and the sweep's."""
    request = plan.request
    tags = project_tags(plan.run_plan)
    tags[SAMPLER_TAG] = plan.sampler.name
    tags[SPEC_TAG] = request.spec.to_json()
    tags[TRIALS_TAG] = str(plan.total)
    tags[PARALLEL_TAG] = str(request.parallel)
    if plan.sampler.seed is not None:
        tags[SEED_TAG] = str(plan.sampler.seed)
    if plan.objective is not None:
        tags[OBJECTIVE_TAG] = plan.objective.metric
        tags[DIRECTION_TAG] = plan.objective.direction
    return tags


def children_filter(parent_id: str, *extra: Node) -> str:
    """A filter matching the runs whose parent is ``parent_id`` (and ``extra``)."""
    node: Node = Compare(Field("tag", system_tags.PARENT_RUN_ID), "=", parent_id)
    return str(And((node, *extra)) if extra else node)


def find_trial_run(client: TrackingClient, parent_id: str, number: int) -> Run | None:
    """The run of trial ``number``, for a trial that ended without saying its id."""
    trial = Compare(Field("tag", TRIAL_TAG), "=", str(number))
    found = client.search_runs(None, children_filter(parent_id, trial), max_results=1)
    return found[0] if found else None


def record_best(client: TrackingClient, parent_id: str, objective: Objective) -> BestTrial | None:
    """Choose the best FINISHED trial and record it on the parent: the tags
    ``best_run_id``, ``mlcli.sweep.bestRunId`` and ``mlcli.sweep.bestTrial``, and
    the metric ``best_<KEY>``. None (nothing recorded) when no finished trial has a
    value for the objective."""
    finished = Compare(Field("attribute", "status"), "=", RunStatus.FINISHED)
    try:
        run = best_run(
            client, objective.metric, objective.maximize, None, children_filter(parent_id, finished)
        )
    except NoRunError:
        return None
    value = run.data.latest_metrics[objective.metric].value
    number = run.data.tags.get(TRIAL_TAG)
    tags = {BEST_RUN_TAG: run.run_id, BEST_RUN_SYSTEM_TAG: run.run_id}
    if number is not None:
        tags[BEST_TRIAL_TAG] = number
    client.log_batch(parent_id, metrics=[(objective.best_metric, value)], tags=tags)
    trial = int(number) if number is not None and number.isdigit() else None
    return BestTrial(run.run_id, trial, value)


def end_stragglers(client: TrackingClient, parent_id: str, status: str) -> list[str]:
    """End with ``status`` every trial run still RUNNING (its ``mlcli run`` was killed
    before it could end the run); their ids."""
    running = Compare(Field("attribute", "status"), "=", RunStatus.RUNNING)
    ended = []
    for run in client.search_runs(None, children_filter(parent_id, running)):
        reason = "the trial's mlcli run ended before it could end its run; the sweep ended it"
        client.log_batch(run.run_id, tags={system_tags.PROJECT_FAILURE_REASON: reason})
        client.set_terminated(run.run_id, status)
        ended.append(run.run_id)
    return ended
