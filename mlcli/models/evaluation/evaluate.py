"""``evaluate``: score a model on labelled data, log the metrics to a run, check thresholds."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from mlcli.errors import InvalidInputError
from mlcli.models.errors import ModelValidationFailedError
from mlcli.models.evaluation.datasets import infer_model_type, split_data
from mlcli.models.evaluation.evaluators import resolve_evaluators
from mlcli.models.evaluation.metrics import MODEL_TYPES, EvaluationMetric, extra_metric_values
from mlcli.models.evaluation.result import EvaluationResult
from mlcli.models.evaluation.thresholds import MetricThreshold, check_thresholds, parse_threshold
from mlcli.store import normalize_artifact_path

if TYPE_CHECKING:
    from mlcli.models.pyfunc_model import PyFuncModel
    from mlcli.tracking import TrackingClient

Thresholds = Mapping[str, MetricThreshold] | Sequence[str]


def evaluate(
    model: str | PyFuncModel,
    data: Any,
    targets: Any = None,
    *,
    model_type: str | None = None,
    evaluators: str | list[str] | None = None,
    extra_metrics: Sequence[EvaluationMetric | Callable[..., float]] | None = None,
    validation_thresholds: Thresholds | None = None,
    baseline_model: str | PyFuncModel | None = None,
    metric_prefix: str = "",
    feature_names: Sequence[str] | None = None,
    run_id: str | None = None,
    experiment: str | None = None,
    client: TrackingClient | None = None,
    allow_pickle: bool = False,
) -> EvaluationResult:
    """Evaluate ``model`` (a URI or a loaded model) on ``data`` (a DataFrame, an array,
    or a .csv/.parquet path) against ``targets`` (a column of ``data``, or the labels).

    The metrics are logged, with ``metric_prefix``, to ``run_id``, else to the active
    run, else to a new run (in ``experiment``) that is ended afterwards. Thresholds map
    metric names to :class:`MetricThreshold`, or are expressions such as
    ``"accuracy>=0.9"``; if any fails, :class:`ModelValidationFailedError` is raised
    after logging, carrying the result. ``model_type`` defaults to regressor for float
    targets and classifier otherwise. ``allow_pickle`` is :func:`load_model`'s, for both
    models given as URIs.
    """
    features, labels = split_data(data, targets, feature_names)
    model_type = model_type or infer_model_type(labels)
    if model_type not in MODEL_TYPES:
        raise InvalidInputError(
            f"invalid model type {model_type!r}: expected one of {', '.join(MODEL_TYPES)}"
        )
    thresholds = _thresholds(validation_thresholds)
    chosen = resolve_evaluators(evaluators, model_type)
    metrics, artifacts = _score(
        _loaded(model, client, allow_pickle), chosen, features, labels, model_type, extra_metrics
    )
    baseline = None
    if baseline_model is not None:
        baseline, _ = _score(
            _loaded(baseline_model, client, allow_pickle),
            chosen,
            features,
            labels,
            model_type,
            extra_metrics,
        )
    validation = check_thresholds(thresholds, metrics, baseline)
    client = client or _default_client()
    with _evaluation_run(client, run_id, experiment) as target_run:
        logged = _log(client, target_run, metric_prefix, metrics, artifacts)
    result = EvaluationResult(
        target_run, model_type, metrics, logged, baseline, validation, metric_prefix
    )
    if not result.passed:
        raise ModelValidationFailedError(result)
    return result


def _score(
    model: PyFuncModel,
    evaluators: list[Any],
    features: Any,
    labels: Any,
    model_type: str,
    extra: Sequence[EvaluationMetric | Callable[..., float]] | None,
) -> tuple[dict[str, float], dict[str, bytes]]:
    metrics: dict[str, float] = {}
    artifacts: dict[str, bytes] = {}
    predictions = None
    for evaluator in evaluators:
        output = evaluator.evaluate(
            model=model, features=features, targets=labels, model_type=model_type
        )
        metrics.update(output.metrics)
        artifacts.update(output.artifacts)
        predictions = output.predictions if output.predictions is not None else predictions
    if extra:
        metrics.update(extra_metric_values(list(extra), predictions, labels))
    return metrics, artifacts


def _thresholds(given: Thresholds | None) -> dict[str, MetricThreshold]:
    if given is None:
        return {}
    if isinstance(given, Mapping):
        return dict(given)
    if isinstance(given, str):
        given = [given]
    return dict(parse_threshold(expression) for expression in given)


def _loaded(
    model: str | os.PathLike[str] | PyFuncModel, client: TrackingClient | None, allow_pickle: bool
) -> Any:
    from mlcli.models.pyfunc_model import PyFuncModel, load_model

    if isinstance(model, PyFuncModel):
        return model
    return load_model(str(model), client=client, allow_pickle=allow_pickle)


def _default_client() -> TrackingClient:
    from mlcli.tracking import TrackingClient

    return TrackingClient()


@contextlib.contextmanager
def _evaluation_run(
    client: TrackingClient, run_id: str | None, experiment: str | None
) -> Iterator[str]:
    from mlcli import fluent

    if run_id is not None:
        yield client.resolve_run_id(run_id)
        return
    active = fluent.active_run()
    if active is not None:
        yield active.run_id
        return
    experiment_id = None
    if experiment:
        experiment_id = client.get_or_create_experiment(experiment).experiment_id
    from mlcli.store import this_process

    run = client.create_run(experiment_id, owner=this_process())  # ended below, or if killed
    status = "FAILED"
    try:
        yield run.run_id
        status = "FINISHED"
    finally:
        client.set_terminated(run.run_id, status)


def _log(
    client: TrackingClient,
    run_id: str,
    prefix: str,
    metrics: dict[str, float],
    artifacts: dict[str, bytes],
) -> dict[str, str]:
    client.log_batch(run_id, metrics=[(prefix + key, value) for key, value in metrics.items()])
    repo = client.store.artifacts(run_id)
    logged = {}
    for name, content in artifacts.items():
        path = normalize_artifact_path(prefix + name)
        repo.write_bytes(path, content)
        logged[name] = path
    return logged
