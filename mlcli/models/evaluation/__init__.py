"""Model evaluation, as MLflow's: ``evaluate(model, data, targets=..., model_type=...)``,
``make_metric``, ``MetricThreshold`` and ``validate_evaluation_results``."""

from mlcli.models.errors import ModelValidationFailedError
from mlcli.models.evaluation.evaluate import evaluate
from mlcli.models.evaluation.evaluators import EVALUATORS, Evaluator, EvaluatorOutput
from mlcli.models.evaluation.metrics import (
    MODEL_TYPES,
    EvaluationMetric,
    MetricValue,
    make_metric,
)
from mlcli.models.evaluation.result import EvaluationArtifact, EvaluationResult, ThresholdOutcome
from mlcli.models.evaluation.thresholds import (
    MetricThreshold,
    parse_threshold,
    validate_evaluation_results,
)

# MLflow's name of the error a failed validation raises
ModelValidationFailedException = ModelValidationFailedError


def list_evaluators() -> list[str]:
    """The evaluators ``evaluate(evaluators=...)`` can name."""
    return list(EVALUATORS)


__all__ = [
    "EVALUATORS",
    "MODEL_TYPES",
    "EvaluationArtifact",
    "EvaluationMetric",
    "EvaluationResult",
    "Evaluator",
    "EvaluatorOutput",
    "MetricThreshold",
    "MetricValue",
    "ModelValidationFailedException",
    "ThresholdOutcome",
    "evaluate",
    "list_evaluators",
    "make_metric",
    "parse_threshold",
    "validate_evaluation_results",
]
