"""Metrics of an evaluation: the built-in ones of each model type, under MLflow's names,
and the caller's extra metrics (``make_metric``), computed as MLflow computes them.

classifier  example_count, accuracy_score, precision_score, recall_score, f1_score;
            for two classes also true/false negatives/positives (average "binary"
            with the greater label positive), else the scores weighted over classes
            (``evaluator_config={"average": ...}``); with probabilities log_loss,
            roc_auc and, for two classes, precision_recall_auc
regressor   example_count, mean_absolute_error, mean_squared_error,
            root_mean_squared_error, sum_on_target, mean_on_target, r2_score,
            max_error, mean_absolute_percentage_error
both        score, the estimator's own ``score`` for a scikit-learn model
"""

from __future__ import annotations

import copy
import inspect
import keyword
import logging
import math
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import FunctionType
from typing import Any

from mlcli.errors import InvalidInputError
from mlcli.models.packages import require

_logger = logging.getLogger(__name__)

MODEL_TYPES = ("classifier", "regressor")
# Metrics that count rows: kept as integers, as MLflow keeps them
_COUNTS = (
    "example_count",
    "true_negatives",
    "false_positives",
    "false_negatives",
    "true_positives",
)


@dataclass
class MetricValue:
    """What a metric function may return (MLflow's ``mlflow.metrics.MetricValue``):
    per-row ``scores`` and ``justifications``, and ``aggregate_results`` by name."""

    scores: list[Any] | None = None
    justifications: list[Any] | None = None
    aggregate_results: dict[str, Any] | None = None


@dataclass
class EvaluationMetric:
    """An extra metric (MLflow's ``EvaluationMetric``): ``eval_fn`` is called with the
    arguments its parameters name (see :func:`make_metric`)."""

    eval_fn: Callable[..., Any]
    name: str
    greater_is_better: bool = True
    long_name: str | None = None
    version: str | None = None
    metric_details: str | None = None
    metric_metadata: dict[str, Any] | None = None
    genai_metric_args: dict[str, Any] | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self.long_name = self.long_name or self.name

    @property
    def fn(self) -> Callable[..., Any]:
        return self.eval_fn

    @property
    def key(self) -> str:
        """The metric's name in the results: ``name``, or ``name/version``."""
        return f"{self.name}/{self.version}" if self.version else self.name

    def __call__(self, **kwargs: Any) -> Any:
        return self.eval_fn(**kwargs)


def make_metric(
    eval_fn: Callable[..., Any] | None = None,
    *,
    greater_is_better: bool = True,
    name: str | None = None,
    long_name: str | None = None,
    version: str | None = None,
    metric_details: str | None = None,
    metric_metadata: dict[str, Any] | None = None,
    genai_metric_args: dict[str, Any] | None = None,
    fn: Callable[..., Any] | None = None,
) -> EvaluationMetric:
    """An extra metric for ``evaluate(..., extra_metrics=[...])``, as MLflow's
    ``make_metric``. ``eval_fn``'s parameters say what it is given:

    - ``eval_fn(predictions, targets, metrics)``: the predictions and the targets as
      pandas Series, and the metrics computed so far (name -> :class:`MetricValue`);
      any other parameter names a feature column, an ``evaluator_config`` key or
      another metric (``col_mapping`` in the config renames them);
    - ``eval_fn(eval_df, builtin_metrics)`` (MLflow's older form): a DataFrame with
      ``prediction`` and ``target`` columns, and the metrics so far as numbers.

    It returns a number or a :class:`MetricValue`. ``name`` defaults to the function's.
    """
    function = eval_fn if eval_fn is not None else fn
    if function is None or not callable(function):
        raise InvalidInputError("make_metric needs eval_fn, a function computing the metric")
    if name is None:
        if isinstance(function, FunctionType) and function.__name__ == "<lambda>":
            raise InvalidInputError("`name` must be specified if `eval_fn` is a lambda function.")
        name = getattr(function, "__name__", None)
        if name is None:
            raise InvalidInputError(
                "`name` must be specified if `eval_fn` does not have a `__name__` attribute."
            )
    if "/" in name:
        raise InvalidInputError(
            f"Invalid metric name '{name}'. Metric names cannot include forward slashes ('/')."
        )
    if not name.isidentifier() or keyword.iskeyword(name):
        _logger.warning(
            "the metric name %r is not a Python identifier: other metrics cannot name it as "
            "a parameter",
            name,
        )
    return EvaluationMetric(
        function,
        name,
        greater_is_better,
        long_name,
        version,
        metric_details,
        metric_metadata,
        genai_metric_args,
    )


