"""Models: the MLmodel format, flavors, signatures, model URIs and evaluation.

A model is a directory with an ``MLmodel`` YAML file, readable by MLflow and written
by it: ``save_model``/``log_model`` write one, ``load_model`` loads any model as a
:class:`PyFuncModel` whose ``predict`` enforces the model's signature, and
``evaluate`` scores a model on labelled data and logs the metrics to a run. Flavors
have their own modules: ``mlcli.sklearn`` and ``mlcli.pyfunc``.

Nothing here imports pandas, numpy or scikit-learn until a function needs them.
"""

from mlcli.models.enforcement import SchemaWarning, enforce_schema
from mlcli.models.errors import (
    MissingDependencyError,
    ModelPredictionError,
    ModelValidationFailedError,
    SchemaEnforcementError,
    ScoringInputError,
)
from mlcli.models.evaluation import (
    EvaluationArtifact,
    EvaluationMetric,
    EvaluationResult,
    MetricThreshold,
    MetricValue,
    evaluate,
    list_evaluators,
    make_metric,
    validate_evaluation_results,
)
from mlcli.models.from_code import set_model
from mlcli.models.log import ModelInfo, log_model
from mlcli.models.mlmodel import Model
from mlcli.models.model_api import get_model_info, predict
from mlcli.models.pyfunc_model import PyFuncModel, load_model
from mlcli.models.save import save_model
from mlcli.models.signature import (
    ColSpec,
    ModelSignature,
    ParamSchema,
    ParamSpec,
    Schema,
    TensorSpec,
)
from mlcli.models.signature_inference import infer_signature
from mlcli.models.uri import (
    LocalModelUri,
    LoggedModelUri,
    RegistryModelUri,
    RunModelUri,
    parse_model_uri,
    resolve_model_uri,
)

__all__ = [
    "ColSpec",
    "EvaluationArtifact",
    "EvaluationMetric",
    "EvaluationResult",
    "LocalModelUri",
    "LoggedModelUri",
    "MetricThreshold",
    "MetricValue",
    "MissingDependencyError",
    "Model",
    "ModelInfo",
    "ModelPredictionError",
    "ModelSignature",
    "ModelValidationFailedError",
    "ParamSchema",
    "ParamSpec",
    "PyFuncModel",
    "RegistryModelUri",
    "RunModelUri",
    "Schema",
    "SchemaEnforcementError",
    "SchemaWarning",
    "ScoringInputError",
    "TensorSpec",
    "enforce_schema",
    "evaluate",
    "get_model_info",
    "infer_signature",
    "list_evaluators",
    "load_model",
    "log_model",
    "make_metric",
    "parse_model_uri",
    "predict",
    "resolve_model_uri",
    "save_model",
    "set_model",
    "validate_evaluation_results",
]
