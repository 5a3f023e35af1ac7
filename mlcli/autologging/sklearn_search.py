"""A parameter search (GridSearchCV, RandomizedSearchCV, the halving searches):
``cv_results.csv``, the best parameters and score on the search's run, and a child
run for each of the best candidates.

The parent gets ``best_<param>`` params and the ``best_cv_score`` metric, as MLflow
logs them. Each child run holds one candidate: its parameters, and its ``mean_*``,
``std_*`` and ``rank_*`` figures from ``cv_results_``; the best ``max_tuning_runs``
candidates by rank get one (all of them with None).
"""

from __future__ import annotations

import csv
import io
import math
from typing import Any

from mlcli import system_tags
from mlcli.store import RunStatus, this_process
from mlcli.tracking.client import TrackingClient

CV_RESULTS_ARTIFACT = "cv_results.csv"
_CHILD_METRIC_PREFIXES = ("mean_", "std_", "rank_")


def is_search(estimator: Any) -> bool:
    return hasattr(estimator, "cv_results_") and hasattr(estimator, "estimator")


def log_search(
    client: TrackingClient,
    run_id: str,
    search: Any,
    max_tuning_runs: int | None,
    stringify: Any,
    estimator_tags: Any,
) -> None:
    results = search.cv_results_
    client.log_text(run_id, cv_results_csv(results), CV_RESULTS_ARTIFACT)
    params = {f"best_{k}": stringify(v) for k, v in getattr(search, "best_params_", {}).items()}
    metrics = []
    best_score = getattr(search, "best_score_", None)
    if best_score is not None:
        metrics.append(("best_cv_score", float(best_score), 0))
    client.log_batch(run_id, metrics=metrics, params=params)
    parent = client.get_run(run_id)
    tags = {**estimator_tags(search.estimator), system_tags.AUTOLOGGING: "sklearn"}
    for index in best_candidates(results, _rank_key(search, results), max_tuning_runs):
        child = client.create_run(
            experiment_id=parent.info.experiment_id,
            tags=tags,
            parent_run_id=run_id,
            owner=this_process(),  # ended below; a SIGKILL in between is noticed
        )
        client.log_batch(
            child.run_id,
            metrics=[(k, v, 0) for k, v in candidate_metrics(results, index).items()],
            params={k: stringify(v) for k, v in results["params"][index].items()},
        )
        client.set_terminated(child.run_id, RunStatus.FINISHED)


def best_candidates(results: dict[str, Any], rank_key: str | None, limit: int | None) -> list[int]:
    count = len(results["params"])
    if rank_key is None:
        order = list(range(count))
    else:
        order = sorted(range(count), key=lambda i: (int(results[rank_key][i]), i))
    return order if limit is None else order[: max(0, limit)]


def candidate_metrics(results: dict[str, Any], index: int) -> dict[str, float]:
    metrics = {}
    for key, values in results.items():
        if key.startswith(_CHILD_METRIC_PREFIXES):
            try:
                metrics[key] = float(values[index])
            except (TypeError, ValueError):
                continue
    return metrics


def cv_results_csv(results: dict[str, Any]) -> str:
    """``cv_results_`` as CSV, one row per candidate (a masked cell is empty)."""
    columns = list(results)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    for index in range(len(results["params"])):
        writer.writerow([_cell(results[c], index) for c in columns])
    return buffer.getvalue()


def _cell(values: Any, index: int) -> str:
    mask: Any = getattr(values, "mask", None)  # numpy's, when values is a masked array
    if getattr(mask, "ndim", 0) and mask[index]:  # a masked array with a mask per cell
        return ""
    value = values[index]
    if isinstance(value, float) and math.isnan(value):
        return "nan"
    return str(value)


def _rank_key(search: Any, results: dict[str, Any]) -> str | None:
    refit = getattr(search, "refit", True)
    if isinstance(refit, str) and f"rank_test_{refit}" in results:
        return f"rank_test_{refit}"
    if "rank_test_score" in results:
        return "rank_test_score"
    return next((k for k in results if k.startswith("rank_test_")), None)
