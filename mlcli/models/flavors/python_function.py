"""The ``python_function`` flavor for custom models: a cloudpickled :class:`PythonModel`.

Layout, the same as MLflow's custom models::

    MLmodel                 python_function: {loader_module: mlflow.pyfunc.model,
                                              python_model: python_model.pkl,
                                              artifacts: {name: {path: artifacts/file}}}
    python_model.pkl        the instance, cloudpickled
    artifacts/<file>        copies of the files named by ``artifacts={name: path}``
    code/                   the files and folders of ``code_paths`` (mlcli.models.code_paths)
    wheels/mlcli-*.whl      only for a model that cannot load without mlcli (below)

A model from code (``python_model="model.py"``) has ``model.py`` in place of the pickle
and ``loader_module: mlflow.pyfunc.loaders.code_model`` (:mod:`mlcli.models.from_code`).

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
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, ClassVar

from mlcli.errors import InvalidInputError, NotFoundError
from mlcli.models.flavors.base import Flavor, SavedFlavor
from mlcli.models.mlmodel import PYFUNC, Model
from mlcli.models.packages import installed_version, require
from mlcli.models.python_model import PythonModel, PythonModelContext
from mlcli.models.trust import ModelTrust, digest_of, mlflow_allows_code, trust_for

PYTHON_MODEL_FILE = "python_model.pkl"
ARTIFACTS_DIR = "artifacts"
WHEELS_DIR = "wheels"
LOADER_MODULE = "mlflow.pyfunc.model"
OLD_LOADER_MODULE = "mlcli.pyfunc"  # what mlcli wrote before
CODE_MODEL_LOADER_MODULE = "mlflow.pyfunc.loaders.code_model"  # models from code
MODEL_CODE_PATH = "model_code_path"
CONFIG_KEY = "config"  # model_config, under MLflow's key
OLD_CONFIG_KEY = "model_config"  # where mlcli wrote it before


class PythonFunctionFlavor(Flavor):
    name: ClassVar[str] = PYFUNC
    loader_modules: ClassVar[tuple[str, ...]] = (
        LOADER_MODULE,
        CODE_MODEL_LOADER_MODULE,
        OLD_LOADER_MODULE,
    )

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
        model_config: Mapping[str, Any] | str | os.PathLike[str] | None = None,
    ) -> SavedFlavor:
        model_config = _model_config_of(model_config)
        if isinstance(model, str | os.PathLike):
            return _save_code_model(Path(model), directory, artifacts, model_config)
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
            conf[CONFIG_KEY] = model_config
        needs = ["cloudpickle", *_distributions_used_by(model)]
        if _needs_mlcli(model, data):
            needs += _write_mlcli_wheel(directory)
        predict = _example_predictor(model, directory, saved_artifacts, model_config)
        return SavedFlavor({PYFUNC: conf}, needs, predict=predict, digests=[digest_of(data)])

    def code_files(self, *, directory: Path, mlmodel: Model) -> list[Path]:
        conf = mlmodel.pyfunc_conf or {}
        if conf.get(MODEL_CODE_PATH):
            return [_code_file_of(directory, conf)]
        file_name = conf.get("python_model")
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
        saved_config = conf.get(CONFIG_KEY) or conf.get(OLD_CONFIG_KEY) or {}
        config = {**saved_config, **(model_config or {})}
        if conf.get(MODEL_CODE_PATH):
            from mlcli.models.from_code import run_model_code

            path = _code_file_of(directory, conf)
            source = trust.code_bytes(path, "the Python file of a model from code")
            python_model, _ = run_model_code(source, path, config)
        else:
            python_model = _unpickle(directory, conf, trust)
        artifacts = {
            name: str(directory / info["path"])
            for name, info in (conf.get("artifacts") or {}).items()
        }
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
    ``MLFLOW_ALLOW_MODEL_CODE_EXECUTION`` (and its older name), on unless set to false
    (mlcli's records and ``MLCLI_ALLOW_PICKLE`` still let the model in when it is false)."""
    directory = Path(data_path)
    mlmodel = Model.load(directory)
    trust = trust_for(directory, allow_pickle=mlflow_allows_code())
    return PythonFunctionFlavor().load_pyfunc(
        directory=directory, mlmodel=mlmodel, trust=trust, model_config=model_config
    )


def _unpickle(directory: Path, conf: Mapping[str, Any], trust: ModelTrust) -> Any:
    file_name = conf.get("python_model")
    if not file_name:
        raise InvalidInputError(f"{directory}/MLmodel does not name its python_model file")
    data = trust.code_bytes(directory / file_name, "a cloudpickle file")
    cloudpickle = require("cloudpickle", "loading a custom python model")
    try:
        return cloudpickle.loads(data)
    except ModuleNotFoundError as exc:
        raise InvalidInputError(
            f"{file_name} needs the module {exc.name!r}, which is not installed here"
        ) from None


