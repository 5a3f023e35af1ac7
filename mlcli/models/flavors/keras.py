"""The ``keras`` flavor: Keras 3 models in the ``.keras`` format, as MLflow writes them.

The model is ``data/model.keras`` (a zip of the model's config as JSON and its weights)
beside ``data/keras_module.txt``; the ``keras`` section of MLmodel records the data
folder, the Keras version, the backend the model was saved with (``keras_backend``)
and ``save_exported_model: false``, and the python_function section names MLflow's
``mlflow.keras`` loader, so that each of MLflow and mlcli loads the other's models.

Loading runs no code from the file: Keras rebuilds the model from its config in safe
mode, which refuses a ``Lambda`` layer's pickled bytecode, and it only imports Keras'
own modules. Safe mode is left only for a file whose digest mlcli recorded when it wrote
it (:mod:`mlcli.models.trust`), read from a private copy, or on the user's opt-in
(``allow_pickle=True``). Custom layers load only when the caller passes them in
``custom_objects`` (or registered them with Keras, which runs in the caller's code).

Keras picks its backend (TensorFlow, JAX or PyTorch) when it is first imported, from
``KERAS_BACKEND`` or ``~/.keras/keras.json``; a backend that is not installed is one
line naming the backend the model was saved with.
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from types import ModuleType
from typing import Any, ClassVar

from mlcli.errors import InvalidInputError
from mlcli.models.errors import MissingDependencyError, UntrustedModelError
from mlcli.models.flavors.base import Flavor, SavedFlavor
from mlcli.models.mlmodel import PYFUNC, Model
from mlcli.models.packages import installed_version, require
from mlcli.models.trust import OPT_IN_HINT, ModelTrust, digest_of, read_model_file

FLAVOR_NAME = "keras"
DATA_DIR = "data"
MODEL_FILE = "model.keras"
MODULE_FILE = "keras_module.txt"
# Keras' backend name -> the distribution that provides it
BACKEND_DISTRIBUTIONS = {"torch": "torch", "jax": "jax", "tensorflow": "tensorflow"}
LOAD_OPTIONS = ("compile", "safe_mode")


def import_keras(saved_backend: str | None = None) -> ModuleType:
    """``import keras``, or one line saying what is missing: Keras itself, or the backend
    it is configured to use (with the backend the model was saved with, if known)."""
    try:
        import keras
    except (ImportError, ValueError) as exc:  # ValueError: a backend Keras does not know
        if isinstance(exc, ImportError) and (exc.name or "").split(".")[0] == "keras":
            raise MissingDependencyError(
                "a Keras model needs the 'keras' package (version 3), which is not installed: "
                "pip install keras"
            ) from None
        chosen = os.environ.get("KERAS_BACKEND") or "the one in ~/.keras/keras.json"
        hint = f"; the model was saved with {saved_backend!r}" if saved_backend else ""
        raise MissingDependencyError(
            f"Keras cannot start its backend ({chosen}): {exc}; install it or set "
            f"KERAS_BACKEND to an installed one (torch, jax, tensorflow){hint}"
        ) from None
    if not keras.__version__.startswith("3."):
        raise MissingDependencyError(
            f"mlcli saves and loads Keras 3 models; keras {keras.__version__} is installed"
        )
    return keras


class KerasFlavor(Flavor):
    name: ClassVar[str] = FLAVOR_NAME
    loader_modules: ClassVar[tuple[str, ...]] = ("mlflow.keras", "mlcli.keras")

    def accepts(self, model: object) -> bool:
        keras = sys.modules.get("keras")  # imported if model is a Keras model
        return keras is not None and isinstance(model, getattr(keras, "Model", ()))

    def save(
        self,
        model: Any,
        directory: Path,
        *,
        save_exported_model: bool = False,
        save_model_kwargs: Mapping[str, Any] | None = None,
    ) -> SavedFlavor:
        keras = import_keras()
        if save_exported_model:
            raise InvalidInputError(
                "save_exported_model=True (TensorFlow's exported format) is not supported: "
                "mlcli saves Keras models in the .keras format"
            )
        if not isinstance(model, keras.Model):
            raise InvalidInputError(f"a {type(model).__name__} is not a keras.Model")
        data = directory / DATA_DIR
        data.mkdir()
        (data / MODULE_FILE).write_text("keras")
        try:
            model.save(data / MODEL_FILE, **dict(save_model_kwargs or {}))
        except (ValueError, TypeError, NotImplementedError) as exc:  # e.g. an unbuilt model
            raise InvalidInputError(f"Keras cannot save this model: {exc}") from None
        backend = keras.backend.backend()
        flavors: dict[str, dict[str, Any]] = {
            PYFUNC: {"loader_module": "mlflow.keras"},
            FLAVOR_NAME: {
                "data": DATA_DIR,
                "keras_version": keras.__version__,
                "keras_backend": backend,
                "save_exported_model": False,
            },
        }
        # keras and its backend, as MLflow's inference finds them; pandas reads requests
        needs = ["keras"]
        backend_dist = BACKEND_DISTRIBUTIONS.get(backend)
        if backend_dist and installed_version(backend_dist):
            needs.append(backend_dist)
        if installed_version("pandas"):
            needs.append("pandas")
        written = read_model_file(data / MODEL_FILE)
        return SavedFlavor(
            flavors, needs, predict=KerasPredictor(model).predict, digests=[digest_of(written)]
        )

    def load_native(
        self,
        *,
        directory: Path,
        mlmodel: Model,
        trust: ModelTrust,
        custom_objects: Mapping[str, Any] | None = None,
        load_model_kwargs: Mapping[str, Any] | None = None,
    ) -> Any:
        conf = mlmodel.flavors.get(FLAVOR_NAME, {})
        keras = import_keras(conf.get("keras_backend"))
        if conf.get("save_exported_model"):
            raise InvalidInputError(
                f"the model at {directory} is in TensorFlow's exported format "
                "(save_exported_model), which mlcli does not load"
            )
        options = dict(load_model_kwargs or {})
        unknown = sorted(set(options) - set(LOAD_OPTIONS))
        if unknown:
            raise InvalidInputError(
                f"unknown load_model_kwargs {', '.join(unknown)}: expected "
                + " or ".join(LOAD_OPTIONS)
            )
        path = _model_file(directory, conf)
        unsafe_asked = options.pop("safe_mode", True) is False
        if unsafe_asked and not trust.allow_pickle:
            raise UntrustedModelError(
                f"refusing to load {path} with safe_mode=False (it could run the file's "
                f"code); {OPT_IN_HINT}"
            )
        load = _loader(keras, custom_objects, options)
        if trust.allow_pickle:
            return load(path, False, path)
        written = read_model_file(path)
        if not trust.is_recorded(digest_of(written)):
            return load(path, True, path)
        # mlcli wrote these bytes: load them, and only them, from a private copy
        with tempfile.TemporaryDirectory(prefix="mlcli-keras-") as private:
            copy = Path(private) / MODEL_FILE
            copy.write_bytes(written)
            return load(copy, False, path)

    def load_pyfunc(
        self,
        *,
        directory: Path,
        mlmodel: Model,
        trust: ModelTrust,
        custom_objects: Mapping[str, Any] | None = None,
        load_model_kwargs: Mapping[str, Any] | None = None,
    ) -> KerasPredictor:
        model = self.load_native(
            directory=directory,
            mlmodel=mlmodel,
            trust=trust,
            custom_objects=custom_objects,
            load_model_kwargs=load_model_kwargs,
        )
        return KerasPredictor(model)


class KerasPredictor:
    """A Keras model behind ``PyFuncModel``, answering as MLflow's wrapper does: a
    DataFrame in gives a DataFrame out (same index), arrays, lists and dicts of arrays
    give a numpy array."""

    def __init__(self, model: Any) -> None:
        self.model = model

    def predict(self, data: Any, params: dict[str, Any] | None = None) -> Any:
        if hasattr(data, "iloc") and hasattr(data, "columns"):  # a pandas DataFrame
            pd = require("pandas", "predicting with a DataFrame")
            return pd.DataFrame(self._predict(data.values), index=data.index)
        if not isinstance(data, list | tuple | dict) and type(data).__name__ != "ndarray":
            raise InvalidInputError(
                "a Keras model predicts on a DataFrame, a numpy array, a list, a tuple or a "
                f"dict of arrays, not a {type(data).__name__}"
            )
        return self._predict(data)

    def _predict(self, data: Any) -> Any:
        keras = sys.modules["keras"]
        # verbose=0: no progress bar on stdout, which a server or a pipe would receive
        return keras.ops.convert_to_numpy(self.model.predict(data, verbose=0))

    @property
    def raw_model(self) -> Any:
        return self.model


def _model_file(directory: Path, conf: Mapping[str, Any]) -> Path:
    """Where MLflow's layout puts the .keras file: ``<data>/model.keras``."""
    data = directory / str(conf.get("data") or "model")
    base = data / "model" if data.is_dir() else data
    return base.with_name(base.name + ".keras")


