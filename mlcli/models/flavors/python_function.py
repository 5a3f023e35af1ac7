"""The ``python_function`` flavor for custom models: a cloudpickled :class:`PythonModel`.

Layout, the same as MLflow's custom models::

    MLmodel                 python_function: {loader_module: mlflow.pyfunc.model,
                                              python_model: python_model.pkl,
                                              artifacts: {name: {path: artifacts/file}}}
    python_model.pkl        the instance, cloudpickled
    artifacts/<file>        copies of the files named by ``artifacts={name: path}``
    wheels/mlcli-*.whl      only for a model that cannot load without mlcli (below)

``loader_module`` is MLflow's own custom-model loader, so ``mlflow.pyfunc.load_model``
and ``mlflow models serve`` load these models without mlcli: the model's class, when
defined in ``__main__``, is pickled by value, and so is its base class
(:mod:`mlcli.models.python_model`, which imports nothing of mlcli). A class defined in
an importable module is pickled by reference, as MLflow does: loading imports that
module, which imports mlcli. Such a model, or one whose pickle names a module of
mlcli, carries a wheel of the running mlcli in ``wheels/`` and lists it in its
requirements (MLflow's layout for wheeled models), which MLflow's virtualenv and conda
environments install. mlcli maps the loader name back here (models saved before this,
``loader_module: mlcli.pyfunc``, load too).

``python_model.pkl`` runs code when loaded: it loads through
:class:`~mlcli.models.trust.ModelTrust` (files mlcli wrote, or the user's opt-in).
"""

from __future__ import annotations

import inspect
import os
import shutil
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, ClassVar

from mlcli.errors import InvalidInputError, NotFoundError
from mlcli.models.flavors.base import Flavor, SavedFlavor
from mlcli.models.mlmodel import PYFUNC, Model
from mlcli.models.packages import installed_version, require
from mlcli.models.python_model import PythonModel, PythonModelContext
from mlcli.models.trust import MLFLOW_PICKLE_OPT_IN_VARIABLE, ModelTrust, digest_of, trust_for

PYTHON_MODEL_FILE = "python_model.pkl"
ARTIFACTS_DIR = "artifacts"
WHEELS_DIR = "wheels"
LOADER_MODULE = "mlflow.pyfunc.model"
OLD_LOADER_MODULE = "mlcli.pyfunc"  # what mlcli wrote before


