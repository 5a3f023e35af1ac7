"""LightGBM models (MLflow's ``mlflow.lightgbm``): save, log and load a ``Booster`` or an
estimator of LightGBM's scikit-learn API, and autolog ``lightgbm.train`` and ``fit``.

A Booster is stored in LightGBM's text format; an estimator in skops (the default, as
MLflow 3.18), or with ``serialization_format="cloudpickle"`` when asked. ``load_model``
gives back the class that was saved. See docs/models.md.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal

from mlcli.models.environment import CondaEnv, Requirements
from mlcli.models.flavors.lightgbm import DEFAULT_SERIALIZATION_FORMAT, SERIALIZATION_FORMATS
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
    lgb_model: Any,
    path: str | os.PathLike[str],
    conda_env: CondaEnv | None = None,
    code_paths: Sequence[str | os.PathLike[str]] | None = None,
    *,
    signature: ModelSignature | Literal[False] | None = None,
    input_example: Any = None,
    pip_requirements: Requirements | None = None,
    extra_pip_requirements: Requirements | None = None,
    metadata: Mapping[str, Any] | None = None,
    serialization_format: str = DEFAULT_SERIALIZATION_FORMAT,
    skops_trusted_types: Iterable[str] | None = None,
) -> Model:
    """Save a Booster or a LightGBM estimator to the directory ``path``; the arguments
    after ``code_paths`` are keywords (MLflow's next positional one, ``mlflow_model``,
    has no counterpart here)."""
    return _save_model(
        lgb_model,
        path,
        flavor="lightgbm",
        code_paths=code_paths,
        signature=signature,
        input_example=input_example,
        conda_env=conda_env,
        pip_requirements=pip_requirements,
        extra_pip_requirements=extra_pip_requirements,
        metadata=metadata,
        serialization_format=serialization_format,
        skops_trusted_types=skops_trusted_types,
    )


def log_model(
    lgb_model: Any,
    name: str | None = None,
    conda_env: CondaEnv | None = None,
    code_paths: Sequence[str | os.PathLike[str]] | None = None,
    registered_model_name: str | None = None,
    signature: ModelSignature | Literal[False] | None = None,
    input_example: Any = None,
    *,
    pip_requirements: Requirements | None = None,
    extra_pip_requirements: Requirements | None = None,
    metadata: Mapping[str, Any] | None = None,
    serialization_format: str = DEFAULT_SERIALIZATION_FORMAT,
    skops_trusted_types: Iterable[str] | None = None,
    artifact_path: str | None = None,
    run_id: str | None = None,
) -> ModelInfo:
    """Log a Booster or a LightGBM estimator to the active run (or ``run_id``) as
    ``<artifacts>/<name>``; ``artifact_path`` is MLflow's deprecated name of ``name``.
    The arguments after ``input_example`` are keywords, as they are not in MLflow's
    order there."""
    return _log_model(
        lgb_model,
        name,
        artifact_path=artifact_path,
        code_paths=code_paths,
        flavor="lightgbm",
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
    )


def load_model(
    model_uri: str, *, skops_trusted_types: Iterable[str] = (), allow_pickle: bool = False
) -> Any:
    """The Booster or estimator itself, from a path, ``runs:/`` or ``models:/`` URI. A
    pickle that mlcli did not write loads only with ``allow_pickle=True``."""
    return load_native_model(
        model_uri, "lightgbm", skops_trusted_types=skops_trusted_types, allow_pickle=allow_pickle
    )


def autolog(
    log_input_examples: bool = False,
    log_model_signatures: bool = True,
    log_models: bool = True,
    disable: bool = False,
    *,
    log_feature_importance_plots: bool = True,
    serialization_format: str = DEFAULT_SERIALIZATION_FORMAT,
) -> None:
    """Log every ``lightgbm.train`` and LightGBM estimator ``fit``: params, the metrics
    of each iteration on the validation sets, early stopping's best and stopped
    iterations, feature importance (JSON, and a plot with matplotlib) and the model.
    ``disable=True`` restores the original functions. See docs/models.md."""
    from mlcli.autologging.lightgbm import autolog as _autolog

    _autolog(
        log_input_examples=log_input_examples,
        log_model_signatures=log_model_signatures,
        log_models=log_models,
        disable=disable,
        log_feature_importance_plots=log_feature_importance_plots,
        serialization_format=serialization_format,
    )
