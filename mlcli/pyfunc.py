"""Custom Python models and the generic model interface (MLflow's ``mlflow.pyfunc``).

``PythonModel`` is the base class of custom models; ``save_model``/``log_model`` store
one with its artifacts; ``load_model`` loads any model (custom, scikit-learn, or
written by MLflow) as a ``PyFuncModel``.

Custom models name MLflow's own ``mlflow.pyfunc.model`` as their ``loader_module``, so
that MLflow loads them without mlcli (see :mod:`mlcli.models.flavors.python_function`).
Models mlcli saved before name this module: ``mlflow.pyfunc.load_model`` imports it and
calls ``_load_pyfunc``, which stays for them.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any, Literal

from mlcli.models.environment import CondaEnv, Requirements
from mlcli.models.flavors.python_function import load_for_mlflow
from mlcli.models.log import ModelInfo
from mlcli.models.log import log_model as _log_model
from mlcli.models.mlmodel import Model
from mlcli.models.pyfunc_model import PyFuncModel, load_model
from mlcli.models.python_model import PythonModel, PythonModelContext
from mlcli.models.save import save_model as _save_model
from mlcli.models.signature import ModelSignature

__all__ = [
    "PyFuncModel",
    "PythonModel",
    "PythonModelContext",
    "load_model",
    "log_model",
    "save_model",
]


def save_model(
    path: str | os.PathLike[str],
    python_model: PythonModel,
    artifacts: Mapping[str, str] | None = None,
    *,
    signature: ModelSignature | Literal[False] | None = None,
    input_example: Any = None,
    conda_env: CondaEnv | None = None,
    pip_requirements: Requirements | None = None,
    extra_pip_requirements: Requirements | None = None,
    metadata: Mapping[str, Any] | None = None,
    model_config: Mapping[str, Any] | None = None,
) -> Model:
    """Save a custom model to the directory ``path``; ``artifacts`` maps names to files
    (or folders) copied into the model and handed to ``load_context`` as
    ``context.artifacts[name]``."""
    return _save_model(
        python_model,
        path,
        flavor="python_function",
        signature=signature,
        input_example=input_example,
        conda_env=conda_env,
        pip_requirements=pip_requirements,
        extra_pip_requirements=extra_pip_requirements,
        metadata=metadata,
        artifacts=artifacts,
        model_config=model_config,
    )


def log_model(
    name: str = "model",
    python_model: PythonModel | None = None,
    artifacts: Mapping[str, str] | None = None,
    *,
    signature: ModelSignature | Literal[False] | None = None,
    input_example: Any = None,
    registered_model_name: str | None = None,
    conda_env: CondaEnv | None = None,
    pip_requirements: Requirements | None = None,
    extra_pip_requirements: Requirements | None = None,
    metadata: Mapping[str, Any] | None = None,
    model_config: Mapping[str, Any] | None = None,
    run_id: str | None = None,
) -> ModelInfo:
    """Log a custom model to the active run (or ``run_id``) as ``<artifacts>/<name>``."""
    return _log_model(
        name=name,
        python_model=python_model,
        run_id=run_id,
        registered_model_name=registered_model_name,
        signature=signature,
        input_example=input_example,
        conda_env=conda_env,
        pip_requirements=pip_requirements,
        extra_pip_requirements=extra_pip_requirements,
        metadata=metadata,
        artifacts=artifacts,
        model_config=model_config,
    )


def _load_pyfunc(data_path: str, model_config: Mapping[str, Any] | None = None) -> Any:
    """The entry point of MLflow's loader protocol for mlcli's custom models."""
    return load_for_mlflow(data_path, model_config)
