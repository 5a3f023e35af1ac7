"""A sweep's trials, read back: the child runs of a parent, best first
(``mlcli compare --parent``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from mlcli.errors import InvalidInputError
from mlcli.search import Node, parse_filter
from mlcli.store import Run, RunStatus
from mlcli.sweeps.objective import Objective, objective_of
from mlcli.sweeps.parent import children_filter
from mlcli.sweeps.tags import TRIAL_TAG
from mlcli.tracking import TrackingClient


@dataclass(frozen=True)
class SweepTrials:
    parent: Run
    runs: list[Run]
    objective: Objective | None


def sweep_trials(
    client: TrackingClient,
    parent: str,
    filter_string: str | None = None,
    order_by: Sequence[str] | None = None,
    limit: int | None = None,
) -> SweepTrials:
    """The child runs of ``parent`` (an id or unique prefix) that match the filter.

    Without ``order_by``: best first when the parent is a sweep with an objective
    (FINISHED trials by their value, ties to the newest, as ``mlcli select`` breaks
    them; then the others), else in trial order (start order for other children)."""
    if limit is not None and limit < 0:
        raise InvalidInputError(f"invalid limit {limit}: must be ≥ 0")
    parent_run = client.get_run(client.resolve_run_id(parent))
    objective = objective_of(parent_run)
    user: Node | None = parse_filter(filter_string or "")
    extra = (user,) if user is not None else ()
    runs = client.search_runs(None, children_filter(parent_run.run_id, *extra), order_by=order_by)
    if not order_by:
        runs = _best_first(runs, objective) if objective else sorted(runs, key=_trial_order)
    return SweepTrials(parent_run, runs if limit is None else runs[:limit], objective)


def _best_first(runs: list[Run], objective: Objective) -> list[Run]:
    ranked: list[tuple[float, Run]] = []
    others: list[Run] = []
    for run in runs:
        value = objective.value(run)
        if value is None or run.info.status != RunStatus.FINISHED:
            others.append(run)
        else:
            ranked.append((-value if objective.maximize else value, run))
    ranked.sort(key=lambda pair: (pair[0], -pair[1].info.start_time, pair[1].run_id))
    return [run for _, run in ranked] + sorted(others, key=_trial_order)


def _trial_order(run: Run) -> tuple[int, int]:
    number = run.data.tags.get(TRIAL_TAG, "")
    return (int(number) if number.isdigit() else 0, run.info.start_time)
