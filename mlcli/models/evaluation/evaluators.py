"""Evaluators: what computes metrics and artifacts for a model type, by name.

``default`` computes the standard metrics (``metrics.py``) and, for classifiers, the
confusion matrix. Another evaluator subclasses :class:`Evaluator` and is added to
:data:`EVALUATORS`.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, ClassVar

from mlcli.errors import InvalidInputError
from mlcli.models.evaluation import confusion
from mlcli.models.evaluation.metrics import classifier_metrics, regressor_metrics
from mlcli.models.packages import require

if TYPE_CHECKING:
    from mlcli.models.pyfunc_model import PyFuncModel


@dataclass
class EvaluatorOutput:
    metrics: dict[str, float]
    artifacts: dict[str, bytes] = field(default_factory=dict)  # file name -> content
    predictions: Any = None


class Evaluator(ABC):
    name: ClassVar[str]

    @abstractmethod
    def can_evaluate(self, *, model_type: str) -> bool: ...

    @abstractmethod
    def evaluate(
        self, *, model: PyFuncModel, features: Any, targets: Any, model_type: str
    ) -> EvaluatorOutput: ...


class DefaultEvaluator(Evaluator):
    name: ClassVar[str] = "default"

    def can_evaluate(self, *, model_type: str) -> bool:
        return model_type in ("classifier", "regressor")

    def evaluate(
        self, *, model: PyFuncModel, features: Any, targets: Any, model_type: str
    ) -> EvaluatorOutput:
        predictions = flat_predictions(model.predict(features))
        if model_type == "regressor":
            return EvaluatorOutput(regressor_metrics(targets, predictions), predictions=predictions)
        probabilities = model.predict_proba(features)
        metrics = classifier_metrics(targets, predictions, probabilities, model.classes)
        labels, matrix = confusion.confusion_matrix(targets, predictions)
        image_name, image = confusion.render(labels, matrix)
        document = {"labels": labels, "matrix": matrix}
        artifacts = {
            confusion.JSON_FILE: json.dumps(document, indent=2, default=str).encode(),
            image_name: image,
        }
        return EvaluatorOutput(metrics, artifacts, predictions)


EVALUATORS: MappingProxyType[str, Evaluator] = MappingProxyType({"default": DefaultEvaluator()})


def resolve_evaluators(names: str | list[str] | None, model_type: str) -> list[Evaluator]:
    chosen = []
    for name in [names] if isinstance(names, str) else names or ["default"]:
        evaluator = EVALUATORS.get(name)
        if evaluator is None:
            raise InvalidInputError(
                f"unknown evaluator {name!r}: expected one of {', '.join(EVALUATORS)}"
            )
        if not evaluator.can_evaluate(model_type=model_type):
            raise InvalidInputError(f"evaluator {name!r} cannot evaluate a {model_type}")
        chosen.append(evaluator)
    return chosen


def flat_predictions(predictions: Any) -> Any:
    """One prediction per row, whether the model returned a list, an array, a Series or
    a one-column DataFrame."""
    np = require("numpy", "evaluating a model")
    if hasattr(predictions, "columns"):
        if len(predictions.columns) != 1:
            raise InvalidInputError(
                f"the model returned {len(predictions.columns)} columns; evaluation needs one "
                "prediction per row"
            )
        predictions = predictions.iloc[:, 0]
    array = np.asarray(predictions)
    if array.ndim == 2 and array.shape[1] == 1:
        array = array[:, 0]
    if array.ndim != 1:
        raise InvalidInputError(
            f"the model returned predictions of shape {array.shape}; evaluation needs one "
            "prediction per row"
        )
    return array