class PythonFunctionFlavor(Flavor):
    name: ClassVar[str] = PYFUNC
    loader_modules: ClassVar[tuple[str, ...]] = (LOADER_MODULE, OLD_LOADER_MODULE)

    def accepts(self, model: object) -> bool:
        if is_mlcli_python_model(model):
            return True
        mlflow_model = sys.modules.get("mlflow.pyfunc.model")
        return mlflow_model is not None and isinstance(model, mlflow_model.PythonModel)

    def save(
        self,
        model: Any,
        directory: Path,
        *,
        artifacts: Mapping[str, str] | None = None,
        model_config: Mapping[str, Any] | None = None,
    ) -> SavedFlavor:
        if not self.accepts(model):
            raise InvalidInputError(
                f"python_model must be an instance of mlcli.pyfunc.PythonModel, "
                f"not {type(model).__name__}"
            )
        cloudpickle = require("cloudpickle", "saving a custom python model")
        saved_artifacts = _copy_artifacts(artifacts or {}, directory)
        data = _pickle(cloudpickle, model)
        (directory / PYTHON_MODEL_FILE).write_bytes(data)
        conf: dict[str, Any] = {
            "loader_module": LOADER_MODULE,
            "python_model": PYTHON_MODEL_FILE,
            "cloudpickle_version": installed_version("cloudpickle"),
            "code": None,
        }
        if saved_artifacts:
            conf["artifacts"] = saved_artifacts
        if model_config:
            conf["model_config"] = dict(model_config)
        needs = ["cloudpickle", *_distributions_used_by(model)]
        if _needs_mlcli(model, data):
            needs += _write_mlcli_wheel(directory)
        return SavedFlavor({PYFUNC: conf}, needs, predict=None, digests=[digest_of(data)])

    def code_files(self, *, directory: Path, mlmodel: Model) -> list[Path]:
        file_name = (mlmodel.pyfunc_conf or {}).get("python_model")
        return [directory / file_name] if file_name else []

    def load_native(
        self, *, directory: Path, mlmodel: Model, trust: ModelTrust, **options: Any
    ) -> Any:
        return self.load_pyfunc(
            directory=directory, mlmodel=mlmodel, trust=trust, **options
        ).python_model

    def load_pyfunc(
        self,
        *,
        directory: Path,
        mlmodel: Model,
        trust: ModelTrust,
        model_config: Mapping[str, Any] | None = None,
    ) -> PythonModelPredictor:
        conf = mlmodel.pyfunc_conf or {}
        file_name = conf.get("python_model")
        if not file_name:
            raise InvalidInputError(f"{directory}/MLmodel does not name its python_model file")
        data = trust.code_bytes(directory / file_name, "a cloudpickle file")
        cloudpickle = require("cloudpickle", "loading a custom python model")
        try:
            python_model = cloudpickle.loads(data)
        except ModuleNotFoundError as exc:
            raise InvalidInputError(
                f"{file_name} needs the module {exc.name!r}, which is not installed here"
            ) from None
        artifacts = {
            name: str(directory / info["path"])
            for name, info in (conf.get("artifacts") or {}).items()
        }
        config = {**(conf.get("model_config") or {}), **(model_config or {})}
        context = _context_for(python_model, artifacts, config)
        python_model.load_context(context)
        return PythonModelPredictor(python_model, context)


class PythonModelPredictor:
    """Calls the custom model's ``predict`` with the context, passing ``params`` only if
    its ``predict`` takes them (MLflow allows both, and a predict without context)."""

    def __init__(self, python_model: Any, context: Any) -> None:
        self.python_model = python_model
        self.context = context

    def predict(self, data: Any, params: dict[str, Any] | None = None) -> Any:
        return _call(self.python_model.predict, self.context, data, params)

    def predict_proba(self, data: Any) -> Any:
        method = getattr(self.python_model, "predict_proba", None)
        return None if method is None else _call(method, self.context, data, None)

    @property
    def classes(self) -> list[Any] | None:
        classes = getattr(self.python_model, "classes_", None)
        return None if classes is None else list(classes)

    @property
    def raw_model(self) -> Any:
        return self.python_model


def load_for_mlflow(data_path: str, model_config: Mapping[str, Any] | None = None) -> Any:
    """MLflow's loader protocol (``loader_module._load_pyfunc(path)``) for mlcli models.
    The caller chose MLflow, so MLflow's pickle policy decides:
    ``MLFLOW_ALLOW_PICKLE_DESERIALIZATION``, on unless set to false (mlcli's records
    and ``MLCLI_ALLOW_PICKLE`` still let the model in when it is false)."""
    directory = Path(data_path)
    mlmodel = Model.load(directory)
    mlflow_allows = os.environ.get(MLFLOW_PICKLE_OPT_IN_VARIABLE, "true").strip().lower()
    trust = trust_for(directory, allow_pickle=mlflow_allows == "true")
    return PythonFunctionFlavor().load_pyfunc(
        directory=directory, mlmodel=mlmodel, trust=trust, model_config=model_config
    )


def _call(method: Any, context: Any, data: Any, params: dict[str, Any] | None) -> Any:
    parameters = inspect.signature(method).parameters
    args = (context, data) if "context" in parameters else (data,)
    if "params" in parameters:
        return method(*args, params=params)
    return method(*args)


