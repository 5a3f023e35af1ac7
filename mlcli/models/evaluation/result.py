"""What an evaluation returns: the metrics, the artifacts, and how the thresholds fared."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ThresholdOutcome:
    metric: str
    value: float
    threshold: str  # the bound as written: ">=0.9", "<=baseline-5%"
    passed: bool
    reason: str  # one line for people: "accuracy = 0.973 is below the minimum 0.999"

    def to_dict(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "value": self.value,
            "threshold": self.threshold,
            "passed": self.passed,
            "reason": self.reason,
        }


@dataclass(frozen=True)
class EvaluationResult:
    """``metrics`` by name (without the logging prefix), ``artifacts`` by name to their
    path in the run, ``baseline_metrics`` when a baseline model was evaluated too."""

    run_id: str
    model_type: str
    metrics: dict[str, float]
    artifacts: dict[str, str] = field(default_factory=dict)
    baseline_metrics: dict[str, float] | None = None
    validation: list[ThresholdOutcome] = field(default_factory=list)
    metric_prefix: str = ""

    @property
    def passed(self) -> bool:
        return all(outcome.passed for outcome in self.validation)

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "model_type": self.model_type,
            "metric_prefix": self.metric_prefix,
            "metrics": dict(self.metrics),
            "baseline_metrics": self.baseline_metrics,
            "artifacts": dict(self.artifacts),
            "validation": [o.to_dict() for o in self.validation],
            "passed": self.passed,
        }
