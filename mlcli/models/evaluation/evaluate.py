"""``evaluate``: score a model on labelled data, log the metrics to a run, check thresholds.

It takes MLflow's arguments (``mlflow.models.evaluate``) and gives MLflow's metric
names and result; ``validation_thresholds``, ``baseline_model``, ``metric_prefix``,
``run_id`` and ``experiment`` are mlcli's own (MLflow 3 validates with
:func:`validate_evaluation_results` instead).
"""

from __future__ import annotations

import contextlib
import io
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mlcli.errors import InvalidInputError
from mlcli.models.errors import ModelValidationFailedError
from mlcli.models.evaluation.custom_artifacts import custom_artifact_files
from mlcli.models.evaluation.datasets import EvaluationData, infer_model_type, split_data
from mlcli.models.evaluation.evaluators import resolve_evaluators
from mlcli.models.evaluation.metrics import (
    MODEL_TYPES,
    EvaluationMetric,
    MetricInputs,
    MetricValue,
    aggregate,
    extra_metric_values,
)
from mlcli.models.evaluation.result import EvaluationArtifact, EvaluationResult
from mlcli.models.evaluation.thresholds import (
    MetricThreshold,
    check_thresholds,
    parse_threshold,
    require_known,
)
from mlcli.models.packages import require
from mlcli.store import normalize_artifact_path

if TYPE_CHECKING:
    from mlcli.models.pyfunc_model import PyFuncModel
    from mlcli.tracking import TrackingClient

Thresholds = Mapping[str, MetricThreshold] | Sequence[str]
EVAL_TABLE = "eval_results_table"
# MLflow's model types that only its LLM evaluators handle
_LLM_TYPES = ("question-answering", "text-summarization", "text", "retriever", "databricks-agent")


def evaluate(
    model: str | os.PathLike[str] | PyFuncModel | Callable[..., Any] | None = None,
    data: Any = None,
    targets: Any = None,
    *,
    model_type: str | None = None,
    predictions: str | None = None,
    dataset_path: str | None = None,
    feature_names: Sequence[str] | None = None,
    evaluators: str | list[str] | None = None,
    evaluator_config: Mapping[str, Any] | None = None,
    extra_metrics: Sequence[EvaluationMetric | Callable[..., Any]] | None = None,
    custom_artifacts: Sequence[Callable[..., Any]] | None = None,
    env_manager: str = "local",
    model_config: Mapping[str, Any] | None = None,
    inference_params: Mapping[str, Any] | None = None,
    model_id: str | None = None,
    validation_thresholds: Thresholds | None = None,
    baseline_model: str | os.PathLike[str] | PyFuncModel | None = None,
    metric_prefix: str = "",
    run_id: str | None = None,
    experiment: str | None = None,
    client: TrackingClient | None = None,
    allow_pickle: bool = False,
) -> EvaluationResult:
    """Evaluate ``model`` on ``data`` against ``targets``, as MLflow's ``evaluate``.

    ``model`` is a model URI or path, a loaded model, a function from features to
    predictions, or None with ``predictions`` naming the column of ``data`` that holds
    them. ``data`` is a DataFrame (``targets`` names its label column), an array
    (``targets`` is the labels), a .csv/.parquet path or an MLflow dataset.
    ``model_type`` is ``"classifier"`` or ``"regressor"``; None computes only
    ``extra_metrics``. ``evaluator_config`` takes MLflow's keys ``pos_label``,
    ``average``, ``label_list``, ``sample_weights``, ``metric_prefix`` and
    ``col_mapping``.

    The metrics are logged (with the prefix) to ``run_id``, else to the active run,
    else to a new run (in ``experiment``) that is ended afterwards. mlcli's
    ``validation_thresholds`` map metric names (without the prefix) to
    :class:`MetricThreshold`, or are expressions such as ``"accuracy_score>=0.9"``;
    with ``baseline_model`` the bounds that compare are checked against it. If any
    fails, :class:`ModelValidationFailedError` is raised after logging, carrying the
    result. ``allow_pickle`` is :func:`load_model`'s, for models given as URIs.
    """
    _refuse_unsupported(env_manager, model_config, inference_params)
    del dataset_path, model_id  # lineage MLflow records; mlcli's runs record their inputs
    config = dict(evaluator_config or {})
    chosen = resolve_evaluators(evaluators, _model_type(model_type, extra_metrics), config)
    flat = _flat_config(chosen)
    if isinstance(targets, str):
        targets = (flat.get("col_mapping") or {}).get(targets, targets)
    split = split_data(
        data,
        targets,
        feature_names,
        predictions if model is None else None,
        targets_required=model_type is not None or not extra_metrics,
    )
    if model is None and split.predictions is None:
        raise InvalidInputError(
            "evaluation without a model needs predictions=..., the column of the data "
            "holding the model's outputs"
        )
    if model_type is None and split.targets is not None and not extra_metrics:
        model_type = infer_model_type(split.targets)
    model_type = _model_type(model_type, extra_metrics)
    thresholds = _thresholds(validation_thresholds)
    prefix = metric_prefix or str(flat.get("metric_prefix") or "")
    output_column = predictions if model is not None else None
    candidate = _score(
        _loaded(model, client, allow_pickle),
        chosen,
        split,
        model_type,
        extra_metrics,
        output_column,
    )
    baseline = None
    if baseline_model is not None:
        baseline = _score(
            _loaded(baseline_model, client, allow_pickle),
            chosen,
            split,
            model_type,
            extra_metrics,
            output_column,
        ).metrics
    require_known(thresholds, candidate.metrics, baseline is not None)
    validation = check_thresholds(thresholds, candidate.metrics, baseline)
    custom = {}
    if custom_artifacts:
        custom = custom_artifact_files(
            custom_artifacts, candidate.predictions, split.targets, candidate.values
        )
    client = client or _default_client()
    with _evaluation_run(client, run_id, experiment) as target_run:
        artifacts, tables = _log(client, target_run, prefix, candidate, split, predictions, custom)
    result = EvaluationResult(
        target_run,
        model_type,
        {prefix + name: value for name, value in candidate.metrics.items()},
        artifacts,
        baseline,
        validation,
        prefix,
        tables,
    )
    if not result.passed:
        raise ModelValidationFailedError(result)
    return result


