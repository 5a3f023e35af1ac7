"""What a model needs installed to be served: its own requirements, mlcli, and the
serving stack.

A model's ``requirements.txt`` starts with ``mlcli==<version>``. Serving environments
(a virtualenv, an image) get this running mlcli as a wheel instead, so that they
serve with exactly this code and need no release on an index; mlcli's own
requirements (Starlette, uvicorn, Typer...) and pandas/numpy (every request is read
with them) are added, pinned to the versions installed here, unless the model pins
them itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from mlcli.errors import InvalidInputError

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
    model = [line for line in model if requirement_name(line) != "mlcli"]
    wheel = build_self_wheel()
    named = {requirement_name(line) for line in model}
    wanted = (*wheel.requirements, *SERVING_EXTRAS)
    serving = [pinned(r) for r in wanted if requirement_name(r) not in named]
    python = ".".join(spec.python.split(".")[:2]) if spec.python else None
    build = spec.requirement_lines(spec.build_dependencies, model_dir)
    return ServingRequirements(python, tuple(build), tuple(model), tuple(serving), wheel)


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
