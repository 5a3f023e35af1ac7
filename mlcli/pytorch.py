"""PyTorch models (MLflow's ``mlflow.pytorch``): save, log and load ``torch.nn.Module``.

The default ``serialization_format="pt2"`` stores the module as ``torch.export`` traces
it on ``input_example`` (required), and loads without running pickled code;
``"torchscript"`` stores it compiled by ``torch.jit.script`` (or a ScriptModule as it
is); ``"pickle"`` stores the whole module with cloudpickle, as MLflow's pickle format.
TorchScript and pickles that mlcli did not write load only with ``allow_pickle=True``.
See docs/models.md.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from mlcli.models.environment import CondaEnv, Requirements
from mlcli.models.flavors.pytorch import DEFAULT_SERIALIZATION_FORMAT, SERIALIZATION_FORMATS
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
    pytorch_model: Any,
    path: str | os.PathLike[str],
    *,
    serialization_format: str = DEFAULT_SERIALIZATION_FORMAT,
    code_paths: Sequence[str | os.PathLike[str]] | None = None,
    signature: ModelSignature | Literal[False] | None = None,
    input_example: Any = None,
    conda_env: CondaEnv | None = None,
    pip_requirements: Requirements | None = None,
    extra_pip_requirements: Requirements | None = None,
    metadata: Mapping[str, Any] | None = None,
) -> Model:
    """Save a module to the directory ``path``. ``input_example`` (a numpy array or a
    tensor) gives the signature, with tensor specs, and is what pt2 traces on."""
    return _save_model(
        pytorch_model,
        path,
        flavor="pytorch",
        code_paths=code_paths,
        signature=signature,
        input_example=_as_array(input_example),
        conda_env=conda_env,
        pip_requirements=pip_requirements,
        extra_pip_requirements=extra_pip_requirements,
        metadata=metadata,
        serialization_format=serialization_format,
    )


def log_model(
    pytorch_model: Any,
    name: str | None = None,
    signature: ModelSignature | Literal[False] | None = None,
    input_example: Any = None,
    registered_model_name: str | None = None,
    serialization_format: str = DEFAULT_SERIALIZATION_FORMAT,
    *,
    artifact_path: str | None = None,
    code_paths: Sequence[str | os.PathLike[str]] | None = None,
    conda_env: CondaEnv | None = None,
    pip_requirements: Requirements | None = None,
    extra_pip_requirements: Requirements | None = None,
    metadata: Mapping[str, Any] | None = None,
    run_id: str | None = None,
) -> ModelInfo:
    """Log a module to the active run (or ``run_id``) as ``<artifacts>/<name>``;
    ``artifact_path`` is MLflow's deprecated name of ``name``."""
    return _log_model(
        pytorch_model,
        name,
        artifact_path=artifact_path,
        code_paths=code_paths,
        flavor="pytorch",
        run_id=run_id,
        registered_model_name=registered_model_name,
        signature=signature,
        input_example=_as_array(input_example),
        conda_env=conda_env,
        pip_requirements=pip_requirements,
        extra_pip_requirements=extra_pip_requirements,
        metadata=metadata,
        serialization_format=serialization_format,
    )


def load_model(model_uri: str, *, device: str | None = None, allow_pickle: bool = False) -> Any:
    """The module itself (in eval mode; for pt2, the exported program's module), from a
    path, ``runs:/`` or ``models:/`` URI. TorchScript and pickles that mlcli did not
    write load only with ``allow_pickle=True`` (see docs/models.md)."""
    return load_native_model(model_uri, "pytorch", device=device, allow_pickle=allow_pickle)


def autolog(
    log_every_n_epoch: int = 1,
    log_every_n_step: int | None = None,
    log_models: bool = True,
    log_model_signatures: bool = True,
    disable: bool = False,
    registered_model_name: str | None = None,
    *,
    serialization_format: str = DEFAULT_SERIALIZATION_FORMAT,
) -> None:
    """Log every PyTorch Lightning ``Trainer.fit`` (params, metrics per epoch, early
    stopping, model summary, the module as pt2); ``disable=True`` restores ``fit``. See
    docs/capture.md."""
    from mlcli.autologging.pytorch import autolog as _autolog

    _autolog(
        log_every_n_epoch,
        log_every_n_step,
        log_models,
        log_model_signatures,
        disable,
        registered_model_name,
        serialization_format,
    )


def _as_array(example: Any) -> Any:
    """A tensor example as a numpy array: the form mlcli saves and infers from."""
    if type(example).__module__.startswith("torch") and hasattr(example, "numpy"):
        return example.detach().cpu().numpy()
    return example
