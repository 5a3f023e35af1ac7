"""What a model needs installed to be served: its own requirements, mlcli, and the
serving stack.

Serving environments (a virtualenv, an image) get the running mlcli as a wheel, so
that they serve with exactly this code and need no release on an index: a model's
``mlcli`` line (older models start with ``mlcli==<version>``) or the mlcli wheel it
carries (``wheels/mlcli-*.whl``) is left out. So is its ``mlflow`` line, written for
MLflow's loaders, when mlcli loads the model without MLflow: a scikit-learn model, or
a custom model whose pickle imports nothing of MLflow (a subclass of MLflow's own
PythonModel keeps it). mlcli's own requirements (Starlette, uvicorn, Typer...) and
pandas/numpy (every request is read with them) are added, pinned to the versions
installed here, unless the model pins them itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from mlcli.errors import InvalidInputError
from mlcli.models.environment import MLFLOW_DISTRIBUTIONS

if TYPE_CHECKING:
    from mlcli.projects.envs.python_env import PythonEnvSpec
    from mlcli.projects.envs.selfwheel import SelfWheel

PYTHON_ENV_FILE = "python_env.yaml"
REQUIREMENTS_FILE = "requirements.txt"
SERVING_EXTRAS = ("pandas", "numpy")


@dataclass(frozen=True)
class ServingRequirements:
    python: str | None  # "3.11": any patch release of the model's Python
    build: tuple[str, ...]  # installed first (pip, setuptools, wheel pins)
    model: tuple[str, ...]  # the model's lines, without mlcli, local paths absolute
    serving: tuple[str, ...]  # what serving adds, pinned
    wheel: SelfWheel

    @property
    def lines(self) -> list[str]:
        return [*self.model, *self.serving]


def serving_requirements(model_dir: Path) -> ServingRequirements:
    from mlcli.projects.envs.selfwheel import build_self_wheel

    spec = model_env_spec(model_dir)
    model: list[str] = []
    for line in spec.requirement_lines(spec.dependencies, model_dir):
        option, _, target = line.partition(" ")
        if option in ("-r", "--requirement"):
            model += _read_requirements(Path(target), spec)
        else:
            model.append(line)
    dropped = {"mlcli"} if needs_mlflow(model_dir) else {"mlcli", *MLFLOW_DISTRIBUTIONS}
    model = [line for line in model if requirement_name(line) not in dropped]
    model = [line for line in model if not _is_mlcli_wheel(line)]
    wheel = build_self_wheel()
    named = {requirement_name(line) for line in model}
    wanted = (*wheel.requirements, *SERVING_EXTRAS)
    serving = [pinned(r) for r in wanted if requirement_name(r) not in named]
    python = ".".join(spec.python.split(".")[:2]) if spec.python else None
    build = spec.requirement_lines(spec.build_dependencies, model_dir)
    return ServingRequirements(python, tuple(build), tuple(model), tuple(serving), wheel)


def needs_mlflow(model_dir: Path) -> bool:
    """Whether mlcli needs MLflow installed to load the model in ``model_dir``: only a
    custom model whose pickle imports a module of MLflow does, or a model whose Python
    code (a model from code's file, a module of its ``code/`` folder) imports mlflow."""
    from mlcli.models.from_code import imports_module
    from mlcli.models.mlmodel import Model
    from mlcli.models.pickle_scan import imports_package

    try:
        conf = Model.load(model_dir).pyfunc_conf or {}
    except InvalidInputError:
        return False  # loading it will say what is wrong
    code_file = conf.get("model_code_path")  # read by its name inside the model, as MLflow
    sources = [model_dir / Path(code_file).name] if isinstance(code_file, str) else []
    if isinstance(conf.get("code"), str) and (model_dir / conf["code"]).is_dir():
        sources += sorted((model_dir / conf["code"]).rglob("*.py"))
    if any(p.is_file() and imports_module(p.read_bytes(), "mlflow") for p in sources):
        return True
    pickled = conf.get("python_model")
    if not isinstance(pickled, str) or not (model_dir / pickled).is_file():
        return False
    return imports_package((model_dir / pickled).read_bytes(), "mlflow")


def _is_mlcli_wheel(line: str) -> bool:
    name = line.strip().replace("\\", "/").rsplit("/", 1)[-1]
    return name.startswith("mlcli-") and name.endswith(".whl")


def model_env_spec(model_dir: Path) -> PythonEnvSpec:
    """The model's ``python_env.yaml``, else its ``requirements.txt``, else nothing."""
    from mlcli.projects.envs.python_env import PythonEnvSpec

    if (model_dir / PYTHON_ENV_FILE).is_file():
        return PythonEnvSpec.load(model_dir / PYTHON_ENV_FILE)
    if (model_dir / REQUIREMENTS_FILE).is_file():
        return PythonEnvSpec(dependencies=(f"-r {REQUIREMENTS_FILE}",))
    return PythonEnvSpec()


def requirement_name(line: str) -> str:
    """The distribution a requirement line names ("" for options and paths)."""
    text = line.strip()
    if not text or text.startswith(("-", "#", ".", "/")) or "://" in text:
        return ""
    for stop in "<>=!~;[ @(":
        text = text.split(stop, 1)[0]
    return text.strip().lower().replace("_", "-")


def pinned(requirement: str) -> str:
    """``name==<installed version>`` (the version that runs here), else as given."""
    from mlcli.models.packages import installed_version

    name = requirement_name(requirement)
    version = installed_version(name) if name else None
    return f"{name}=={version}" if version else requirement


def _read_requirements(path: Path, spec: PythonEnvSpec) -> list[str]:
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise InvalidInputError(f"the model's requirements file {path} is missing") from None
    lines = tuple(
        line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")
    )
    return spec.requirement_lines(lines, path.parent)