def _context_for(python_model: Any, artifacts: dict[str, str], config: dict[str, Any]) -> Any:
    """MLflow's context for a subclass of MLflow's PythonModel (unpickling it imported
    MLflow), mlcli's for anything else (mlcli's base class may have been rebuilt by value,
    and is then not this process's PythonModel)."""
    mlflow_model = sys.modules.get("mlflow.pyfunc.model")
    if mlflow_model is not None and isinstance(python_model, mlflow_model.PythonModel):
        return mlflow_model.PythonModelContext(artifacts=artifacts, model_config=config)
    return PythonModelContext(artifacts=artifacts, model_config=config)


def is_mlcli_python_model(model: object) -> bool:
    """Whether ``model`` derives from mlcli's PythonModel: this process's class, or one
    rebuilt by value from a pickle (which keeps its module and name)."""
    return isinstance(model, PythonModel) or any(
        cls.__module__ == PythonModel.__module__ and cls.__qualname__ == PythonModel.__qualname__
        for cls in type(model).__mro__
    )


def _pickle(cloudpickle: Any, model: Any) -> bytes:
    """The model's bytes, mlcli's base class stored by value (see the module docstring)."""
    from mlcli.models import python_model

    cloudpickle.register_pickle_by_value(python_model)
    try:
        return bytes(cloudpickle.dumps(model))
    finally:
        cloudpickle.unregister_pickle_by_value(python_model)


def _needs_mlcli(model: Any, data: bytes) -> bool:
    """Whether loading the pickle imports mlcli: it names a module of mlcli, or the model's
    class comes from an importable module (pickled by reference) deriving from mlcli's
    PythonModel, so that module imports mlcli."""
    from mlcli.models.pickle_scan import imports_package

    if imports_package(data, "mlcli"):
        return True
    cls = type(model)
    by_reference = cls.__module__ != "__main__" and cls.__module__ in sys.modules
    return by_reference and is_mlcli_python_model(model)


def _write_mlcli_wheel(directory: Path) -> list[str]:
    """A wheel of the running mlcli in ``wheels/``; its requirement line, then mlcli's own
    requirements (the wheel declares none: its installers add what they need)."""
    from mlcli.selfwheel import build_self_wheel

    wheel = build_self_wheel()
    (directory / WHEELS_DIR).mkdir(exist_ok=True)
    (directory / WHEELS_DIR / wheel.filename).write_bytes(wheel.data)
    return [f"{WHEELS_DIR}/{wheel.filename}", *wheel.requirements]


def _copy_artifacts(artifacts: Mapping[str, str], directory: Path) -> dict[str, dict[str, str]]:
    saved: dict[str, dict[str, str]] = {}
    for name, source in artifacts.items():
        path = Path(source)
        if not path.exists():
            raise NotFoundError(f"artifact {name!r}: no such file or directory: {path}")
        relative = f"{ARTIFACTS_DIR}/{path.name}"
        if any(info["path"] == relative for info in saved.values()):
            raise InvalidInputError(
                f"artifacts {name!r} and another both have the file name {path.name!r}"
            )
        target = directory / relative
        target.parent.mkdir(exist_ok=True)
        if path.is_dir():  # without following a link out of it
            from mlcli.files.trees import copy_tree

            copy_tree(path, target).warn()
        else:
            shutil.copy2(path, target)
        saved[str(name)] = {"path": relative, "uri": str(source)}
    return saved


def _distributions_used_by(model: Any) -> list[str]:
    """Distributions of the model's classes and of its attributes' types: a model holding
    an estimator needs scikit-learn. Add the rest with ``extra_pip_requirements``."""
    from mlcli.models.packages import distributions_of

    modules = {cls.__module__ for cls in type(model).__mro__}
    for value in vars(model).values():
        items: Iterable[Any] = value.values() if isinstance(value, Mapping) else [value]
        if isinstance(value, list | tuple):
            items = value
        modules.update(type(item).__module__ for item in items)
    return distributions_of(modules)
