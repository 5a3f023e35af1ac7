"""Metric histories for the charts: every point a run logged of each metric, by step.

A history longer than MAX_POINTS is thinned for drawing: the points are cut into
buckets by position and each bucket keeps its lowest and highest value, so spikes
stay visible. Non-finite values are sent as the strings "NaN", "Infinity" and
"-Infinity" (the charts leave them out).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from mlcli.errors import InvalidInputError
from mlcli.store import Metric, json_number
from mlcli.tracking import TrackingClient

MAX_POINTS = 2_000
MAX_RUNS = 100


def metric_histories(
    client: TrackingClient, run_refs: Sequence[str], keys: Sequence[str] = ()
) -> dict[str, Any]:
    """The histories of ``keys`` (every metric when empty) for each run."""
    if not run_refs:
        raise InvalidInputError("name at least one run (runs=ID,ID...)")
    if len(run_refs) > MAX_RUNS:
        raise InvalidInputError(f"too many runs ({len(run_refs)}): at most {MAX_RUNS} at once")
    wanted = set(keys)
    result = []
    for ref in dict.fromkeys(run_refs):
        run = client.get_run(ref)
        by_key: dict[str, list[Metric]] = defaultdict(list)
        for metric in client.store.runs.iter_metric_history(run.run_id):  # streamed
            if not wanted or metric.key in wanted:
                by_key[metric.key].append(metric)
        result.append(
            {
                "run_id": run.run_id,
                "run_name": run.info.run_name,
                "start_time": run.info.start_time,
                "metrics": {key: _series(points) for key, points in sorted(by_key.items())},
            }
        )
    return {"runs": result}


def _series(points: list[Metric]) -> dict[str, Any]:
    ordered = sorted(points, key=lambda m: (m.step, m.timestamp))
    total = len(ordered)
    if total > MAX_POINTS:
        ordered = _thin(ordered, MAX_POINTS)
    return {
        "steps": [m.step for m in ordered],
        "timestamps": [m.timestamp for m in ordered],
        "values": [json_number(m.value) for m in ordered],
        "total_points": total,
    }


def _thin(points: list[Metric], limit: int) -> list[Metric]:
    """At most ``limit`` points: the lowest and highest of each of limit/2 buckets."""
    buckets = limit // 2
    size = len(points) / buckets
    kept: list[Metric] = []
    for index in range(buckets):
        bucket = points[int(index * size) : int((index + 1) * size)]
        finite = [m for m in bucket if m.value == m.value]  # NaN is not equal to itself
        if not finite:
            kept += bucket[:1]
            continue
        low = min(finite, key=lambda m: m.value)
        high = max(finite, key=lambda m: m.value)
        kept += sorted({id(m): m for m in (low, high)}.values(), key=lambda m: m.step)
    return kept
