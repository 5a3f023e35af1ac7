"""scikit-learn models (MLflow's ``mlflow.sklearn``): save, log and load estimators.

The default serialization is skops, which loads without running pickled code;
``serialization_format="cloudpickle"`` stores anything pickle can: mlcli records what
it wrote, so such a model loads again without ceremony, while a pickle from anywhere
else needs ``allow_pickle=True``.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal

from mlcli.models.environment import CondaEnv, Requirements
from mlcli.models.flavors.sklearn import DEFAULT_SERIALIZATION_FORMAT, SERIALIZATION_FORMATS
from mlcli.models.log import ModelInfo
from mlcli.models.log import log_model as _log_model
from mlcli.models.mlmodel import Model
from mlcli.models.pyfunc_model import load_native_model
from mlcli.models.save import save_model as _save_model
from mlcli.models.signature import ModelSignature

__all__ = [
    "DEFAULT_SERIALIZATION_FORMAT",
    "SERIALIZATION_FORMATS",
    "autolog",
    "load_model",
    "log_model",
    "save_model",
]


def save_model(
    sk_model: Any,
    path: str | os.PathLike[str],
    *,
    code_paths: Sequence[str | os.PathLike[str]] | None = None,
    serialization_format: str = DEFAULT_SERIALIZATION_FORMAT,
    skops_trusted_types: Iterable[str] | None = None,
    pyfunc_predict_fn: str = "predict",
    signature: ModelSignature | Literal[False] | None = None,
    input_example: Any = None,
    conda_env: CondaEnv | None = None,
    pip_requirements: Requirements | None = None,
    extra_pip_requirements: Requirements | None = None,
    metadata: Mapping[str, Any] | None = None,
) -> Model:
    """Save an estimator to the directory ``path``; ``code_paths`` (files and folders)
    are copied into its ``code/`` folder, on ``sys.path`` when it loads."""
    return _save_model(
        sk_model,
        path,
        flavor="sklearn",
        code_paths=code_paths,
        signature=signature,
        input_example=input_example,
        conda_env=conda_env,
        pip_requirements=pip_requirements,
        extra_pip_requirements=extra_pip_requirements,
        metadata=metadata,
        serialization_format=serialization_format,
        skops_trusted_types=skops_trusted_types,
        pyfunc_predict_fn=pyfunc_predict_fn,
    )


def log_model(
    sk_model: Any,
    name: str | None = None,
    signature: ModelSignature | Literal[False] | None = None,
    input_example: Any = None,
    registered_model_name: str | None = None,
    serialization_format: str = DEFAULT_SERIALIZATION_FORMAT,
    *,
    artifact_path: str | None = None,
    code_paths: Sequence[str | os.PathLike[str]] | None = None,
    skops_trusted_types: Iterable[str] | None = None,
    pyfunc_predict_fn: str = "predict",
    conda_env: CondaEnv | None = None,
    pip_requirements: Requirements | None = None,
    extra_pip_requirements: Requirements | None = None,
    metadata: Mapping[str, Any] | None = None,
    run_id: str | None = None,
) -> ModelInfo:
    """Log an estimator to the active run (or ``run_id``) as ``<artifacts>/<name>``;
    ``artifact_path`` is MLflow's deprecated name of ``name``."""
    return _log_model(
        sk_model,
        name,
        artifact_path=artifact_path,
        code_paths=code_paths,
        flavor="sklearn",
        run_id=run_id,
        registered_model_name=registered_model_name,
        signature=signature,
        input_example=input_example,
        conda_env=conda_env,
        pip_requirements=pip_requirements,
        extra_pip_requirements=extra_pip_requirements,
        metadata=metadata,
        serialization_format=serialization_format,
        skops_trusted_types=skops_trusted_types,
        pyfunc_predict_fn=pyfunc_predict_fn,
    )


def load_model(
    model_uri: str, *, skops_trusted_types: Iterable[str] = (), allow_pickle: bool = False
) -> Any:
    """The estimator itself, from a path, ``runs:/`` or ``models:/`` URI. A pickle that
    mlcli did not write loads only with ``allow_pickle=True`` (see docs/models.md)."""
    return load_native_model(
        model_uri, "sklearn", skops_trusted_types=skops_trusted_types, allow_pickle=allow_pickle
    )


def autolog(
    log_models: bool = True,
    log_input_examples: bool = False,
    max_tuning_runs: int | None = 5,
    disable: bool = False,
    *,
    serialization_format: str = DEFAULT_SERIALIZATION_FORMAT,
) -> None:
    """Log every scikit-learn ``fit`` (params, training metrics, model, class tags);
    ``disable=True`` restores the original methods. See docs/capture.md."""
    from mlcli.autologging.sklearn import autolog as _autolog

    _autolog(
        log_models,
        log_input_examples,
        max_tuning_runs,
        disable,
        serialization_format=serialization_format,
    )
