"""Training metrics of a fitted scikit-learn estimator, named as MLflow names them.

Classifiers: ``training_accuracy_score``, ``training_precision_score``,
``training_recall_score``, ``training_f1_score`` (weighted over the classes);
regressors: ``training_mean_squared_error``, ``training_root_mean_squared_error``,
``training_mean_absolute_error``, ``training_r2_score``; and ``training_score``
(the estimator's own ``score``). One ``predict`` serves them all: when ``score`` is
scikit-learn's default (accuracy, or R²) it is not computed a second time.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from typing import Any

_log = logging.getLogger("mlcli")


def training_metrics(
    estimator: Any, X: Any, y: Any, sample_weight: Any = None
) -> tuple[dict[str, float], Any]:
    """The metrics, and the predictions on ``X`` when they were made (else None)."""
    from sklearn.base import ClassifierMixin, RegressorMixin, is_classifier, is_regressor

    metrics: dict[str, float] = {}
    y_pred = None
    weights = {} if sample_weight is None else {"sample_weight": sample_weight}
    default_score = None
    if y is not None and hasattr(estimator, "predict"):
        if is_classifier(estimator):
            y_pred = estimator.predict(X)
            metrics.update(_classifier_metrics(y, y_pred, weights))
            if _scores_like(estimator, ClassifierMixin):
                default_score = metrics.get("training_accuracy_score")
        elif is_regressor(estimator):
            y_pred = estimator.predict(X)
            metrics.update(_regressor_metrics(y, y_pred, weights))
            if _scores_like(estimator, RegressorMixin):
                default_score = metrics.get("training_r2_score")
    if default_score is not None:
        metrics["training_score"] = default_score
    elif hasattr(estimator, "score"):
        arguments = (X,) if y is None else (X, y)
        score = _guarded("training_score", lambda: estimator.score(*arguments, **weights))
        if score is not None:
            metrics["training_score"] = score
    return metrics, y_pred


def _classifier_metrics(y: Any, y_pred: Any, weights: dict[str, Any]) -> dict[str, float]:
    from sklearn.metrics import accuracy_score, precision_recall_fscore_support

    metrics: dict[str, float] = {}
    accuracy = _guarded("accuracy", lambda: accuracy_score(y, y_pred, **weights))
    if accuracy is not None:
        metrics["training_accuracy_score"] = accuracy
    try:
        precision, recall, f1, _ = precision_recall_fscore_support(
            y, y_pred, average="weighted", zero_division=0, **weights
        )
    except (ValueError, TypeError) as exc:  # e.g. multiclass-multioutput targets
        _log.info("mlcli autolog: no precision/recall/f1: %s", exc)
        return metrics
    metrics["training_precision_score"] = float(precision)
    metrics["training_recall_score"] = float(recall)
    metrics["training_f1_score"] = float(f1)
    return metrics


def _regressor_metrics(y: Any, y_pred: Any, weights: dict[str, Any]) -> dict[str, float]:
    from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score

    metrics: dict[str, float] = {}
    mse = _guarded("mse", lambda: mean_squared_error(y, y_pred, **weights))
    if mse is not None:
        metrics["training_mean_squared_error"] = mse
        metrics["training_root_mean_squared_error"] = math.sqrt(mse)
    mae = _guarded("mae", lambda: mean_absolute_error(y, y_pred, **weights))
    if mae is not None:
        metrics["training_mean_absolute_error"] = mae
    r2 = _guarded("r2", lambda: r2_score(y, y_pred, **weights))
    if r2 is not None:
        metrics["training_r2_score"] = r2
    return metrics


def _scores_like(estimator: Any, mixin: type) -> bool:
    """Whether ``estimator.score`` is the mixin's (directly, or a Pipeline's final
    step's, which a Pipeline's score delegates to)."""
    from sklearn.pipeline import Pipeline

    if isinstance(estimator, Pipeline):
        estimator = estimator._final_estimator
    return getattr(type(estimator), "score", None) is getattr(mixin, "score", None)


def _guarded(name: str, compute: Callable[[], Any]) -> float | None:
    try:
        return float(compute())
    except (ValueError, TypeError) as exc:  # a target the metric does not take
        _log.info("mlcli autolog: no %s: %s", name, exc)
        return None