def _save_code_model(
    source: Path,
    directory: Path,
    artifacts: Mapping[str, str] | None,
    model_config: dict[str, Any] | None,
) -> SavedFlavor:
    """A model from code: the file copied into the model, run once here (as MLflow does)
    to check that it sets a model and to find what the model needs."""
    from mlcli.models.from_code import imports_module, run_model_code

    if not source.is_file():
        hint = f" Perhaps you meant '{source}.py'?" if not source.suffix else ""
        raise NotFoundError(f"the model code file {str(source)!r} does not exist.{hint}")
    if (directory / source.name).exists() or source.name in _RESERVED_NAMES:
        raise InvalidInputError(f"a model's code file cannot be called {source.name!r}")
    data = source.read_bytes()
    python_model, module = run_model_code(data, source, model_config)
    (directory / source.name).write_bytes(data)
    saved_artifacts = _copy_artifacts(artifacts or {}, directory)
    conf: dict[str, Any] = {
        "loader_module": CODE_MODEL_LOADER_MODULE,
        "model_code_path": str(source.resolve()),
        "cloudpickle_version": installed_version("cloudpickle"),
        "code": None,
        "streamable": False,
    }
    if saved_artifacts:
        conf["artifacts"] = saved_artifacts
    if model_config:
        conf[CONFIG_KEY] = model_config
    from mlcli.models.packages import distributions_of

    needs = [*distributions_of(_imported_modules(module)), *_distributions_used_by(python_model)]
    if imports_module(data, "mlcli"):
        needs += _write_mlcli_wheel(directory)
    return SavedFlavor({PYFUNC: conf}, needs, predict=None, digests=[digest_of(data)])


_RESERVED_NAMES = frozenset(
    {
        "MLmodel",
        PYTHON_MODEL_FILE,
        "requirements.txt",
        "constraints.txt",
        "conda.yaml",
        "python_env.yaml",
        "input_example.json",
        "serving_input_example.json",
    }
)


def _imported_modules(module: Any) -> set[str]:
    """The modules a model's code file bound to names (``import pandas as pd``...)."""
    names = set()
    for value in vars(module).values():
        if isinstance(value, type(sys)):
            names.add(value.__name__)
        elif isinstance(value, type) or callable(value):
            names.add(getattr(value, "__module__", "") or "")
    return {name for name in names if name and not name.startswith("mlcli_code_model_")}


def _code_file_of(directory: Path, conf: Mapping[str, Any]) -> Path:
    """The model's code file: the file name of ``model_code_path``, inside the model, as
    MLflow's loader reads it."""
    name = os.path.basename(str(conf.get(MODEL_CODE_PATH)))
    if not name or name in (".", ".."):
        raise InvalidInputError(f"{directory}/MLmodel names no model code file")
    return directory / name


def _model_config_of(
    model_config: Mapping[str, Any] | str | os.PathLike[str] | None,
) -> dict[str, Any] | None:
    """``model_config`` as MLflow takes it: a mapping with string keys of JSON values, or
    a path to a YAML file of one."""
    import json

    if model_config is None:
        return None
    if isinstance(model_config, str | os.PathLike):
        import yaml

        path = Path(model_config)
        if not path.is_file():
            raise NotFoundError(f"model_config file {str(path)!r} does not exist")
        try:
            model_config = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (yaml.YAMLError, UnicodeDecodeError) as exc:
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise InvalidInputError(
                f"model_config file {str(path)!r} is not YAML: {first}"
            ) from None
    if not isinstance(model_config, Mapping) or not all(isinstance(k, str) for k in model_config):
        raise InvalidInputError(
            "model_config must be a mapping with string keys or a path to a YAML file"
        )
    try:
        json.dumps(dict(model_config))
    except (TypeError, ValueError):
        raise InvalidInputError("model_config's values must be JSON values") from None
    return dict(model_config)


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


def _example_predictor(
    python_model: Any,
    directory: Path,
    saved_artifacts: Mapping[str, Mapping[str, str]],
    model_config: Mapping[str, Any] | None,
) -> Callable[[Any], Any]:
    """The model's predict, its context loaded (with the artifacts as saved), for the
    output part of a signature inferred from the input example, as MLflow infers it."""

    def predict(data: Any) -> Any:
        artifacts = {name: str(directory / info["path"]) for name, info in saved_artifacts.items()}
        context = _context_for(python_model, artifacts, dict(model_config or {}))
        python_model.load_context(context)
        return PythonModelPredictor(python_model, context).predict(data)

    return predict


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
