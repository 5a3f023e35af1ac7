"""Models from code (MLflow 3): the model is a Python file, not a pickle.

``log_model(name=..., python_model="model.py")`` copies the file into the model; the
file defines the model and hands it over with ``mlcli.models.set_model(MyModel())``
(MLflow's ``mlflow.models.set_model`` works too, where MLflow is installed). Loading
runs the file and takes the model it set. ``MLmodel`` says so as MLflow does::

    python_function:
      loader_module: mlflow.pyfunc.loaders.code_model
      model_code_path: /where/it/was/model.py     # the file is <model>/model.py
      config: {...}                               # model_config, if given

so MLflow's ``mlflow.pyfunc.load_model`` loads the model too (mlcli must be installed
there when the file imports mlcli; the model then carries mlcli's wheel, see
:mod:`mlcli.models.flavors.python_function`).

Running the file runs whatever it says, as unpickling does: the file loads only when
mlcli wrote it (its digest is recorded when the model is saved) or with the user's
opt-in (:mod:`mlcli.models.trust`), and the bytes checked are the bytes run.
"""

from __future__ import annotations

import ast
import sys
import types
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from mlcli.errors import InvalidInputError

LOADER_MODULE = "mlflow.pyfunc.loaders.code_model"
MODEL_CODE_PATH = "model_code_path"

_model: Any = None
_model_config: Mapping[str, Any] | None = None


def set_model(model: Any) -> None:
    """Hand the model defined in a model's code file to whoever runs the file: a
    ``PythonModel`` (mlcli's or MLflow's) or a function of the input (MLflow's
    ``mlflow.models.set_model``)."""
    global _model
    if isinstance(model, str) or not (callable(model) or hasattr(model, "predict")):
        raise InvalidInputError(
            "set_model takes a PythonModel instance or a function of the model input, "
            f"not {type(model).__name__}"
        )
    _model = model
    mlflow_model = sys.modules.get("mlflow.models.model")
    if mlflow_model is not None:  # MLflow's loader is running the file
        setattr(mlflow_model, "__mlflow_model__", model)  # noqa: B010 (a module's global)


def model_config() -> Mapping[str, Any] | None:
    """The ``model_config`` of the model whose code file is running (None otherwise)."""
    return _model_config


def imports_module(source: bytes, name: str) -> bool:
    """Whether the Python source imports the top-level module ``name``."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return False
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            if any(alias.name.split(".")[0] == name for alias in node.names):
                return True
        elif (
            isinstance(node, ast.ImportFrom)
            and node.level == 0
            and node.module
            and node.module.split(".")[0] == name
        ):
            return True
    return False


def run_model_code(
    source: bytes, path: Path, config: Mapping[str, Any] | None = None
) -> tuple[Any, Any]:
    """Run a model's code file (its trusted bytes ``source``, read from ``path``) as a
    fresh module; the model it set, as a PythonModel, and the module."""
    global _model, _model_config
    file_name = path.name
    uses_mlflow = imports_module(source, "mlflow")
    try:
        code = compile(source, str(path), "exec")
    except SyntaxError as exc:
        raise InvalidInputError(
            f"{file_name} is not valid Python: {exc.msg} (line {exc.lineno})"
        ) from None
    module = types.ModuleType(f"mlcli_code_model_{uuid.uuid4().hex}")
    module.__file__ = str(path)
    sys.modules[module.__name__] = module
    _model, _model_config = None, config
    with _mlflow_context(uses_mlflow, config):
        try:
            exec(code, module.__dict__)
        except ModuleNotFoundError as exc:
            hint = (
                "; install mlflow, or import mlcli instead (from mlcli.models import set_model)"
                if exc.name and exc.name.split(".")[0] == "mlflow"
                else ""
            )
            raise InvalidInputError(
                f"{file_name} needs the module {exc.name!r}, which is not installed here{hint}"
            ) from None
        except InvalidInputError:
            raise
        except Exception as exc:
            raise InvalidInputError(
                f"running {file_name} failed: {type(exc).__name__}: {exc}"
            ) from None
        finally:
            _model_config = None
        model = _model
        if model is None and uses_mlflow:  # reset above: no stale model of another file
            model = _mlflow_model_set()
    _model = None
    if model is None:
        raise InvalidInputError(
            f"{file_name} did not set a model: end it with mlcli.models.set_model(model) "
            "(or mlflow.models.set_model)"
        )
    return as_python_model(model), module


def as_python_model(model: Any) -> Any:
    """A model set by its code file, as a PythonModel: a plain function is wrapped."""
    if hasattr(model, "predict"):
        return model
    return FunctionModel(model)


class FunctionModel:
    """A function of the input, as a model (MLflow's function models)."""

    def __init__(self, func: Callable[[Any], Any]) -> None:
        self.func = func

    def load_context(self, context: Any) -> None:
        """Nothing to load."""

    def predict(self, model_input: Any, params: dict[str, Any] | None = None) -> Any:
        return self.func(model_input)


@contextmanager
def _mlflow_context(uses_mlflow: bool, config: Mapping[str, Any] | None) -> Iterator[None]:
    """For a file that imports mlflow: MLflow's own holders reset (and its model config
    set, for ``mlflow.models.ModelConfig``), as MLflow's loader sets them."""
    if not uses_mlflow:
        yield
        return
    try:
        import mlflow.models.model as mlflow_model
        import mlflow.models.model_config as mlflow_config
    except ImportError:  # the file's own import says which module is missing
        yield
        return
    setattr(mlflow_model, "__mlflow_model__", None)  # noqa: B010
    setattr(mlflow_config, "__mlflow_model_config__", dict(config) if config else "")  # noqa: B010
    try:
        yield
    finally:
        setattr(mlflow_config, "__mlflow_model_config__", None)  # noqa: B010


def _mlflow_model_set() -> Any:
    mlflow_model = sys.modules.get("mlflow.models.model")
    if mlflow_model is None:
        return None
    model = getattr(mlflow_model, "__mlflow_model__", None)
    setattr(mlflow_model, "__mlflow_model__", None)  # noqa: B010
    return model
