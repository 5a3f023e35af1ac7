"""The flavor registry: every flavor mlcli can save and load, by name and by loader module."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from mlcli.errors import InvalidInputError
from mlcli.models.flavors.base import Flavor, Predictor, SavedFlavor
from mlcli.models.flavors.keras import KerasFlavor
from mlcli.models.flavors.lightgbm import LightGBMFlavor
from mlcli.models.flavors.onnx import OnnxFlavor
from mlcli.models.flavors.python_function import PythonFunctionFlavor
from mlcli.models.flavors.pytorch import PytorchFlavor
from mlcli.models.flavors.sklearn import SklearnFlavor
from mlcli.models.flavors.xgboost import XGBoostFlavor
from mlcli.models.mlmodel import Model

# A library's scikit-learn API estimators are also sklearn BaseEstimators: its flavor
# comes before sklearn's, so that it saves them (flavor_for_model takes the first).
FLAVORS: Mapping[str, Flavor] = MappingProxyType(
    {
        f.name: f
        for f in (
            LightGBMFlavor(),
            XGBoostFlavor(),
            SklearnFlavor(),
            OnnxFlavor(),
            KerasFlavor(),  # before pytorch: with the torch backend it is a torch Module
            PytorchFlavor(),
            PythonFunctionFlavor(),
        )
    }
)

__all__ = [
    "FLAVORS",
    "Flavor",
    "Predictor",
    "SavedFlavor",
    "flavor_for_model",
    "get_flavor",
    "pyfunc_flavor_of",
]


def get_flavor(name: str) -> Flavor:
    try:
        return FLAVORS[name]
    except KeyError:
        raise InvalidInputError(
            f"unknown flavor {name!r}: expected one of {', '.join(sorted(FLAVORS))}"
        ) from None


def flavor_for_model(model: object) -> Flavor:
    """The flavor that saves ``model`` (a scikit-learn estimator, a PythonModel...)."""
    for flavor in FLAVORS.values():
        if flavor.accepts(model):
            return flavor
    raise InvalidInputError(
        f"no flavor saves a {type(model).__module__}.{type(model).__name__}: mlcli saves "
        "scikit-learn estimators and subclasses of mlcli.pyfunc.PythonModel"
    )


def pyfunc_flavor_of(mlmodel: Model, where: str) -> Flavor:
    """The flavor that loads a model's python_function implementation, found through the
    ``loader_module`` it names (MLflow's names included)."""
    conf = mlmodel.pyfunc_conf
    if conf is None:
        known = [name for name in mlmodel.flavors if name in FLAVORS]
        if known:  # MLflow leaves python_function out when an estimator cannot predict
            return FLAVORS[known[0]]
        raise InvalidInputError(
            f"the model at {where} has no python_function flavor "
            f"(it has: {', '.join(mlmodel.flavors) or 'none'})"
        )
    loader = conf.get("loader_module")
    for flavor in FLAVORS.values():
        if loader in flavor.loader_modules:
            return flavor
    supported = sorted(m for f in FLAVORS.values() for m in f.loader_modules)
    raise InvalidInputError(
        f"the model at {where} needs loader module {loader!r}, which mlcli does not support "
        f"(supported: {', '.join(supported)})"
    )
