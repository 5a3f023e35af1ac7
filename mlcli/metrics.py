"""MLflow's ``mlflow.metrics`` for evaluation: ``MetricValue`` (what a metric function
returns: per-row ``scores``, ``justifications`` and ``aggregate_results``),
``make_metric`` and ``EvaluationMetric``. See ``mlcli.models.evaluate``."""

from mlcli.models.evaluation.metrics import EvaluationMetric, MetricValue, make_metric

__all__ = ["EvaluationMetric", "MetricValue", "make_metric"]