def _loader(
    keras: ModuleType, custom_objects: Mapping[str, Any] | None, options: dict[str, Any]
) -> Callable[[Path, bool, Path], Any]:
    """Keras' loader with the caller's options, reading ``path`` (the model's file or a
    private copy of it) and naming ``shown`` in errors; what Keras refuses is one line."""

    def load(path: Path, safe_mode: bool, shown: Path) -> Any:
        try:
            return keras.saving.load_model(
                path, custom_objects=dict(custom_objects or {}), safe_mode=safe_mode, **options
            )
        except ValueError as exc:
            if safe_mode and "safe_mode" in str(exc):
                raise UntrustedModelError(
                    f"refusing to load {shown}: it holds code (a Lambda layer) that Keras' "
                    f"safe mode does not run; {OPT_IN_HINT}"
                ) from None
            raise InvalidInputError(f"Keras cannot load {shown}: {_first_line(exc)}") from None
        except TypeError as exc:  # a custom class Keras does not know
            unknown = _UNKNOWN_OBJECT.findall(str(exc))
            what = unknown[0] if unknown else _first_line(exc)
            raise InvalidInputError(
                f"Keras cannot load {shown}: {what}; pass the model's custom classes in "
                "custom_objects={'Name': Class} (or register them with Keras)"
            ) from None

    return load


_UNKNOWN_OBJECT = re.compile(r"Could not locate \w+ '[^']+'")


def _first_line(exc: Exception) -> str:
    return str(exc).split(". ")[0].splitlines()[0]
