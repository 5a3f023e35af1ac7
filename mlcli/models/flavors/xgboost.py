"""The ``xgboost`` flavor: a ``Booster`` or a scikit-learn API model (``XGBClassifier``,
``XGBRegressor``, ``XGBRanker``...) in XGBoost's own JSON or UBJSON format.

Neither format holds code: loading parses the trees and nothing else, so these models
need no opt-in. The class to load into is the MLmodel's ``model_class`` (as MLflow
records it, ``xgboost.core.Booster``, ``xgboost.sklearn.XGBClassifier``); since
importing a module runs it, mlcli takes only XGBoost's own classes from that line, and
any other (a user's subclass) only with the opt-in of :mod:`mlcli.models.trust`.

The python_function section says ``loader_module: mlflow.xgboost``, so that MLflow
loads these models with its own loader; mlcli maps that name back here.
"""

from __future__ import annotations

import importlib
import inspect
import logging
import sys
from pathlib import Path
from typing import Any, ClassVar

from mlcli.errors import InvalidInputError
from mlcli.models.errors import UntrustedModelError
from mlcli.models.flavors.base import Flavor, SavedFlavor
from mlcli.models.mlmodel import PYFUNC, Model
from mlcli.models.packages import distributions_of, installed_version, require
from mlcli.models.trust import OPT_IN_HINT, ModelTrust, digest_of, read_model_file

FLAVOR_NAME = "xgboost"
MODEL_FORMATS = ("ubj", "json")
DEFAULT_MODEL_FORMAT = "ubj"
BOOSTER_CLASS = "xgboost.core.Booster"
_log = logging.getLogger("mlcli")


class XGBoostFlavor(Flavor):
    name: ClassVar[str] = FLAVOR_NAME
    loader_modules: ClassVar[tuple[str, ...]] = ("mlflow.xgboost", "mlcli.xgboost")

    def accepts(self, model: object) -> bool:
        core, sklearn_api = sys.modules.get("xgboost.core"), sys.modules.get("xgboost.sklearn")
        return (core is not None and isinstance(model, core.Booster)) or (
            sklearn_api is not None and isinstance(model, sklearn_api.XGBModel)
        )

    def save(
        self, model: Any, directory: Path, *, model_format: str = DEFAULT_MODEL_FORMAT
    ) -> SavedFlavor:
        xgb = require("xgboost", "saving an XGBoost model")
        if model_format not in MODEL_FORMATS:
            raise InvalidInputError(
                f"unknown model format {model_format!r}: expected one of "
                + ", ".join(MODEL_FORMATS)
                + " (XGBoost's own formats; mlcli never pickles an XGBoost model)"
            )
        if not self.accepts(model):
            raise InvalidInputError(
                f"{type(model).__name__} is not an XGBoost model: expected an xgboost.Booster "
                "or a scikit-learn API model (XGBClassifier, XGBRegressor...)"
            )
        if isinstance(model, xgb.XGBModel) and not model.__sklearn_is_fitted__():
            raise InvalidInputError(f"cannot save this {type(model).__name__}: it is not fitted")
        file_name = f"model.{model_format}"
        try:
            model.save_model(str(directory / file_name))
        except xgb.core.XGBoostError as exc:  # an unfitted XGBClassifier, mostly
            raise InvalidInputError(f"cannot save this {type(model).__name__}: {exc}") from None
        flavors: dict[str, dict[str, Any]] = {
            PYFUNC: {"loader_module": "mlflow.xgboost", "data": file_name},
            FLAVOR_NAME: {
                "code": None,
                "data": file_name,
                "model_class": f"{type(model).__module__}.{type(model).__qualname__}",
                "model_format": model_format,
                "xgb_version": xgb.__version__,
            },
        }
        predictor = XGBoostPredictor(model)
        return SavedFlavor(
            flavors,
            _requirements(model),
            predict=lambda data: predictor.predict(data),
            digests=[digest_of((directory / file_name).read_bytes())],
        )

    def load_native(self, *, directory: Path, mlmodel: Model, trust: ModelTrust) -> Any:
        require("xgboost", "loading an XGBoost model")
        conf = mlmodel.flavors.get(FLAVOR_NAME, {})
        file_name = conf.get("data") or (mlmodel.pyfunc_conf or {}).get("data")
        if not file_name:
            raise InvalidInputError(f"{directory}/MLmodel does not say where the model file is")
        xgb = sys.modules["xgboost"]
        model = model_class(conf.get("model_class") or BOOSTER_CLASS, trust)()
        # From the bytes: XGBoost tells JSON from UBJSON by their content, whatever the
        # file's name (an old MLflow model's model.xgb included).
        try:
            model.load_model(bytearray(read_model_file(directory / file_name)))
        except xgb.core.XGBoostError as exc:
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else "unreadable"
            raise InvalidInputError(
                f"XGBoost cannot load {directory / file_name}: {reason}"
            ) from None
        return model

    def load_pyfunc(
        self, *, directory: Path, mlmodel: Model, trust: ModelTrust
    ) -> XGBoostPredictor:
        return XGBoostPredictor(self.load_native(directory=directory, mlmodel=mlmodel, trust=trust))