def as_metric(item: Any) -> EvaluationMetric:
    """An extra metric as given: an :class:`EvaluationMetric`, one of MLflow's (any
    object with ``eval_fn`` and ``name``), or a plain function (named by itself)."""
    if isinstance(item, EvaluationMetric):
        return item
    if callable(getattr(item, "eval_fn", None)) and isinstance(getattr(item, "name", None), str):
        return EvaluationMetric(
            item.eval_fn,
            item.name,
            bool(getattr(item, "greater_is_better", True)),
            version=getattr(item, "version", None),
        )
    if callable(item):
        return make_metric(item, name=getattr(item, "__name__", None) or repr(item))
    raise InvalidInputError(
        f"extra metric {item!r} has type {type(item).__name__!r}: expected a metric from "
        "make_metric"
    )


def aggregate(values: Mapping[str, MetricValue]) -> dict[str, Any]:
    """The metrics as numbers: each metric's aggregate under its own name, other
    aggregates under ``name/aggregate`` (MLflow's naming)."""
    flat: dict[str, Any] = {}
    for name, value in values.items():
        for part, number in (value.aggregate_results or {}).items():
            if number is None:
                continue
            flat[name if part == name.split("/")[0] else f"{name}/{part}"] = number
    return flat


def number(value: Any) -> Any:
    """A plain Python number: int for integers, float otherwise."""
    if isinstance(value, bool):
        return int(value)
    if hasattr(value, "item"):
        value = value.item()
    return value if isinstance(value, int) else float(value)


def single(values: Mapping[str, Any]) -> dict[str, MetricValue]:
    return {
        name: MetricValue(aggregate_results={name: number(value)}) for name, value in values.items()
    }


def classifier_metrics(
    targets: Any,
    predictions: Any,
    probabilities: Any,
    labels: Any,
    *,
    pos_label: Any = None,
    average: str = "weighted",
    sample_weights: Any = None,
) -> dict[str, Any]:
    """MLflow's classifier metrics. ``labels`` are sorted, the positive one last for two
    classes; ``probabilities`` (or None) has one column per label, in sorted order."""
    m = require("sklearn.metrics", "evaluating a classifier")
    binary = len(labels) == 2
    metrics: dict[str, Any] = {}
    if binary:
        tn, fp, fn, tp = m.confusion_matrix(targets, predictions, labels=labels).ravel()
        metrics.update(true_negatives=tn, false_positives=fp, false_negatives=fn, true_positives=tp)
    mode = "binary" if binary else average
    positive = pos_label if binary else None
    metrics.update(
        example_count=len(targets),
        accuracy_score=m.accuracy_score(targets, predictions, sample_weight=sample_weights),
        recall_score=m.recall_score(
            targets, predictions, average=mode, pos_label=positive, sample_weight=sample_weights
        ),
        precision_score=m.precision_score(
            targets, predictions, average=mode, pos_label=positive, sample_weight=sample_weights
        ),
        f1_score=m.f1_score(
            targets, predictions, average=mode, pos_label=positive, sample_weight=sample_weights
        ),
    )
    if probabilities is not None:
        metrics.update(
            _probability_metrics(
                m, targets, probabilities, labels, positive, average, sample_weights
            )
        )
    return {name: number(value) for name, value in metrics.items()}


