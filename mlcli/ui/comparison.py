"""The compare page: the runs side by side (``mlcli compare``'s table, with the columns
that differ and each metric's best value), and what the parallel-coordinates chart
of a sweep draws."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from mlcli.compare import build_comparison, select_runs
from mlcli.errors import InvalidInputError
from mlcli.tracking import TrackingClient

MAX_RUNS = 200


def comparison(
    client: TrackingClient, run_refs: Sequence[str], columns: Sequence[str] | None = None
) -> dict[str, Any]:
    if len(run_refs) < 1:
        raise InvalidInputError("select at least one run to compare (runs=ID,ID...)")
    if len(run_refs) > MAX_RUNS:
        raise InvalidInputError(f"too many runs ({len(run_refs)}): at most {MAX_RUNS} at once")
    runs = select_runs(client, run_refs)
    table = build_comparison(runs, columns or None)
    return {
        "runs": [
            {
                "run_id": run.run_id,
                "run_name": run.info.run_name,
                "experiment_id": run.info.experiment_id,
            }
            for run in runs
        ],
        "columns": [{"key": c.key, "kind": c.kind, "name": c.name} for c in table.columns],
        "rows": table.records(),
        "changed": sorted(table.changed),
        "best": {key: sorted(rows) for key, rows in table.best.items()},
        "lower_is_better": table.lower_is_better,
        "metric_keys": sorted({k for run in runs for k in run.data.latest_metrics}),
        "param_keys": sorted({k for run in runs for k in run.data.params}),
    }
