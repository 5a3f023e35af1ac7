"""Model evaluation: ``mlcli.evaluate(model_uri, data, targets, model_type=...)``."""

from mlcli.models.evaluation.evaluate import evaluate
from mlcli.models.evaluation.evaluators import EVALUATORS, Evaluator, EvaluatorOutput
from mlcli.models.evaluation.metrics import MODEL_TYPES, EvaluationMetric, make_metric
from mlcli.models.evaluation.result import EvaluationResult, ThresholdOutcome
from mlcli.models.evaluation.thresholds import MetricThreshold, parse_threshold

__all__ = [
    "EVALUATORS",
    "MODEL_TYPES",
    "EvaluationMetric",
    "EvaluationResult",
    "Evaluator",
    "EvaluatorOutput",
    "MetricThreshold",
    "ThresholdOutcome",
    "evaluate",
    "make_metric",
    "parse_threshold",
]
