"""``save_model``: write a model directory (``MLmodel``, the flavor's files, the input
example and the environment files), whatever the flavor.

The digest of every file the flavor serialized, and of the environment files, is
recorded as trusted (the user's records; ``log_model`` adds the store's), so that
mlcli's own models load, and build their environments, without the opt-in
(:mod:`mlcli.models.trust`)."""

from __future__ import annotations

import os
import platform
import shutil
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

from mlcli.errors import ConflictError
from mlcli.models.code_paths import copy_code_paths
from mlcli.models.environment import (
    CondaEnv,
    Requirements,
    environment_digests,
    model_environment,
    write_environment,
)
from mlcli.models.flavors import Flavor, SavedFlavor, flavor_for_model, get_flavor
from mlcli.models.input_example import example_as_data, save_input_example
from mlcli.models.mlmodel import PYFUNC, Model, directory_size
from mlcli.models.packages import require
from mlcli.models.signature import ModelSignature
from mlcli.models.trust import record_written, user_records_dir


def save_model(
    model: Any,
    path: str | os.PathLike[str],
    *,
    flavor: str | Flavor | None = None,
    signature: ModelSignature | Literal[False] | None = None,
    input_example: Any = None,
    conda_env: CondaEnv | None = None,
    pip_requirements: Requirements | None = None,
    extra_pip_requirements: Requirements | None = None,
    metadata: Mapping[str, Any] | None = None,
    code_paths: Sequence[str | os.PathLike[str]] | None = None,
    run_id: str | None = None,
    artifact_path: str | None = None,
    **flavor_options: Any,
) -> Model:
    """Save ``model`` to the directory ``path`` (which must not exist, or be empty).

    The flavor is found from the model's type unless named. Without a signature, one is
    inferred from ``input_example`` (the output part by running the model on it, where
    the flavor can); ``signature=False`` saves none. ``conda_env``, ``pip_requirements``
    and ``extra_pip_requirements`` (at most one) are read as MLflow reads them: see
    :func:`mlcli.models.environment.model_environment`. ``code_paths`` (files and
    folders) are copied into the model's ``code/`` folder, which loading puts on
    ``sys.path`` (:mod:`mlcli.models.code_paths`).
    """
    return write_model(
        model,
        path,
        flavor=flavor,
        signature=signature,
        input_example=input_example,
        conda_env=conda_env,
        pip_requirements=pip_requirements,
        extra_pip_requirements=extra_pip_requirements,
        metadata=metadata,
        code_paths=code_paths,
        run_id=run_id,
        artifact_path=artifact_path,
        **flavor_options,
    )


def write_model(
    model: Any,
    path: str | os.PathLike[str],
    *,
    flavor: str | Flavor | None = None,
    signature: ModelSignature | Literal[False] | None = None,
    input_example: Any = None,
    conda_env: CondaEnv | None = None,
    pip_requirements: Requirements | None = None,
    extra_pip_requirements: Requirements | None = None,
    metadata: Mapping[str, Any] | None = None,
    code_paths: Sequence[str | os.PathLike[str]] | None = None,
    run_id: str | None = None,
    artifact_path: str | None = None,
    trust_records: Sequence[Path] = (),
    model_id: str | None = None,
    **flavor_options: Any,
) -> Model:
    """:func:`save_model`, recording the serialized files as trusted in the user's
    records and in ``trust_records`` (a store's, for ``log_model``)."""
    chosen = _flavor(flavor, model)
    directory = Path(path)
    created = _prepare(directory)
    try:
        if chosen.needs_input_example:
            flavor_options.update(input_example=input_example, signature=signature or None)
        saved = chosen.save(model, directory, **flavor_options)
        code_dir, code_digests = copy_code_paths(code_paths, directory)
        if code_dir is not None:
            for name, conf in saved.flavors.items():
                if name == PYFUNC or "code" in conf:  # the sections MLflow names it in
                    conf["code"] = code_dir
        example_info = None
        if signature is None and saved.signature is not None:
            signature = saved.signature  # the model's own (an ONNX graph's) over an example's
        if input_example is not None:
            example_info = save_input_example(input_example, directory)
            if signature is None:
                signature = _signature_from_example(input_example, saved)
        environment = model_environment(
            saved.requirements,
            conda_env=conda_env,
            pip_requirements=pip_requirements,
            extra_pip_requirements=extra_pip_requirements,
        )
        env = write_environment(directory, environment)
        written = [*saved.digests, *code_digests, *environment_digests(directory)]
        record_written(written, [user_records_dir(), *trust_records])
        if PYFUNC in saved.flavors:
            saved.flavors[PYFUNC].update(env=env, python_version=platform.python_version())
        mlmodel = Model(
            flavors=saved.flavors,
            run_id=run_id,
            artifact_path=artifact_path,
            signature=signature or None,
            saved_input_example_info=example_info,
            metadata=dict(metadata) if metadata else None,
        )
        if model_id is not None:  # MLflow 3's logged model's id, a key of its MLmodel
            mlmodel.extra["model_id"] = model_id
        mlmodel.model_size_bytes = directory_size(directory)
        mlmodel.save(directory)
        return mlmodel
    except BaseException:
        if created:
            shutil.rmtree(directory, ignore_errors=True)
        else:
            for child in directory.iterdir():
                shutil.rmtree(child) if child.is_dir() else child.unlink()
        raise


def _flavor(flavor: str | Flavor | None, model: Any) -> Flavor:
    if flavor is None:
        return flavor_for_model(model)
    return get_flavor(flavor) if isinstance(flavor, str) else flavor


def _prepare(directory: Path) -> bool:
    """Make sure ``directory`` exists and is empty; True if it was created here."""
    if directory.exists():
        if not directory.is_dir() or any(directory.iterdir()):
            raise ConflictError(f"cannot save a model to {directory}: it exists and is not empty")
        return False
    directory.mkdir(parents=True)
    return True


def _signature_from_example(example: Any, saved: SavedFlavor) -> ModelSignature:
    from mlcli.models.signature_inference import infer_schema, infer_signature

    data = example_as_data(example)
    signature = infer_signature(data)
    if saved.predict is not None:
        try:
            prediction = saved.predict(data)
        except Exception as exc:  # as MLflow: the model is saved, without an output schema
            warnings.warn(
                f"could not infer the model's output schema from the input example: {exc}",
                stacklevel=4,
            )
            return signature
        inputs = signature.inputs
        if inputs is not None and not inputs.is_tensor and _is_1d_array(prediction):
            # As MLflow: with columns in, a 1-D array out is one value per row, a column
            prediction = require("pandas", "inferring a signature").Series(prediction)
        signature = ModelSignature(inputs, infer_schema(prediction))
    return signature


def _is_1d_array(value: Any) -> bool:
    return type(value).__module__ == "numpy" and getattr(value, "ndim", None) == 1
