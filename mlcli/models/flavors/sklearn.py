"""The ``sklearn`` flavor: scikit-learn estimators in skops (the default) or cloudpickle.

skops stores an estimator without pickle, so loading one cannot run arbitrary code;
it refuses types it does not trust unless they are named. mlcli records the
scikit-learn classes a model needs beyond skops' defaults in ``skops_trusted_types``
(MLflow reads the same list); types from any other package must be named by the
caller, when saving and again when loading. cloudpickle (and MLflow's "pickle") run
whatever the file says when it is loaded: use them only for models you trust.

The python_function section says ``loader_module: mlflow.sklearn``, so that MLflow
loads these models with its own sklearn loader; mlcli maps that name back here.
"""

from __future__ import annotations

import pickle
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any, ClassVar

from mlcli.errors import InvalidInputError
from mlcli.models.flavors.base import Flavor, SavedFlavor
from mlcli.models.mlmodel import PYFUNC, Model
from mlcli.models.packages import installed_version, require

FLAVOR_NAME = "sklearn"
SERIALIZATION_FORMATS = ("skops", "cloudpickle", "pickle")
DEFAULT_SERIALIZATION_FORMAT = "skops"
PREDICT_METHODS = (
    "predict",
    "predict_proba",
    "predict_log_proba",
    "decision_function",
    "transform",
)
_AUTO_TRUSTED = "sklearn."  # scikit-learn's own classes (a forest's Tree, for one)


class SklearnFlavor(Flavor):
    name: ClassVar[str] = FLAVOR_NAME
    loader_modules: ClassVar[tuple[str, ...]] = ("mlflow.sklearn", "mlcli.sklearn")

    def accepts(self, model: object) -> bool:
        sklearn_base = sys.modules.get("sklearn.base")  # loaded if model is an estimator
        return sklearn_base is not None and isinstance(model, sklearn_base.BaseEstimator)

    def save(
        self,
        model: Any,
        directory: Path,
        *,
        serialization_format: str = DEFAULT_SERIALIZATION_FORMAT,
        skops_trusted_types: Iterable[str] | None = None,
        pyfunc_predict_fn: str = "predict",
    ) -> SavedFlavor:
        require("sklearn", "saving a scikit-learn model")
        if serialization_format not in SERIALIZATION_FORMATS:
            raise InvalidInputError(
                f"unknown serialization format {serialization_format!r}: expected one of "
                + ", ".join(SERIALIZATION_FORMATS)
            )
        if pyfunc_predict_fn not in PREDICT_METHODS or not hasattr(model, pyfunc_predict_fn):
            raise InvalidInputError(
                f"{type(model).__name__} has no method {pyfunc_predict_fn!r} to predict with"
            )
        file_name = "model.skops" if serialization_format == "skops" else "model.pkl"
        trusted = None
        if serialization_format == "skops":
            data, trusted = _skops_dump(model, sorted(skops_trusted_types or ()))
        else:
            pickler = require("cloudpickle", "saving a model with cloudpickle")
            data = (pickler if serialization_format == "cloudpickle" else pickle).dumps(
                model, protocol=pickle.DEFAULT_PROTOCOL
            )
        (directory / file_name).write_bytes(data)
        flavors = {
            PYFUNC: {
                "loader_module": "mlflow.sklearn",
                "model_path": file_name,
                "predict_fn": pyfunc_predict_fn,
            },
            FLAVOR_NAME: {
                "code": None,
                "pickled_model": file_name,
                "serialization_format": serialization_format,
                "sklearn_version": installed_version("scikit-learn"),
                "skops_trusted_types": trusted,
            },
        }
        serializer = "skops" if serialization_format == "skops" else "cloudpickle"
        needs = ["scikit-learn", serializer, "numpy", "scipy"]
        if installed_version("pandas"):
            needs.append("pandas")
        return SavedFlavor(flavors, needs, predict=getattr(model, pyfunc_predict_fn))

    def load_native(
        self, *, directory: Path, mlmodel: Model, skops_trusted_types: Iterable[str] = ()
    ) -> Any:
        conf = mlmodel.flavors.get(FLAVOR_NAME, {})
        pyfunc = mlmodel.pyfunc_conf or {}
        file_name = conf.get("pickled_model") or pyfunc.get("model_path") or pyfunc.get("data")
        if not file_name:
            raise InvalidInputError(f"{directory}/MLmodel does not say where the model file is")
        path = directory / file_name
        serialization = conf.get("serialization_format", "pickle")
        require("sklearn", "loading a scikit-learn model")
        if serialization == "skops":
            recorded = conf.get("skops_trusted_types") or []
            return _skops_load(path, recorded, set(skops_trusted_types))
        if serialization not in SERIALIZATION_FORMATS:
            raise InvalidInputError(f"unknown serialization format {serialization!r} in MLmodel")
        loader = pickle if serialization == "pickle" else require("cloudpickle", "loading")
        with open(path, "rb") as handle:
            return loader.load(handle)

    def load_pyfunc(
        self, *, directory: Path, mlmodel: Model, skops_trusted_types: Iterable[str] = ()
    ) -> SklearnPredictor:
        estimator = self.load_native(
            directory=directory, mlmodel=mlmodel, skops_trusted_types=skops_trusted_types
        )
        predict_fn = (mlmodel.pyfunc_conf or {}).get("predict_fn", "predict")
        return SklearnPredictor(estimator, predict_fn)


