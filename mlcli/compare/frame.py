"""Runs as a pandas DataFrame, in the shape of MLflow's ``search_runs``.

One row per run: ``run_id``, ``experiment_id``, ``run_name``, ``status``,
``artifact_uri``, ``start_time`` and ``end_time`` (timezone-aware UTC datetimes; NaT
while a run is live), then ``metrics.*`` (floats, NaN when a run lacks the metric),
``params.*`` and ``tags.*`` (text, None when missing). pandas is imported here only.

With ``mlflow_names=True`` (``mlcli.search_runs``) the columns are exactly MLflow's:
no ``run_name`` column (``tags.mlflow.runName`` holds it) and system tags under
MLflow's names (``tags.mlflow.user``, not ``tags.mlcli.user``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from mlcli.errors import EnvironmentFailure
from mlcli.store import Run
from mlcli.system_tags import to_mlflow

INFO_COLUMNS = (
    "run_id",
    "experiment_id",
    "run_name",
    "status",
    "artifact_uri",
    "start_time",
    "end_time",
)


def runs_frame(runs: Sequence[Run], mlflow_names: bool = False) -> Any:
    """A ``pandas.DataFrame`` of ``runs``, in their order."""
    try:
        import pandas as pd
    except ImportError:
        raise EnvironmentFailure(
            "a DataFrame of runs needs pandas: pip install pandas, or pass "
            "output_format='list' for a list of runs"
        ) from None
    metrics = sorted({k for run in runs for k in run.data.latest_metrics})
    params = sorted({k for run in runs for k in run.data.params})
    tags = sorted({k for run in runs for k in run.data.tags})
    columns: dict[str, Any] = {
        "run_id": [r.info.run_id for r in runs],
        "experiment_id": [r.info.experiment_id for r in runs],
        "run_name": [r.info.run_name for r in runs],
        "status": [r.info.status for r in runs],
        "artifact_uri": [r.info.artifact_uri for r in runs],
        "start_time": pd.to_datetime([r.info.start_time for r in runs], unit="ms", utc=True),
        # pandas-stubs refuse None in the list, which pandas turns into NaT as documented
        "end_time": pd.to_datetime(  # type: ignore[call-overload]
            [r.info.end_time for r in runs], unit="ms", utc=True
        ),
    }
    for key in metrics:
        columns[f"metrics.{key}"] = pd.array(
            [r.data.metrics.get(key, float("nan")) for r in runs], dtype="float64"
        )
    for key in params:
        columns[f"params.{key}"] = [r.data.params.get(key) for r in runs]
    for key in tags:
        name = to_mlflow(key) if mlflow_names else key
        columns[f"tags.{name}"] = [r.data.tags.get(key) for r in runs]
    if mlflow_names:
        del columns["run_name"]
    return pd.DataFrame(columns)
