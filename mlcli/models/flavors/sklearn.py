"""The ``sklearn`` flavor: scikit-learn estimators in skops (the default) or cloudpickle.

skops stores an estimator without pickle, so loading one cannot run arbitrary code as
long as only safe types are allowed in. Which types are trusted is mlcli's decision,
never the model file's: skops' own defaults, and classes (not functions) from
scikit-learn, NumPy and SciPy; anything else only when the caller names it in
``skops_trusted_types``, when mlcli wrote the file itself (its digest is recorded,
:mod:`mlcli.models.trust`), or with the pickle opt-in. The ``skops_trusted_types`` list
in MLmodel is written for MLflow's sake and never read here.

cloudpickle (and MLflow's "pickle") run whatever the file says when it is loaded: they
load through :class:`~mlcli.models.trust.ModelTrust`, which lets in the files mlcli
wrote and, with the user's opt-in, any other.

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
from mlcli.models.errors import UntrustedModelError
from mlcli.models.flavors.base import Flavor, SavedFlavor
from mlcli.models.mlmodel import PYFUNC, Model
from mlcli.models.packages import installed_version, require
from mlcli.models.trust import OPT_IN_HINT, ModelTrust, digest_of, read_model_file

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
# Packages whose classes mlcli trusts in a skops file (functions are left to skops'
# defaults: a trusted function can be called on the input by a FunctionTransformer).
TRUSTED_CLASS_PACKAGES = ("sklearn", "numpy", "scipy")


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
        flavors: dict[str, dict[str, Any]] = {
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
        # as MLflow lists them: scikit-learn and the serializer (pickle is Python's own);
        # numpy and scipy come with scikit-learn; pandas, which reads scoring requests
        needs = ["scikit-learn"]
        if serialization_format != "pickle":
            needs.append(serialization_format)
        if installed_version("pandas"):
            needs.append("pandas")
        return SavedFlavor(
            flavors, needs, predict=getattr(model, pyfunc_predict_fn), digests=[digest_of(data)]
        )

    def code_files(self, *, directory: Path, mlmodel: Model) -> list[Path]:
        serialization = mlmodel.flavors.get(FLAVOR_NAME, {}).get("serialization_format")
        return [] if serialization == "skops" else [_model_file(directory, mlmodel)]

    def load_native(
        self,
        *,
        directory: Path,
        mlmodel: Model,
        trust: ModelTrust,
        skops_trusted_types: Iterable[str] = (),
    ) -> Any:
        conf = mlmodel.flavors.get(FLAVOR_NAME, {})
        path = _model_file(directory, mlmodel)
        serialization = conf.get("serialization_format", "pickle")
        require("sklearn", "loading a scikit-learn model")
        return load_serialized(path, serialization, skops_trusted_types, trust)

    def load_pyfunc(
        self,
        *,
        directory: Path,
        mlmodel: Model,
        trust: ModelTrust,
        skops_trusted_types: Iterable[str] = (),
    ) -> SklearnPredictor:
        estimator = self.load_native(
            directory=directory,
            mlmodel=mlmodel,
            trust=trust,
            skops_trusted_types=skops_trusted_types,
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


def _model_file(directory: Path, mlmodel: Model) -> Path:
    conf = mlmodel.flavors.get(FLAVOR_NAME, {})
    pyfunc = mlmodel.pyfunc_conf or {}
    file_name = conf.get("pickled_model") or pyfunc.get("model_path") or pyfunc.get("data")
    if not file_name:
        raise InvalidInputError(f"{directory}/MLmodel does not say where the model file is")
    return directory / file_name


def load_serialized(
    path: Path, serialization: str, skops_trusted_types: Iterable[str], trust: ModelTrust
) -> Any:
    """An estimator from a file in one of SERIALIZATION_FORMATS: skops with the types
    mlcli trusts (and ``skops_trusted_types``), a pickle only when trusted."""
    if serialization == "skops":
        return _skops_load(path, set(skops_trusted_types), trust)
    if serialization not in SERIALIZATION_FORMATS:
        raise InvalidInputError(f"unknown serialization format {serialization!r} in MLmodel")
    data = trust.code_bytes(path, f"a {serialization} file")
    loader = pickle if serialization == "pickle" else require("cloudpickle", "loading")
    return loader.loads(data)


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
    refused = sorted(
        t for t in needed - set(trusted) - _library_classes() if not is_trusted_class(t)
    )
    if refused:
        raise InvalidInputError(
            "the model uses types skops does not trust by default: "
            + ", ".join(refused)
            + "; pass skops_trusted_types=[...] naming them if you trust them, "
            "or use serialization_format='cloudpickle'"
        )
    return data, sorted(needed) or None


def _skops_load(path: Path, caller_trusted: set[str], trust: ModelTrust) -> Any:
    """The estimator in a skops file, with the types mlcli trusts (see the module's
    docstring); a type outside them is an UntrustedModelError naming it."""
    sio = require("skops.io", "loading a model saved in the skops format")
    exceptions = require("skops.io.exceptions", "loading a model saved in the skops format")
    data = read_model_file(path)
    needed = sio.get_untrusted_types(data=data)  # a broken file raises, as loading would
    if trust.allow_pickle or trust.is_recorded(digest_of(data)):
        trusted = list(needed)
    else:
        library = _library_classes()
        trusted = [t for t in needed if t in caller_trusted or t in library or is_trusted_class(t)]
        refused = sorted(set(needed) - set(trusted))
        if refused:
            raise UntrustedModelError(
                f"refusing to load {path}: it holds types mlcli does not trust: "
                + ", ".join(refused)
                + f"; name them in skops_trusted_types=[...], or {OPT_IN_HINT}"
            )
    try:
        return sio.loads(data, trusted=trusted or None)
    except exceptions.UntrustedTypesFoundException as exc:
        raise UntrustedModelError(
            f"refusing to load {path}: it holds types that are not trusted ({exc}); {OPT_IN_HINT}"
        ) from None


def _library_classes() -> frozenset[str]:
    """The classes of other libraries' scikit-learn estimators, which go into pipelines,
    that a skops file of them needs: LightGBM's, as its own flavor trusts them."""
    from mlcli.models.flavors.lightgbm import TRUSTED_SKOPS_TYPES  # it imports this module

    return TRUSTED_SKOPS_TYPES


def is_trusted_class(name: str) -> bool:
    """Whether ``name`` (``package.module.Class``) is a class of a package mlcli trusts.
    Functions are not (see TRUSTED_CLASS_PACKAGES); dunder modules (``__main__``) are never
    imported, since importing one runs it."""
    import importlib

    module_name, _, attribute = name.rpartition(".")
    parts = module_name.split(".")
    if parts[0] not in TRUSTED_CLASS_PACKAGES or not attribute.isidentifier():
        return False
    if any(not part.isidentifier() or part.startswith("__") for part in parts):
        return False
    try:
        candidate = getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError):
        return False
    origin = getattr(candidate, "__module__", "") or ""
    return isinstance(candidate, type) and origin.split(".")[0] in TRUSTED_CLASS_PACKAGES