class SklearnPredictor:
    """An estimator behind ``PyFuncModel``: ``predict``, or the method named by the
    ``predict_method`` param (``predict_proba``, ``predict_log_proba``,
    ``decision_function``, ``transform``)."""

    def __init__(self, estimator: Any, predict_fn: str = "predict") -> None:
        self.estimator = estimator
        self.predict_fn = predict_fn

    def predict(self, data: Any, params: dict[str, Any] | None = None) -> Any:
        method = (params or {}).get("predict_method") or self.predict_fn
        if method not in PREDICT_METHODS:
            raise InvalidInputError(
                f"invalid predict_method {method!r}: expected one of {', '.join(PREDICT_METHODS)}"
            )
        if not hasattr(self.estimator, method):
            raise InvalidInputError(f"{type(self.estimator).__name__} has no method {method!r}")
        return getattr(self.estimator, method)(data)

    def predict_proba(self, data: Any) -> Any:
        return self.estimator.predict_proba(data)

    @property
    def classes(self) -> list[Any] | None:
        classes = getattr(self.estimator, "classes_", None)
        return None if classes is None else list(classes)

    @property
    def raw_model(self) -> Any:
        return self.estimator


def _skops_dump(model: Any, trusted: list[str]) -> tuple[bytes, list[str] | None]:
    """The skops bytes, and the types loading them needs beyond skops' defaults."""
    sio = require("skops.io", "saving a model in the skops format (the default)")
    try:
        data = sio.dumps(model)
    except (TypeError, NotImplementedError) as exc:
        raise InvalidInputError(
            f"skops cannot store this {type(model).__name__} ({exc}); "
            "use serialization_format='cloudpickle'"
        ) from None
    needed = set(sio.get_untrusted_types(data=data))
    refused = sorted(t for t in needed - set(trusted) if not t.startswith(_AUTO_TRUSTED))
    if refused:
        raise InvalidInputError(
            "the model uses types skops does not trust by default: "
            + ", ".join(refused)
            + "; pass skops_trusted_types=[...] naming them if you trust them, "
            "or use serialization_format='cloudpickle'"
        )
    return data, sorted(needed) or None


def _skops_load(path: Path, recorded: list[str], caller_trusted: set[str]) -> Any:
    sio = require("skops.io", "loading a model saved in the skops format")
    exceptions = require("skops.io.exceptions", "loading a model saved in the skops format")
    refused = [t for t in recorded if not t.startswith(_AUTO_TRUSTED) and t not in caller_trusted]
    if refused:
        raise InvalidInputError(
            f"{path.name} asks to trust types from outside scikit-learn: "
            + ", ".join(refused)
            + "; pass skops_trusted_types=[...] to load_model if you trust the model's source"
        )
    trusted = sorted(set(recorded) | caller_trusted) or None
    try:
        return sio.load(path, trusted=trusted)
    except exceptions.UntrustedTypesFoundException as exc:
        raise InvalidInputError(
            f"{path.name} holds types that are not trusted ({exc}); pass "
            "skops_trusted_types=[...] to load_model if you trust the model's source"
        ) from None
