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
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from mlcli.errors import InvalidInputError
from mlcli.models.environment import CondaEnv, Requirements
from mlcli.models.flavors.python_function import load_for_mlflow
from mlcli.models.from_code import set_model
from mlcli.models.log import ModelInfo
from mlcli.models.log import log_model as _log_model
from mlcli.models.mlmodel import Model
from mlcli.models.model_api import get_model_dependencies
from mlcli.models.pyfunc_model import PyFuncModel, load_model
from mlcli.models.python_model import PythonModel, PythonModelContext
from mlcli.models.save import save_model as _save_model
from mlcli.models.signature import ModelSignature

__all__ = [
    "PyFuncModel",
    "PythonModel",
    "PythonModelContext",
    "get_model_dependencies",
    "load_model",
    "log_model",
    "save_model",
    "set_model",
]


def save_model(
    path: str | os.PathLike[str],
    python_model: PythonModel | str | os.PathLike[str] | None = None,
    artifacts: Mapping[str, str] | None = None,
    *,
    code_paths: Sequence[str | os.PathLike[str]] | None = None,
    signature: ModelSignature | Literal[False] | None = None,
    input_example: Any = None,
    conda_env: CondaEnv | None = None,
    pip_requirements: Requirements | None = None,
    extra_pip_requirements: Requirements | None = None,
    metadata: Mapping[str, Any] | None = None,
    model_config: Mapping[str, Any] | str | os.PathLike[str] | None = None,
) -> Model:
    """Save a custom model to the directory ``path``: a PythonModel instance, or the path
    of a Python file that calls ``mlcli.models.set_model`` (a model from code).
    ``artifacts`` maps names to files (or folders) copied into the model and handed to
    ``load_context`` as ``context.artifacts[name]``; ``code_paths`` are copied into its
    ``code/`` folder, on ``sys.path`` when it loads."""
    return _save_model(
        _required(python_model),
        path,
        flavor="python_function",
        code_paths=code_paths,
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
    name: str | None = None,
    python_model: PythonModel | str | os.PathLike[str] | None = None,
    artifacts: Mapping[str, str] | None = None,
    *,
    artifact_path: str | None = None,
    code_paths: Sequence[str | os.PathLike[str]] | None = None,
    signature: ModelSignature | Literal[False] | None = None,
    input_example: Any = None,
    registered_model_name: str | None = None,
    conda_env: CondaEnv | None = None,
    pip_requirements: Requirements | None = None,
    extra_pip_requirements: Requirements | None = None,
    metadata: Mapping[str, Any] | None = None,
    model_config: Mapping[str, Any] | str | os.PathLike[str] | None = None,
    run_id: str | None = None,
) -> ModelInfo:
    """Log a custom model (as :func:`save_model` takes it) to the active run (or
    ``run_id``) as ``<artifacts>/<name>``; ``artifact_path`` is MLflow's deprecated
    name of ``name``."""
    return _log_model(
        name=name,
        artifact_path=artifact_path,
        python_model=_required(python_model),
        code_paths=code_paths,
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


def _required(python_model: Any) -> Any:
    if python_model is None:
        raise InvalidInputError(
            "python_model is required: a PythonModel instance or the path of its code file"
        )
    return python_model


def _load_pyfunc(data_path: str, model_config: Mapping[str, Any] | None = None) -> Any:
    """The entry point of MLflow's loader protocol for mlcli's custom models."""
    return load_for_mlflow(data_path, model_config)
