"""ONNX models (MLflow's ``mlflow.onnx``): save, log and load ``onnx.ModelProto`` graphs.

A model saved here is served by onnxruntime, without the framework that trained it:
its requirements are ``onnx`` and ``onnxruntime``. ``mlcli models convert MODEL --to
onnx`` makes one from a scikit-learn or PyTorch model (:mod:`mlcli.models.convert`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from mlcli.models.environment import CondaEnv, Requirements
from mlcli.models.flavors.onnx import DEFAULT_PROVIDERS
from mlcli.models.log import ModelInfo
from mlcli.models.log import log_model as _log_model
from mlcli.models.mlmodel import Model
from mlcli.models.pyfunc_model import load_native_model
from mlcli.models.save import save_model as _save_model
from mlcli.models.signature import ModelSignature

__all__ = ["DEFAULT_PROVIDERS", "load_model", "log_model", "save_model"]


def save_model(
    onnx_model: Any,
    path: str | os.PathLike[str],
    conda_env: CondaEnv | None = None,
    code_paths: Sequence[str | os.PathLike[str]] | None = None,
    *,  # MLflow's next positional parameter is mlflow_model, which mlcli has not
    signature: ModelSignature | Literal[False] | None = None,
    input_example: Any = None,
    pip_requirements: Requirements | None = None,
    extra_pip_requirements: Requirements | None = None,
    onnx_execution_providers: Sequence[Any] | None = None,
    onnx_session_options: Mapping[str, Any] | None = None,
    metadata: Mapping[str, Any] | None = None,
    save_as_external_data: bool = True,
) -> Model:
    """Save an ONNX graph to the directory ``path``. Without ``signature``, the graph's
    inputs and outputs are the signature; ``onnx_execution_providers`` (default: CUDA,
    then CPU) and ``onnx_session_options`` are recorded for onnxruntime, as MLflow's."""
    return _save_model(
        onnx_model,
        path,
        flavor="onnx",
        code_paths=code_paths,
        signature=signature,
        input_example=input_example,
        conda_env=conda_env,
        pip_requirements=pip_requirements,
        extra_pip_requirements=extra_pip_requirements,
        metadata=metadata,
        onnx_execution_providers=onnx_execution_providers,
        onnx_session_options=onnx_session_options,
        save_as_external_data=save_as_external_data,
    )


def log_model(
    onnx_model: Any,
    artifact_path: str | None = None,
    conda_env: CondaEnv | None = None,
    code_paths: Sequence[str | os.PathLike[str]] | None = None,
    registered_model_name: str | None = None,
    signature: ModelSignature | Literal[False] | None = None,
    input_example: Any = None,
    *,  # MLflow's next positional parameter is await_registration_for, which mlcli has not
    pip_requirements: Requirements | None = None,
    extra_pip_requirements: Requirements | None = None,
    onnx_execution_providers: Sequence[Any] | None = None,
    onnx_session_options: Mapping[str, Any] | None = None,
    metadata: Mapping[str, Any] | None = None,
    save_as_external_data: bool = True,
    name: str | None = None,
    run_id: str | None = None,
) -> ModelInfo:
    """Log an ONNX graph to the active run (or ``run_id``) as ``<artifacts>/<name>``;
    ``artifact_path`` is MLflow's deprecated name of ``name``."""
    return _log_model(
        onnx_model,
        name,
        artifact_path=artifact_path,
        flavor="onnx",
        run_id=run_id,
        registered_model_name=registered_model_name,
        code_paths=code_paths,
        signature=signature,
        input_example=input_example,
        conda_env=conda_env,
        pip_requirements=pip_requirements,
        extra_pip_requirements=extra_pip_requirements,
        metadata=metadata,
        onnx_execution_providers=onnx_execution_providers,
        onnx_session_options=onnx_session_options,
        save_as_external_data=save_as_external_data,
    )


def load_model(model_uri: str) -> Any:
    """The ``onnx.ModelProto``, from a path, ``runs:/`` or ``models:/`` URI (checked by
    onnx's checker). For predictions, ``mlcli.pyfunc.load_model`` runs it in onnxruntime."""
    return load_native_model(model_uri, "onnx")