def _probability_metrics(
    m: Any,
    targets: Any,
    probabilities: Any,
    labels: Any,
    pos_label: Any,
    average: str,
    sample_weights: Any,
) -> dict[str, Any]:
    np = require("numpy", "evaluating a classifier")
    proba = np.asarray(probabilities, dtype=float)
    if proba.ndim != 2 or proba.shape[1] != len(labels):
        return {}  # the columns cannot be matched with the classes
    metrics = {
        "log_loss": m.log_loss(targets, proba, labels=sorted(labels), sample_weight=sample_weights)
    }
    present = set(np.asarray(targets).tolist())
    if len(present) < 2:
        return metrics  # ROC AUC is undefined with one class
    if len(labels) == 2:
        column = proba[:, sorted(labels).index(pos_label)]
        metrics["roc_auc"] = m.roc_auc_score(
            np.asarray(targets) == pos_label, column, sample_weight=sample_weights
        )
        metrics["precision_recall_auc"] = m.average_precision_score(
            targets, column, pos_label=pos_label, sample_weight=sample_weights
        )
    elif average in ("macro", "weighted") and len(present) == len(labels):
        metrics["roc_auc"] = m.roc_auc_score(
            targets, proba, sample_weight=sample_weights, average=average, multi_class="ovr"
        )
    return metrics


def per_class_metrics(targets: Any, predictions: Any, labels: Any, sample_weights: Any) -> Any:
    """MLflow's ``per_class_metrics`` table of a multiclass classifier: each class
    against the rest, as a binary classifier."""
    np = require("numpy", "evaluating a classifier")
    pd = require("pandas", "evaluating a classifier")
    rows = []
    truth, predicted = np.asarray(targets), np.asarray(predictions)
    for label in labels:
        row = {"positive_class": label}
        row.update(
            classifier_metrics(
                (truth == label).astype(int),
                (predicted == label).astype(int),
                None,
                [0, 1],
                pos_label=1,
                sample_weights=sample_weights,
            )
        )
        rows.append(row)
    return pd.DataFrame(rows)


def regressor_metrics(targets: Any, predictions: Any, sample_weights: Any = None) -> dict[str, Any]:
    """MLflow's regressor metrics."""
    m = require("sklearn.metrics", "evaluating a regressor")
    np = require("numpy", "evaluating a regressor")
    truth = np.asarray(targets)
    if sample_weights is not None:
        total = float((truth * np.asarray(sample_weights)).sum())
    else:
        total = float(truth.sum())
    mse = m.mean_squared_error(targets, predictions, sample_weight=sample_weights)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # r2 of one row is NaN, and sklearn says so
        r2 = m.r2_score(targets, predictions, sample_weight=sample_weights)
    metrics = {
        "example_count": len(truth),
        "mean_absolute_error": m.mean_absolute_error(
            targets, predictions, sample_weight=sample_weights
        ),
        "mean_squared_error": mse,
        "root_mean_squared_error": math.sqrt(mse),
        "sum_on_target": total,
        "mean_on_target": total / len(truth),
        "r2_score": r2,
        "max_error": m.max_error(targets, predictions),
        "mean_absolute_percentage_error": m.mean_absolute_percentage_error(
            targets, predictions, sample_weight=sample_weights
        ),
    }
    return {name: number(value) for name, value in metrics.items()}


@dataclass
class MetricInputs:
    """What extra metrics can ask for by parameter name."""

    predictions: Any  # a pandas Series
    targets: Any  # a pandas Series, or None
    features: Any  # a pandas DataFrame
    config: Mapping[str, Any]
    predictions_name: str | None = None
    targets_name: str | None = None


def extra_metric_values(
    extra: Sequence[Any], inputs: MetricInputs, values: dict[str, MetricValue]
) -> dict[str, MetricValue]:
    """Compute the extra metrics into ``values`` (which holds the built-in ones), in an
    order where a metric that names another comes after it; returns ``values``."""
    pending = [as_metric(item) for item in extra]
    mapping = dict(inputs.config.get("col_mapping") or {})
    while pending:
        waiting, missing = [], {}
        for metric in pending:
            arguments = _arguments(metric, inputs, values, mapping, pending)
            if isinstance(arguments, list):
                result = _call(metric, arguments)
                if result is not None:
                    values[metric.key] = result
            else:
                waiting.append(metric)
                missing[metric.name] = arguments.names
        if len(waiting) == len(pending):
            raise InvalidInputError(
                "cannot compute "
                + "; ".join(
                    f"metric {name!r}: nothing gives its parameter(s) {', '.join(params)}"
                    for name, params in missing.items()
                )
                + " (name a feature column, an evaluator_config key or another metric, or "
                "map it with evaluator_config={'col_mapping': {...}})"
            )
        pending = waiting
    return values