class XGBoostPredictor:
    """An XGBoost model behind ``PyFuncModel``. A Booster predicts on a ``DMatrix`` of
    the input; a scikit-learn API model on the input itself. ``params`` are keywords of
    the model's ``predict`` (``output_margin``, ``iteration_range``...); others are
    ignored with a warning, as MLflow does."""

    def __init__(self, model: Any) -> None:
        self.model = model

    def predict(self, data: Any, params: dict[str, Any] | None = None) -> Any:
        import xgboost as xgb

        kwargs = _accepted(self.model.predict, params or {})
        if isinstance(self.model, xgb.Booster):
            return self.model.predict(xgb.DMatrix(data), validate_features=True, **kwargs)
        return self.model.predict(data, validate_features=True, **kwargs)

    def predict_proba(self, data: Any) -> Any:
        """Class probabilities (for ``mlcli evaluate``) in float64, each row summing to 1:
        XGBoost's float32 rows are off by rounding, which scikit-learn's metrics warn of."""
        method = getattr(self.model, "predict_proba", None)
        if method is None:
            return None
        probabilities = method(data, validate_features=True).astype("float64")
        if probabilities.ndim == 2:
            probabilities /= probabilities.sum(axis=1, keepdims=True)
        return probabilities

    @property
    def classes(self) -> list[Any] | None:
        classes = getattr(self.model, "classes_", None)
        return None if classes is None else list(classes)

    @property
    def raw_model(self) -> Any:
        return self.model


def model_class(name: str, trust: ModelTrust) -> type:
    """The XGBoost model class an MLmodel names: XGBoost's own, or (with the opt-in)
    another module's subclass of one."""
    import xgboost as xgb

    module_name, _, attribute = name.rpartition(".")
    if module_name.split(".")[0] != "xgboost" and not trust.allow_pickle:
        raise UntrustedModelError(
            f"refusing to import {name}, the model class its MLmodel names: mlcli loads "
            f"XGBoost's own classes only, unless you trust the model ({OPT_IN_HINT})"
        )
    try:
        candidate = getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError, ValueError):
        raise InvalidInputError(f"the model class {name!r} cannot be imported") from None
    if not (isinstance(candidate, type) and issubclass(candidate, (xgb.Booster, xgb.XGBModel))):
        raise InvalidInputError(f"{name} is not an XGBoost model class")
    return candidate


def _requirements(model: Any) -> list[str]:
    """As MLflow lists them: XGBoost (the distribution installed here: xgboost, or
    xgboost-cpu), scikit-learn for the scikit-learn API models, and pandas, which reads
    scoring requests."""
    needs = distributions_of({"xgboost"}) or ["xgboost"]
    if not isinstance(model, sys.modules["xgboost.core"].Booster):
        needs.append("scikit-learn")
    if installed_version("pandas"):
        needs.append("pandas")
    return needs


def _accepted(method: Any, params: dict[str, Any]) -> dict[str, Any]:
    accepted = inspect.signature(method).parameters
    kept = {k: v for k, v in params.items() if k in accepted and k != "validate_features"}
    if len(kept) < len(params):
        _log.warning(
            "params %s are not accepted by the XGBoost model; ignored",
            ", ".join(sorted(set(params) - set(kept))),
        )
    return kept
