"""The ``lightgbm`` flavor: LightGBM Boosters and its scikit-learn API, laid out as
MLflow 3.18's ``mlflow.lightgbm`` lays them out.

A ``lightgbm.Booster`` is saved in LightGBM's own text format (``model.lgb``), which
loads without running any Python. An estimator of the scikit-learn API
(``LGBMClassifier``, ``LGBMRegressor``, ``LGBMRanker``) is saved as MLflow saves it:
with skops by default (``model.skops``), never pickle unless asked. skops rebuilds the
estimator from the types mlcli trusts, the same for every file: MLflow's list
(the two estimators, ``Booster`` and ``OrderedDict``) with ``LGBMRanker``, the classes
of scikit-learn, NumPy and SciPy, and whatever the caller names in
``skops_trusted_types`` (the list in MLmodel is written for MLflow and never read).
A Booster inside a skops file is rebuilt from its model text, as LightGBM unpickles it.
``serialization_format="cloudpickle"`` (or ``"pickle"``) is the explicit opt-in to a
pickle, loaded through :class:`~mlcli.models.trust.ModelTrust` like the sklearn flavor's.

``model_class`` records the model's class (``lightgbm.basic.Booster``,
``lightgbm.sklearn.LGBMClassifier``...) and decides how the file is read, as in MLflow.
"""

from __future__ import annotations

import pickle
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any, ClassVar

from mlcli.errors import InvalidInputError
from mlcli.models.flavors.base import Flavor, SavedFlavor
from mlcli.models.flavors.sklearn import _skops_dump, load_serialized
from mlcli.models.mlmodel import PYFUNC, Model
from mlcli.models.packages import installed_version, require
from mlcli.models.trust import ModelTrust, digest_of

FLAVOR_NAME = "lightgbm"
BOOSTER_CLASS = "lightgbm.basic.Booster"
SERIALIZATION_FORMATS = ("skops", "cloudpickle", "pickle")
DEFAULT_SERIALIZATION_FORMAT = "skops"
# MLflow's built-in list (written to MLmodel for MLflow to load with) ...
MLFLOW_SKOPS_TRUSTED_TYPES = (
    "collections.OrderedDict",
    "lightgbm.basic.Booster",
    "lightgbm.sklearn.LGBMClassifier",
    "lightgbm.sklearn.LGBMRegressor",
)
# ... and the types mlcli trusts in a skops file of this flavor.
TRUSTED_SKOPS_TYPES = frozenset({*MLFLOW_SKOPS_TRUSTED_TYPES, "lightgbm.sklearn.LGBMRanker"})


