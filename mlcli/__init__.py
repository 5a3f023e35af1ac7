"""mlcli: the machine-learning lifecycle as a git-style command line, and a small library.

The fluent tracking API is re-exported here and imported on first use, so that
``import mlcli`` (and the CLI's start-up) stays cheap::

    import mlcli

    with mlcli.start_run(experiment="demo"):
        mlcli.log_param("lr", 0.1)
        mlcli.log_metric("loss", 0.5, step=1)
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from mlcli.version import __version__

_FLUENT = (
    "ActiveRun",
    "active_run",
    "create_experiment",
    "delete_experiment",
    "get_experiment",
    "get_experiment_by_name",
    "search_experiments",
    "set_experiment_tag",
    "set_experiment_tags",
    "delete_run",
    "delete_tag",
    "end_run",
    "flush",
    "get_artifact_uri",
    "get_metric_history",
    "get_parent_run",
    "get_registry_uri",
    "get_run",
    "get_tracking_uri",
    "last_active_run",
    "last_active_run_id",
    "list_artifacts",
    "log_artifact",
    "log_artifacts",
    "log_dict",
    "log_figure",
    "log_image",
    "log_input",
    "log_metric",
    "log_metrics",
    "log_param",
    "log_params",
    "log_table",
    "log_text",
    "search_runs",
    "set_experiment",
    "set_registry_uri",
    "set_tag",
    "set_tags",
    "set_tracking_uri",
    "start_run",
)
_LAZY: dict[str, str] = {name: "mlcli.fluent" for name in _FLUENT}
_LAZY.update(
    {
        "MlcliClient": "mlcli.client",
        "MlflowClient": "mlcli.tracking",  # MLflow's `from mlflow import MlflowClient`
        "register_model": "mlcli.client",
        "TrackingClient": "mlcli.tracking",
        "MlcliError": "mlcli.errors",
        "MlflowException": "mlcli.exceptions",  # MLflow's mlflow.MlflowException
        "autolog": "mlcli.autologging",
        "evaluate": "mlcli.models.evaluation",
        "validate_evaluation_results": "mlcli.models.evaluation",
        "log_model": "mlcli.models.log",
        "get_logged_model": "mlcli.models.logged",  # MLflow 3's logged models
        "last_logged_model": "mlcli.models.logged",
        "search_logged_models": "mlcli.models.logged",
        "set_logged_model_tags": "mlcli.models.logged",
        "run": "mlcli.projects.api",  # MLflow's mlflow.run (mlflow.projects.run)
    }
)

__all__ = ["__version__", *sorted(_LAZY)]

if TYPE_CHECKING:
    from mlcli.autologging import autolog
    from mlcli.client import MlcliClient, register_model
    from mlcli.errors import MlcliError
    from mlcli.exceptions import MlflowException
    from mlcli.fluent import (
        ActiveRun,
        active_run,
        create_experiment,
        delete_experiment,
        delete_run,
        delete_tag,
        end_run,
        flush,
        get_artifact_uri,
        get_experiment,
        get_experiment_by_name,
        get_metric_history,
        get_parent_run,
        get_registry_uri,
        get_run,
        get_tracking_uri,
        last_active_run,
        last_active_run_id,
        list_artifacts,
        log_artifact,
        log_artifacts,
        log_dict,
        log_figure,
        log_image,
        log_input,
        log_metric,
        log_metrics,
        log_param,
        log_params,
        log_table,
        log_text,
        search_experiments,
        search_runs,
        set_experiment,
        set_experiment_tag,
        set_experiment_tags,
        set_registry_uri,
        set_tag,
        set_tags,
        set_tracking_uri,
        start_run,
    )
    from mlcli.models.evaluation.evaluate import evaluate  # the function, not its module
    from mlcli.models.evaluation.thresholds import validate_evaluation_results
    from mlcli.models.log import log_model
    from mlcli.models.logged import (
        get_logged_model,
        last_logged_model,
        search_logged_models,
        set_logged_model_tags,
    )
    from mlcli.projects.api import run
    from mlcli.tracking import MlflowClient, TrackingClient


# Modules reached as attributes, as MLflow's are (``mlflow.artifacts.load_text``)
_SUBMODULES = (
    "artifacts",
    "data",
    "entities",
    "exceptions",
    "keras",
    "lightgbm",
    "metrics",
    "models",
    "onnx",
    "projects",
    "pyfunc",
    "pytorch",
    "sklearn",
    "tracking",
    "types",
    "xgboost",
)


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        return import_module(f"mlcli.{name}")  # the import binds it in this package
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'mlcli' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