@dataclass
class _Missing:
    names: list[str]


def _arguments(
    metric: EvaluationMetric,
    inputs: MetricInputs,
    values: Mapping[str, MetricValue],
    mapping: Mapping[str, Any],
    pending: Sequence[EvaluationMetric],
) -> list[Any] | _Missing:
    pd = require("pandas", "evaluating a model")
    parameters = inspect.signature(metric.eval_fn).parameters
    names = list(parameters)
    if len(names) == 2 and names[0] != "predictions" and names[1] != "targets":
        frame = pd.DataFrame({"prediction": inputs.predictions.copy()})
        if inputs.targets is not None:
            frame["target"] = inputs.targets.to_numpy()
        return [frame, copy.deepcopy(aggregate(values))]
    arguments: list[Any] = []
    missing = []
    others = {m.name for m in pending if m is not metric}
    for name, parameter in parameters.items():
        if parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
            continue
        column = mapping.get(name, name)
        has_default = parameter.default is not parameter.empty
        if column in ("predictions", inputs.predictions_name):
            arguments.append(inputs.predictions.copy())
        elif column in ("targets", inputs.targets_name):
            if inputs.targets is not None:
                arguments.append(inputs.targets.copy())
            elif has_default:
                arguments.append(parameter.default)
            else:
                missing.append(name)
        elif column == "metrics":
            arguments.append(copy.deepcopy(values))
        elif not isinstance(column, str):
            arguments.append(column)
        elif hasattr(inputs.features, "columns") and column in inputs.features.columns:
            arguments.append(inputs.features[column].copy())
        elif column in inputs.config:
            arguments.append(inputs.config[column])
        elif (found := _metric_named(values, column)) is not None:
            arguments.append(found)
        elif column in others:
            missing.append(name)  # computed later; try again then
        elif has_default:
            arguments.append(parameter.default)
        else:
            missing.append(name)
    return _Missing(missing) if missing else arguments


def _metric_named(values: Mapping[str, MetricValue], name: str) -> MetricValue | None:
    for key, value in values.items():
        if key.split("/")[0] == name:
            return value
    return None


def _call(metric: EvaluationMetric, arguments: list[Any]) -> MetricValue | None:
    try:
        result = metric.eval_fn(*arguments)
    except Exception as exc:  # the caller's code: say which metric failed, in one line
        raise InvalidInputError(
            f"extra metric {metric.name!r} failed: {type(exc).__name__}: {exc}"
        ) from exc
    if result is None:
        warnings.warn(f"extra metric {metric.name!r} returned None: not logged", stacklevel=2)
        return None
    if isinstance(result, MetricValue) or _looks_like_metric_value(result):
        return _checked(metric, result)
    try:
        value = number(result)
    except (TypeError, ValueError):
        raise InvalidInputError(
            f"extra metric {metric.name!r} returned {result!r}: expected a number or a MetricValue"
        ) from None
    return MetricValue(aggregate_results={metric.name: value})


def _looks_like_metric_value(result: Any) -> bool:
    return all(hasattr(result, a) for a in ("scores", "justifications", "aggregate_results"))


def _checked(metric: EvaluationMetric, result: Any) -> MetricValue:
    scores, justifications = result.scores, result.justifications
    aggregates = result.aggregate_results
    if scores is not None and not isinstance(scores, list):
        raise InvalidInputError(f"extra metric {metric.name!r}: scores must be a list")
    if justifications is not None and not isinstance(justifications, list):
        raise InvalidInputError(f"extra metric {metric.name!r}: justifications must be a list")
    if aggregates is not None:
        if not isinstance(aggregates, dict):
            raise InvalidInputError(
                f"extra metric {metric.name!r}: aggregate_results must be a dict"
            )
        aggregates = {str(k): (None if v is None else number(v)) for k, v in aggregates.items()}
    return MetricValue(
        None if scores is None else list(scores),
        None if justifications is None else list(justifications),
        aggregates,
    )
