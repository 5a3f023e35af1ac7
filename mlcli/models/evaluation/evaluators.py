"""Evaluators: what computes metrics and artifacts for a model type, by name.

``default`` computes MLflow's built-in metrics of classifiers and regressors
(``metrics.py``) and, for classifiers, the confusion matrix (and a multiclass
classifier's ``per_class_metrics`` table). MLflow's names of its built-in evaluators,
``classifier`` and ``regressor``, name it too. Another evaluator subclasses
:class:`Evaluator` and is added to :data:`EVALUATORS`.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, ClassVar

from mlcli.errors import InvalidInputError
from mlcli.models.evaluation import confusion
from mlcli.models.evaluation.metrics import (
    MetricValue,
    classifier_metrics,
    number,
    per_class_metrics,
    regressor_metrics,
    single,
)
from mlcli.models.packages import require


@dataclass
class EvaluatorOutput:
    """``metrics`` by name; ``artifacts`` by MLflow's artifact name to ``(file name,
    content)``; ``predictions`` one per row (what extra metrics are given)."""

    metrics: dict[str, MetricValue]
    artifacts: dict[str, tuple[str, bytes]] = field(default_factory=dict)
    predictions: Any = None


class Evaluator(ABC):
    name: ClassVar[str]

    @abstractmethod
    def can_evaluate(self, *, model_type: str | None) -> bool: ...

    @abstractmethod
    def evaluate(
        self,
        *,
        model: Any,
        features: Any,
        targets: Any,
        model_type: str | None,
        config: Mapping[str, Any],
        predictions: Any = None,
    ) -> EvaluatorOutput:
        """``model`` is a loaded model, or None when ``predictions`` (one per row) are
        given instead."""


class DefaultEvaluator(Evaluator):
    name: ClassVar[str] = "default"

    def can_evaluate(self, *, model_type: str | None) -> bool:
        return model_type in ("classifier", "regressor", None)

    def evaluate(
        self,
        *,
        model: Any,
        features: Any,
        targets: Any,
        model_type: str | None,
        config: Mapping[str, Any],
        predictions: Any = None,
    ) -> EvaluatorOutput:
        if predictions is None:
            predictions = flat_predictions(model.predict(features), config.get("predictions"))
        weights = config.get("sample_weights")
        values: dict[str, MetricValue] = {}
        if model_type is None:  # only the extra metrics, as MLflow's default evaluator
            return EvaluatorOutput(values, predictions=predictions)
        score = _estimator_score(model, features, targets, weights)
        if score is not None:
            values["score"] = MetricValue(aggregate_results={"score": score})
        if model_type == "regressor":
            values.update(single(regressor_metrics(targets, predictions, weights)))
            return EvaluatorOutput(values, predictions=predictions)
        return self._classifier(model, features, targets, predictions, config, values)

    def _classifier(
        self,
        model: Any,
        features: Any,
        targets: Any,
        predictions: Any,
        config: Mapping[str, Any],
        values: dict[str, MetricValue],
    ) -> EvaluatorOutput:
        labels = _labels(targets, predictions, config.get("label_list"))
        pos_label = config.get("pos_label")
        if len(labels) == 2:
            pos_label = labels[-1] if pos_label is None else pos_label
            if pos_label not in labels:
                raise InvalidInputError(
                    f"pos_label {pos_label!r} is not one of the labels {labels}"
                )
            labels = [label for label in labels if label != pos_label] + [pos_label]
        probabilities = None
        if model is not None and hasattr(model, "predict_proba"):
            probabilities = model.predict_proba(features)
        weights = config.get("sample_weights")
        values.update(
            single(
                classifier_metrics(
                    targets,
                    predictions,
                    probabilities,
                    labels,
                    pos_label=pos_label,
                    average=config.get("average", "weighted"),
                    sample_weights=weights,
                )
            )
        )
        shown, matrix = confusion.confusion_matrix(targets, predictions)
        image_name, image = confusion.render(shown, matrix)
        document = {"labels": shown, "matrix": matrix}
        artifacts = {
            "confusion_matrix": (image_name, image),
            "confusion_matrix_data": (
                confusion.JSON_FILE,
                json.dumps(document, indent=2, default=str).encode(),
            ),
        }
        if len(labels) > 2:
            table = per_class_metrics(targets, predictions, labels, weights)
            artifacts["per_class_metrics"] = (
                "per_class_metrics.csv",
                table.to_csv(index=False).encode(),
            )
        return EvaluatorOutput(values, artifacts, predictions)


EVALUATORS: MappingProxyType[str, Evaluator] = MappingProxyType({"default": DefaultEvaluator()})
# MLflow's names of its built-in evaluators: mlcli's default evaluator does their work
_ALIASES = {"classifier": "default", "regressor": "default"}


def resolve_evaluators(
    names: str | list[str] | None,
    model_type: str | None,
    config: Mapping[str, Any] | None = None,
) -> list[tuple[Evaluator, dict[str, Any]]]:
    """The evaluators to run, each with its configuration. ``config`` is one mapping
    for every evaluator, or (as in MLflow) a mapping from evaluator names to theirs."""
    wanted = [names] if isinstance(names, str) else list(names or ["default"])
    config = dict(config or {})
    known = set(EVALUATORS) | set(_ALIASES) | {"shap"}
    nested = bool(config) and all(
        key in known and isinstance(value, Mapping) for key, value in config.items()
    )
    chosen: dict[str, tuple[Evaluator, dict[str, Any]]] = {}
    for name in wanted:
        if name == "shap":
            continue  # MLflow's explainability evaluator: mlcli does not compute SHAP values
        key = _ALIASES.get(name, name)
        evaluator = EVALUATORS.get(key)
        if evaluator is None:
            raise InvalidInputError(
                f"unknown evaluator {name!r}: expected one of "
                + ", ".join([*EVALUATORS, *_ALIASES])
            )
        if not evaluator.can_evaluate(model_type=model_type):
            raise InvalidInputError(f"evaluator {name!r} cannot evaluate a {model_type}")
        own = dict(config.get(name) or {}) if nested else config
        if key in chosen:
            chosen[key][1].update(own)
        else:
            chosen[key] = (evaluator, dict(own))
    if not chosen:
        raise InvalidInputError(
            "no evaluator can evaluate this model: name 'default' in evaluators"
        )
    return list(chosen.values())


def _labels(targets: Any, predictions: Any, given: Any) -> list[Any]:
    np = require("numpy", "evaluating a classifier")
    if given is not None:
        labels = sorted(np.asarray(given).tolist())
    else:
        seen = np.unique(np.concatenate([np.asarray(targets), np.asarray(predictions)]))
        labels = seen.tolist()
    if len(labels) < 2:
        raise InvalidInputError(
            "evaluating a classifier needs at least two labels, but the targets and "
            f"predictions hold {len(labels)}; name them all with "
            "evaluator_config={'label_list': [...]}"
        )
    return labels


def _estimator_score(model: Any, features: Any, targets: Any, weights: Any) -> Any:
    """The scikit-learn estimator's own ``score`` (MLflow logs it as ``score``)."""
    if model is None or targets is None:
        return None
    flavors = getattr(getattr(model, "metadata", None), "flavors", None) or {}
    if "sklearn" not in flavors:
        return None
    raw = model.get_raw_model() if hasattr(model, "get_raw_model") else None
    scorer = getattr(raw, "score", None)
    if scorer is None:
        return None
    try:
        return number(scorer(features, targets, sample_weight=weights))
    except Exception:  # MLflow only warns when the estimator cannot score
        return None


