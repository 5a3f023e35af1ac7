"""What an evaluation returns (MLflow's ``EvaluationResult``): the metrics, the
artifacts, the tables, and how the thresholds fared."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ThresholdOutcome:
    metric: str
    value: Any  # None when the candidate has no such metric
    threshold: str  # the bound as the command line writes it: ">=0.9", "<=baseline-5%"
    passed: bool
    reason: str  # MLflow's sentence: "Metric accuracy_score value threshold check failed: ..."

    def to_dict(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "value": self.value,
            "threshold": self.threshold,
            "passed": self.passed,
            "reason": self.reason,
        }


class EvaluationArtifact:
    """An artifact an evaluation logged (MLflow's ``EvaluationArtifact``): ``uri``
    where it lives, ``path`` in the run's artifacts, ``content`` read from its bytes
    (an image's bytes, a DataFrame for a table, a dict for JSON)."""

    def __init__(self, uri: str, path: str, data: bytes) -> None:
        self._uri = uri
        self._path = path
        self._data = data

    @property
    def uri(self) -> str:
        return self._uri

    @property
    def path(self) -> str:
        return self._path

    @property
    def content(self) -> Any:
        name = self._path.lower()
        if name.endswith(".csv"):
            from mlcli.models.packages import require

            return require("pandas", "reading a table").read_csv(io.BytesIO(self._data))
        if name.endswith(".json"):
            return json.loads(self._data)
        if name.endswith(".npy"):
            from mlcli.models.packages import require

            return require("numpy", "reading an array").load(io.BytesIO(self._data))
        if name.endswith(".txt"):
            return self._data.decode()
        return self._data  # an image's bytes

    def save(self, path: str) -> None:
        with open(path, "wb") as handle:
            handle.write(self._data)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(uri='{self.uri}')"


@dataclass(frozen=True)
class EvaluationResult:
    """MLflow's ``EvaluationResult``: ``metrics`` by name (with the metric prefix, as
    logged), ``artifacts`` by name (:class:`EvaluationArtifact`), ``tables`` (the
    per-row ``eval_results_table`` when a metric gave per-row scores, and other tables,
    as DataFrames) and ``run_id``. mlcli adds ``model_type``, ``baseline_metrics``
    (when a baseline model was evaluated), ``validation`` (the thresholds' outcomes)
    and ``passed``."""

    run_id: str
    model_type: str | None
    metrics: dict[str, Any]
    artifacts: dict[str, EvaluationArtifact] = field(default_factory=dict)
    baseline_metrics: dict[str, Any] | None = None
    validation: list[ThresholdOutcome] = field(default_factory=list)
    metric_prefix: str = ""
    table_frames: dict[str, Callable[[], Any]] = field(default_factory=dict, repr=False)

    @property
    def passed(self) -> bool:
        return all(outcome.passed for outcome in self.validation)

    @property
    def tables(self) -> dict[str, Any]:
        """The tables among the artifacts, as pandas DataFrames."""
        return {name: load() for name, load in self.table_frames.items()}

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "model_type": self.model_type,
            "metric_prefix": self.metric_prefix,
            "metrics": dict(self.metrics),
            "baseline_metrics": self.baseline_metrics,
            "artifacts": {name: a.path for name, a in self.artifacts.items()},
            "validation": [o.to_dict() for o in self.validation],
            "passed": self.passed,
        }
