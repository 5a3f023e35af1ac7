"""XGBoost models (MLflow's ``mlflow.xgboost``): save, log and load a ``Booster`` or a
scikit-learn API model (``XGBClassifier``, ``XGBRegressor``...), and autolog training.

Models are stored in XGBoost's own format, UBJSON (``model_format="ubj"``, MLflow's
default) or JSON, never pickled: they load without the opt-in that pickles need, as
the class they were saved as.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal

from mlcli.models.environment import CondaEnv, Requirements
from mlcli.models.flavors.xgboost import DEFAULT_MODEL_FORMAT, MODEL_FORMATS
from mlcli.models.log import ModelInfo
from mlcli.models.log import log_model as _log_model
from mlcli.models.mlmodel import Model
from mlcli.models.pyfunc_model import load_native_model
from mlcli.models.save import save_model as _save_model
from mlcli.models.signature import ModelSignature

__all__ = [
    "DEFAULT_MODEL_FORMAT",
    "MODEL_FORMATS",
    "autolog",
    "load_model",
    "log_model",
    "save_model",
]


def save_model(
    xgb_model: Any,
    path: str | os.PathLike[str],
    conda_env: CondaEnv | None = None,
    code_paths: Sequence[str | os.PathLike[str]] | None = None,
    *,
    signature: ModelSignature | Literal[False] | None = None,
    input_example: Any = None,
    pip_requirements: Requirements | None = None,
    extra_pip_requirements: Requirements | None = None,
    model_format: str = DEFAULT_MODEL_FORMAT,
    metadata: Mapping[str, Any] | None = None,
) -> Model:
    """Save a Booster or a scikit-learn API model to the directory ``path`` as
    ``model.<model_format>``."""
    return _save_model(
        xgb_model,
        path,
        flavor="xgboost",
        code_paths=code_paths,
        signature=signature,
        input_example=input_example,
        conda_env=conda_env,
        pip_requirements=pip_requirements,
        extra_pip_requirements=extra_pip_requirements,
        metadata=metadata,
        model_format=model_format,
    )


def log_model(
    xgb_model: Any,
    name: str | None = None,
    *,
    artifact_path: str | None = None,
    conda_env: CondaEnv | None = None,
    code_paths: Sequence[str | os.PathLike[str]] | None = None,
    registered_model_name: str | None = None,
    signature: ModelSignature | Literal[False] | None = None,
    input_example: Any = None,
    pip_requirements: Requirements | None = None,
    extra_pip_requirements: Requirements | None = None,
    model_format: str = DEFAULT_MODEL_FORMAT,
    metadata: Mapping[str, Any] | None = None,
    run_id: str | None = None,
) -> ModelInfo:
    """Log a Booster or a scikit-learn API model to the active run (or ``run_id``) as
    ``<artifacts>/<name>``; ``artifact_path`` is MLflow's deprecated name of ``name``."""
    return _log_model(
        xgb_model,
        name,
        artifact_path=artifact_path,
        code_paths=code_paths,
        flavor="xgboost",
        run_id=run_id,
        registered_model_name=registered_model_name,
        signature=signature,
        input_example=input_example,
        conda_env=conda_env,
        pip_requirements=pip_requirements,
        extra_pip_requirements=extra_pip_requirements,
        metadata=metadata,
        model_format=model_format,
    )


def load_model(model_uri: str, *, allow_pickle: bool = False) -> Any:
    """The model as the class it was saved as (``xgboost.Booster``, ``XGBClassifier``...)
    from a path, ``runs:/`` or ``models:/`` URI. ``allow_pickle=True`` trusts the model:
    needed only when its MLmodel names a class outside XGBoost (a user's subclass)."""
    return load_native_model(model_uri, "xgboost", allow_pickle=allow_pickle)


def autolog(
    importance_types: Iterable[str] | None = None,
    log_input_examples: bool = False,
    log_model_signatures: bool = True,
    log_models: bool = True,
    disable: bool = False,
    *,
    model_format: str = DEFAULT_MODEL_FORMAT,
    log_feature_importance_plots: bool = True,
) -> None:
    """Log every ``xgboost.train`` and every ``fit`` of a scikit-learn API model: params,
    per-iteration evaluation metrics, early-stopping results, feature importance
    (``feature_importance_<type>.json``, and its ``.png`` chart with matplotlib) and the
    model. ``disable=True`` restores the original functions. See docs/capture.md."""
    from mlcli.autologging.xgboost import autolog as _autolog

    _autolog(
        importance_types,
        log_input_examples,
        log_model_signatures,
        log_models,
        disable,
        model_format=model_format,
        log_feature_importance_plots=log_feature_importance_plots,
    )
