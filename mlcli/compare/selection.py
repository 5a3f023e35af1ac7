"""Which runs a comparison shows, and the best run by one metric (``mlcli select``)."""

from __future__ import annotations

import math
from collections.abc import Sequence

from mlcli.errors import InvalidInputError, MlcliError
from mlcli.search import Compare, Field, Node, evaluate, order_runs, parse_filter, parse_order_by
from mlcli.search.nodes import And
from mlcli.store import Run
from mlcli.tracking import TrackingClient


class NoRunError(MlcliError):
    """No run matches, or none has the metric asked for (exit 1: the command failed)."""


def select_runs(
    client: TrackingClient,
    run_refs: Sequence[str] = (),
    experiment: str | None = None,
    filter_string: str | None = None,
    order_by: Sequence[str] | None = None,
    limit: int | None = None,
) -> list[Run]:
    """The named runs (ids or unique prefixes, in the order given, any lifecycle stage)
    or else the active runs of ``experiment`` (all active experiments when None);
    then filtered, ordered (default: newest first) and cut to ``limit``."""
    if limit is not None and limit < 0:
        raise InvalidInputError(f"invalid limit {limit}: must be ≥ 0")
    if not run_refs:
        ids = None if experiment is None else [client.resolve_experiment(experiment).experiment_id]
        return client.search_runs(ids, filter_string, order_by=order_by, max_results=limit)
    if experiment is not None:
        raise InvalidInputError("give runs or --experiment, not both")
    node = parse_filter(filter_string or "")
    keys = parse_order_by(order_by)
    ids = list(dict.fromkeys(client.resolve_run_id(ref) for ref in run_refs))
    runs = [run for run in map(client.get_run, ids) if evaluate(node, run)]
    if keys:
        runs = order_runs(runs, keys)
    return runs if limit is None else runs[:limit]


def best_run(
    client: TrackingClient,
    metric: str,
    maximize: bool,
    experiment: str | None = None,
    filter_string: str | None = None,
) -> Run:
    """The active run with the highest (or lowest) latest value of ``metric`` among
    those matching the filter; ties go to the newest run. NoRunError when no run
    matches or none of them has a value for the metric (NaN counts as none)."""
    field = Field("metric", metric)
    has_metric: Node = Compare(field, "IS NOT NULL", None)
    user = parse_filter(filter_string or "")
    combined = has_metric if user is None else And((user, has_metric))
    order = f"{field} {'DESC' if maximize else 'ASC'}"
    ids = None if experiment is None else [client.resolve_experiment(experiment).experiment_id]
    found = client.search_runs(ids, str(combined), order_by=[order], max_results=1)
    where = f" in experiment {experiment!r}" if experiment else ""
    if not found:
        matching = client.search_runs(ids, filter_string, max_results=1)
        if not matching:
            suffix = f": {filter_string}" if filter_string else ""
            raise NoRunError(f"no run matches{where}{suffix}")
        raise NoRunError(f"no matching run{where} has a value for metric {metric!r}")
    value = found[0].data.latest_metrics[metric].value
    if math.isnan(value):
        raise NoRunError(f"every matching run{where} has NaN for metric {metric!r}")
    return found[0]