@dataclass
class _Scored:
    values: dict[str, MetricValue]
    artifacts: dict[str, tuple[str, bytes]]
    predictions: Any

    @property
    def metrics(self) -> dict[str, Any]:
        return aggregate(self.values)


def _score(
    model: Any,
    evaluators: list[Any],
    split: EvaluationData,
    model_type: str | None,
    extra: Sequence[Any] | None,
    output_column: str | None,
) -> _Scored:
    pd = require("pandas", "evaluating a model")
    values: dict[str, MetricValue] = {}
    artifacts: dict[str, tuple[str, bytes]] = {}
    predictions = None if split.predictions is None else pd.Series(split.predictions)
    config: dict[str, Any] = {}
    for evaluator, own in evaluators:
        config.update(own)
        output = evaluator.evaluate(
            model=model,
            features=split.features,
            targets=split.targets,
            model_type=model_type,
            config={**own, "predictions": output_column},
            predictions=predictions,
        )
        values.update(output.metrics)
        artifacts.update(output.artifacts)
        predictions = output.predictions if output.predictions is not None else predictions
    if extra:
        inputs = MetricInputs(
            predictions=predictions,
            targets=None if split.targets is None else pd.Series(split.targets),
            features=split.features,
            config=config,
            predictions_name=split.predictions_name or output_column,
            targets_name=split.targets_name,
        )
        extra_metric_values(list(extra), inputs, values)
    return _Scored(values, artifacts, predictions)


def _model_type(model_type: str | None, extra: Sequence[Any] | None) -> str | None:
    if model_type in _LLM_TYPES:
        raise InvalidInputError(
            f"model type {model_type!r} is one of MLflow's LLM evaluations, which mlcli does "
            f"not have: expected one of {', '.join(MODEL_TYPES)}"
        )
    if model_type is not None and model_type not in MODEL_TYPES:
        raise InvalidInputError(
            f"invalid model type {model_type!r}: expected one of {', '.join(MODEL_TYPES)}"
        )
    return model_type