def flat_predictions(predictions: Any, column: str | None = None) -> Any:
    """One prediction per row, as a pandas Series, whether the model returned a list,
    an array, a Series, a dict or a DataFrame (``column`` picks one of several)."""
    np = require("numpy", "evaluating a model")
    pd = require("pandas", "evaluating a model")
    if isinstance(predictions, dict):  # named outputs (ONNX's); one value per row each
        arrays = {k: np.asarray(v) for k, v in predictions.items()}
        predictions = pd.DataFrame(
            {k: a.reshape(-1) for k, a in arrays.items() if a.ndim == 1 or a.shape[1:] == (1,)}
        )
    if (
        isinstance(predictions, list)
        and predictions
        and all(isinstance(p, dict) for p in predictions)
    ):
        predictions = pd.DataFrame(predictions)
    if isinstance(predictions, pd.DataFrame):
        if column is not None and column in predictions.columns:
            predictions = predictions[column]
        elif len(predictions.columns) == 1:
            predictions = predictions.iloc[:, 0]
        else:
            raise InvalidInputError(
                f"the model returned {len(predictions.columns)} columns "
                f"({', '.join(map(str, predictions.columns))}); name the one to evaluate "
                "with predictions=..."
            )
    if isinstance(predictions, pd.Series):
        return predictions.reset_index(drop=True)
    array = np.asarray(predictions)
    if array.ndim == 2 and array.shape[1] == 1:
        array = array[:, 0]
    if array.ndim != 1:
        raise InvalidInputError(
            f"the model returned predictions of shape {array.shape}; evaluation needs one "
            "prediction per row"
        )
    return pd.Series(array)
