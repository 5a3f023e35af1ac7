"""Keras 3 models (MLflow's ``mlflow.keras``): save, log and load them in the ``.keras``
format, and autolog ``Model.fit``.

Keras chooses its backend when it is imported (``KERAS_BACKEND``: torch, jax or
tensorflow); the model's MLmodel records the one it was saved with. Loading never runs
code from the file (Keras' safe mode) unless mlcli wrote the file or ``allow_pickle=True``;
custom layers load only when passed in ``custom_objects``. See docs/models.md.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from mlcli.models.environment import CondaEnv, Requirements
from mlcli.models.log import ModelInfo
from mlcli.models.log import log_model as _log_model
from mlcli.models.mlmodel import Model
from mlcli.models.pyfunc_model import load_native_model
from mlcli.models.save import save_model as _save_model
from mlcli.models.signature import ModelSignature

__all__ = ["autolog", "load_model", "log_model", "save_model"]


def save_model(
    model: Any,
    path: str | os.PathLike[str],
    save_exported_model: bool = False,
    conda_env: CondaEnv | None = None,
    signature: ModelSignature | Literal[False] | None = None,
    input_example: Any = None,
    pip_requirements: Requirements | None = None,
    extra_pip_requirements: Requirements | None = None,
    save_model_kwargs: Mapping[str, Any] | None = None,
    metadata: Mapping[str, Any] | None = None,
    *,
    code_paths: Sequence[str | os.PathLike[str]] | None = None,
) -> Model:
    """Save a ``keras.Model`` to the directory ``path`` as ``data/model.keras``. Without
    a signature, one with tensor specs is inferred from a numpy ``input_example`` and
    the model's output on it. ``save_model_kwargs`` go to ``keras.Model.save``."""
    return _save_model(
        model,
        path,
        flavor="keras",
        code_paths=code_paths,
        signature=signature,
        input_example=input_example,
        conda_env=conda_env,
        pip_requirements=pip_requirements,
        extra_pip_requirements=extra_pip_requirements,
        metadata=metadata,
        save_exported_model=save_exported_model,
        save_model_kwargs=save_model_kwargs,
    )


def log_model(
    model: Any,
    name: str | None = None,
    save_exported_model: bool = False,
    conda_env: CondaEnv | None = None,
    signature: ModelSignature | Literal[False] | None = None,
    input_example: Any = None,
    registered_model_name: str | None = None,
    pip_requirements: Requirements | None = None,
    extra_pip_requirements: Requirements | None = None,
    save_model_kwargs: Mapping[str, Any] | None = None,
    metadata: Mapping[str, Any] | None = None,
    *,
    artifact_path: str | None = None,
    code_paths: Sequence[str | os.PathLike[str]] | None = None,
    run_id: str | None = None,
) -> ModelInfo:
    """Log a ``keras.Model`` to the active run (or ``run_id``) as ``<artifacts>/<name>``;
    ``artifact_path`` is MLflow's deprecated name of ``name``."""
    return _log_model(
        model,
        name,
        artifact_path=artifact_path,
        code_paths=code_paths,
        flavor="keras",
        run_id=run_id,
        registered_model_name=registered_model_name,
        signature=signature,
        input_example=input_example,
        conda_env=conda_env,
        pip_requirements=pip_requirements,
        extra_pip_requirements=extra_pip_requirements,
        metadata=metadata,
        save_exported_model=save_exported_model,
        save_model_kwargs=save_model_kwargs,
    )


def load_model(
    model_uri: str,
    dst_path: str | None = None,
    custom_objects: Mapping[str, Any] | None = None,
    load_model_kwargs: Mapping[str, Any] | None = None,
    *,
    allow_pickle: bool = False,
) -> Any:
    """The ``keras.Model`` itself, from a path, ``runs:/`` or ``models:/`` URI.
    ``custom_objects`` name the custom layers, losses... the model uses;
    ``load_model_kwargs`` may hold ``compile`` (and ``safe_mode=False``, which needs
    ``allow_pickle=True``). ``dst_path`` is MLflow's and must stay None: the model is
    read where it is."""
    if dst_path is not None:
        from mlcli.errors import InvalidInputError

        raise InvalidInputError("dst_path is not supported: mlcli reads the model in place")
    return load_native_model(
        model_uri,
        "keras",
        custom_objects=custom_objects,
        load_model_kwargs=load_model_kwargs,
        allow_pickle=allow_pickle,
    )


def autolog(
    log_every_epoch: bool = True,
    log_models: bool = True,
    log_model_signatures: bool = True,
    log_input_examples: bool = False,
    disable: bool = False,
    registered_model_name: str | None = None,
    save_model_kwargs: Mapping[str, Any] | None = None,
) -> None:
    """Log every ``keras.Model.fit`` from now on: its params, the optimizer's config,
    the metrics of each epoch, early stopping, the model. ``disable=True`` stops it.
    Keras is patched when it is imported (now, if it already is). See docs/models.md."""
    from mlcli.autologging.keras import autolog as _autolog

    _autolog(
        log_every_epoch=log_every_epoch,
        log_models=log_models,
        log_model_signatures=log_model_signatures,
        log_input_examples=log_input_examples,
        disable=disable,
        registered_model_name=registered_model_name,
        save_model_kwargs=save_model_kwargs,
    )