def _refuse_unsupported(env_manager: str, model_config: Any, inference_params: Any) -> None:
    if env_manager != "local":
        raise InvalidInputError(
            f"env_manager={env_manager!r}: mlcli's evaluate loads the model in this "
            "environment only ('local')"
        )
    if model_config:
        raise InvalidInputError("model_config is not supported by mlcli's evaluate")
    if inference_params is not None:
        raise InvalidInputError(
            "inference_params is only for MLflow Deployments endpoints, which mlcli does not "
            "evaluate"
        )


def _flat_config(chosen: list[Any]) -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for _, own in chosen:
        flat.update(own)
    return flat


def _thresholds(given: Thresholds | None) -> dict[str, MetricThreshold]:
    if given is None:
        return {}
    if isinstance(given, Mapping):
        for name, threshold in given.items():
            if not isinstance(threshold, MetricThreshold):
                raise InvalidInputError(
                    f"the threshold of {name!r} is a {type(threshold).__name__}: expected a "
                    "MetricThreshold"
                )
        return dict(given)
    if isinstance(given, str):
        given = [given]
    return dict(parse_threshold(expression) for expression in given)


class _FunctionModel:
    """A function from features to predictions, used as a model (MLflow accepts one)."""

    def __init__(self, function: Callable[[Any], Any]) -> None:
        self.function = function

    def predict(self, data: Any) -> Any:
        return self.function(data)


def _loaded(model: Any, client: TrackingClient | None, allow_pickle: bool) -> Any:
    if model is None:
        return None
    if isinstance(model, str | os.PathLike):
        from mlcli.models.pyfunc_model import load_model

        return load_model(str(model), client=client, allow_pickle=allow_pickle)
    if callable(getattr(model, "predict", None)):
        return model  # a loaded model: mlcli's PyFuncModel, or MLflow's
    if callable(model):
        return _FunctionModel(model)
    raise InvalidInputError(
        f"cannot evaluate a {type(model).__name__}: expected a model URI, a loaded model, "
        "a function or None"
    )


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
    scored: _Scored,
    split: EvaluationData,
    predictions: str | None,
    custom: dict[str, tuple[str, bytes]],
) -> tuple[dict[str, EvaluationArtifact], dict[str, Callable[[], Any]]]:
    metrics = scored.metrics
    client.log_batch(
        run_id, metrics=[(prefix + key, float(value)) for key, value in metrics.items()]
    )
    files = dict(scored.artifacts)
    table = _eval_table(scored, split, predictions, prefix)
    if table is not None:
        files[EVAL_TABLE] = (
            f"{EVAL_TABLE}.json",
            table.to_json(orient="split", index=False, date_format="iso").encode(),
        )
    repo = client.store.artifacts(run_id)
    root = client.get_run(run_id).info.artifact_uri.rstrip("/")
    logged = {}
    for name, (file_name, content) in files.items():
        path = normalize_artifact_path(prefix + file_name)
        repo.write_bytes(path, content)
        logged[name] = EvaluationArtifact(f"{root}/{path}", path, content)
    for name, (file_name, content) in custom.items():  # MLflow logs these without the prefix
        path = normalize_artifact_path(file_name)
        repo.write_bytes(path, content)
        logged[name] = EvaluationArtifact(f"{root}/{path}", path, content)
    tables = {}
    if table is not None:
        tables[EVAL_TABLE] = _table_loader(files[EVAL_TABLE][1])
    return logged, tables


def _table_loader(content: bytes) -> Callable[[], Any]:
    def load() -> Any:
        pd = require("pandas", "reading a table")
        return pd.read_json(io.BytesIO(content), orient="split", dtype=False)

    return load


def _eval_table(
    scored: _Scored, split: EvaluationData, predictions: str | None, prefix: str
) -> Any:
    """MLflow's per-row table: the features, the targets, the outputs and each per-row
    score (``name/score``) and justification, when some metric gave them."""
    rows = {
        name: value
        for name, value in scored.values.items()
        if value.scores is not None or value.justifications is not None
    }
    if not rows:
        return None
    table = split.features.reset_index(drop=True).copy()
    outputs = split.predictions_name or predictions or "outputs"
    if split.targets is not None:
        table[split.targets_name or "target"] = split.targets
    table[outputs] = list(scored.predictions)
    for name, value in rows.items():
        if value.scores:
            table[f"{prefix}{name}/score"] = value.scores
        if value.justifications:
            table[f"{prefix}{name}/justification"] = value.justifications
    return table