class LightGBMFlavor(Flavor):
    name: ClassVar[str] = FLAVOR_NAME
    loader_modules: ClassVar[tuple[str, ...]] = ("mlflow.lightgbm", "mlcli.lightgbm")

    def accepts(self, model: object) -> bool:
        lightgbm = sys.modules.get("lightgbm")  # loaded if model is one of its objects
        if lightgbm is None:
            return False
        return isinstance(model, (lightgbm.Booster, lightgbm.LGBMModel))

    def save(
        self,
        model: Any,
        directory: Path,
        *,
        serialization_format: str = DEFAULT_SERIALIZATION_FORMAT,
        skops_trusted_types: Iterable[str] | None = None,
    ) -> SavedFlavor:
        lightgbm = require("lightgbm", "saving a LightGBM model")
        if serialization_format not in SERIALIZATION_FORMATS:
            raise InvalidInputError(
                f"unknown serialization format {serialization_format!r}: expected one of "
                + ", ".join(SERIALIZATION_FORMATS)
            )
        if not self.accepts(model):
            raise InvalidInputError(
                f"the lightgbm flavor saves a lightgbm.Booster or a LightGBM scikit-learn "
                f"estimator, not a {type(model).__module__}.{type(model).__name__}"
            )
        is_booster = isinstance(model, lightgbm.Booster)
        caller_trusted = sorted(skops_trusted_types or ())
        file_name, data = _serialize(model, is_booster, serialization_format, caller_trusted)
        (directory / file_name).write_bytes(data)
        trusted = None
        if serialization_format == "skops":  # as MLflow: its list and the caller's
            trusted = sorted({*MLFLOW_SKOPS_TRUSTED_TYPES, *caller_trusted})
        flavors: dict[str, dict[str, Any]] = {
            PYFUNC: {"loader_module": "mlflow.lightgbm", "data": file_name},
            FLAVOR_NAME: {
                "lgb_version": lightgbm.__version__,
                "data": file_name,
                "model_class": _class_name(model),
                "code": None,
                "serialization_format": serialization_format,
                "skops_trusted_types": trusted,
            },
        }
        return SavedFlavor(
            flavors,
            _requirements(is_booster, serialization_format),
            predict=model.predict,
            digests=[digest_of(data)],
        )

    def code_files(self, *, directory: Path, mlmodel: Model) -> list[Path]:
        conf = mlmodel.flavors.get(FLAVOR_NAME, {})
        if conf.get("model_class", BOOSTER_CLASS) == BOOSTER_CLASS:
            return []
        pickled = conf.get("serialization_format", "cloudpickle") != "skops"
        return [_model_file(directory, mlmodel)] if pickled else []

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
        lightgbm = require("lightgbm", "loading a LightGBM model")
        if conf.get("model_class", BOOSTER_CLASS) == BOOSTER_CLASS:
            try:
                return lightgbm.Booster(model_file=str(path))
            except lightgbm.basic.LightGBMError as exc:
                raise InvalidInputError(f"cannot read the LightGBM model {path}: {exc}") from None
        serialization = conf.get("serialization_format", "cloudpickle")  # MLflow's default
        trusted = TRUSTED_SKOPS_TYPES.union(skops_trusted_types)
        return load_serialized(path, serialization, trusted, trust)

    def load_pyfunc(
        self,
        *,
        directory: Path,
        mlmodel: Model,
        trust: ModelTrust,
        skops_trusted_types: Iterable[str] = (),
    ) -> LightGBMPredictor:
        model = self.load_native(
            directory=directory,
            mlmodel=mlmodel,
            trust=trust,
            skops_trusted_types=skops_trusted_types,
        )
        return LightGBMPredictor(model)


class LightGBMPredictor:
    """A Booster or an estimator behind ``PyFuncModel``: its ``predict``, as MLflow's
    wrapper calls it (a multiclass Booster gives one probability per class)."""

    def __init__(self, model: Any) -> None:
        self.model = model

    def predict(self, data: Any, params: dict[str, Any] | None = None) -> Any:
        return self.model.predict(data)

    @property
    def classes(self) -> list[Any] | None:
        classes = getattr(self.model, "classes_", None)
        return None if classes is None else list(classes)

    def predict_proba(self, data: Any) -> Any:
        method = getattr(self.model, "predict_proba", None)
        return None if method is None else method(data)

    @property
    def raw_model(self) -> Any:
        return self.model


def _serialize(
    model: Any, is_booster: bool, serialization_format: str, trusted: list[str]
) -> tuple[str, bytes]:
    """The file name and bytes of the model: LightGBM's text for a Booster, else the
    estimator in ``serialization_format``."""
    if is_booster:
        return "model.lgb", model.model_to_string().encode()
    if serialization_format == "skops":
        require("sklearn", "saving a LightGBM scikit-learn estimator")
        data, _ = _skops_dump(model, sorted(TRUSTED_SKOPS_TYPES.union(trusted)))
        return "model.skops", data
    pickler = require("cloudpickle", "saving a model with cloudpickle")
    module = pickler if serialization_format == "cloudpickle" else pickle
    return "model.pkl", module.dumps(model, protocol=pickle.DEFAULT_PROTOCOL)


def _requirements(is_booster: bool, serialization_format: str) -> list[str]:
    """As MLflow pins them: lightgbm, and the serializer of an estimator; scikit-learn,
    which the estimators need to load; pandas, which reads scoring requests."""
    needs = ["lightgbm"]
    if not is_booster:
        needs.append("scikit-learn")
        if serialization_format != "pickle":
            needs.append(serialization_format)
    if installed_version("pandas"):
        needs.append("pandas")
    return needs


def _class_name(model: Any) -> str:
    cls = type(model)
    return f"{cls.__module__}.{cls.__name__}"


def _model_file(directory: Path, mlmodel: Model) -> Path:
    conf = mlmodel.flavors.get(FLAVOR_NAME, {})
    file_name = conf.get("data") or (mlmodel.pyfunc_conf or {}).get("data")
    if not file_name:
        raise InvalidInputError(f"{directory}/MLmodel does not say where the model file is")
    return directory / file_name
