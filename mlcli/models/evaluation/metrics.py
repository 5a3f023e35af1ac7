"""The standard metrics of each model type, and extra metrics from the caller.

classifier  accuracy, precision, recall, f1 (weighted over classes), and when the
            model gives probabilities, log_loss and roc_auc (one-vs-rest, weighted,
            for more than two classes); example_count
regressor   mae, mse, rmse, r2, max_error; example_count
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from mlcli.errors import InvalidInputError
from mlcli.models.packages import require

MODEL_TYPES = ("classifier", "regressor")


@dataclass(frozen=True)
class EvaluationMetric:
    """An extra metric: ``fn(predictions, targets) -> float``."""

    name: str
    fn: Callable[[Any, Any], float]
    greater_is_better: bool = True


def make_metric(
    fn: Callable[[Any, Any], float], name: str | None = None, greater_is_better: bool = True
) -> EvaluationMetric:
    return EvaluationMetric(name or fn.__name__, fn, greater_is_better)


def classifier_metrics(
    targets: Any, predictions: Any, probabilities: Any = None, classes: list[Any] | None = None
) -> dict[str, float]:
    m = require("sklearn.metrics", "evaluating a classifier")
    metrics = {
        "example_count": float(len(targets)),
        "accuracy": float(m.accuracy_score(targets, predictions)),
        "precision": float(
            m.precision_score(targets, predictions, average="weighted", zero_division=0)
        ),
        "recall": float(m.recall_score(targets, predictions, average="weighted", zero_division=0)),
        "f1": float(m.f1_score(targets, predictions, average="weighted", zero_division=0)),
    }
    if probabilities is not None:
        metrics.update(_probability_metrics(m, targets, probabilities, classes))
    return metrics


def regressor_metrics(targets: Any, predictions: Any) -> dict[str, float]:
    m = require("sklearn.metrics", "evaluating a regressor")
    mse = float(m.mean_squared_error(targets, predictions))
    return {
        "example_count": float(len(targets)),
        "mae": float(m.mean_absolute_error(targets, predictions)),
        "mse": mse,
        "rmse": math.sqrt(mse),
        "r2": float(m.r2_score(targets, predictions)) if len(targets) > 1 else math.nan,
        "max_error": float(m.max_error(targets, predictions)),
    }


def extra_metric_values(
    extra: list[EvaluationMetric | Callable[..., float]], predictions: Any, targets: Any
) -> dict[str, float]:
    values = {}
    for item in extra:
        metric = item if isinstance(item, EvaluationMetric) else make_metric(item)
        value = metric.fn(predictions, targets)
        try:
            values[metric.name] = float(value)
        except (TypeError, ValueError):
            raise InvalidInputError(
                f"extra metric {metric.name!r} returned {value!r}, not a number"
            ) from None
    return values


def _probability_metrics(
    m: Any, targets: Any, probabilities: Any, classes: list[Any] | None
) -> dict[str, float]:
    np = require("numpy", "evaluating a classifier")
    proba = np.asarray(probabilities, dtype=float)
    if proba.ndim != 2:
        return {}
    labels = classes if classes is not None else sorted(set(np.asarray(targets).tolist()))
    if len(labels) != proba.shape[1] or not set(np.asarray(targets).tolist()) <= set(labels):
        return {}  # the columns cannot be matched with the classes
    metrics = {"log_loss": float(m.log_loss(targets, proba, labels=labels))}
    present = set(np.asarray(targets).tolist())
    if len(present) < 2:
        return metrics  # ROC AUC is undefined with one class
    if proba.shape[1] == 2:
        positive = np.asarray(targets) == labels[1]
        metrics["roc_auc"] = float(m.roc_auc_score(positive, proba[:, 1]))
    elif len(present) == len(labels):
        metrics["roc_auc"] = float(
            m.roc_auc_score(targets, proba, multi_class="ovr", average="weighted", labels=labels)
        )
    return metrics
