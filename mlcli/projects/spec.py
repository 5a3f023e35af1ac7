"""The MLproject file: what a project is called, where it runs, and its entry points.

The format is MLflow's (docs/projects.md), read strictly: a malformed
file, an unknown parameter type or two environment fields at once is one clear
InvalidInputError, raised before any run exists. Without an MLproject, a project is
its directory and its entry points are its ``.py`` and ``.sh`` files.
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlcli.errors import InvalidInputError, NotFoundError
from mlcli.known_keys import reject_unknown_keys
from mlcli.projects.parameters import Parameter, canonical_type

MLPROJECT = "MLproject"
DEFAULT_ENTRY_POINT = "main"
ENV_FIELDS = ("python_env", "conda_env", "docker_env")
SCRIPT_RUNNERS: Mapping[str, str] = {".py": "python", ".sh": "bash"}


@dataclass(frozen=True)
class DockerEnv:
    """``docker_env``: the image, extra volumes (``host:container[:mode]``) and
    environment variables (a value, or None to copy the variable from the host)."""

    image: str
    volumes: tuple[str, ...] = ()
    environment: tuple[tuple[str, str | None], ...] = ()


@dataclass(frozen=True)
class EntryPoint:
    name: str
    command: str
    parameters: tuple[Parameter, ...] = ()
    is_script: bool = False

    def parameter(self, name: str) -> Parameter | None:
        return next((p for p in self.parameters if p.name == name), None)


@dataclass(frozen=True)
class Project:
    directory: Path
    name: str | None = None
    entry_points: Mapping[str, EntryPoint] = field(default_factory=dict)
    python_env: Path | None = None
    conda_env: Path | None = None
    docker_env: DockerEnv | None = None
    spec_file: Path | None = None
    #: ``mlflow_compat``: true, entry points log with ``import mlflow`` into the run;
    #: false, never; absent (None), when the code imports mlflow (``mlflow_compat.py``).
    mlflow_compat: bool | None = None

    @property
    def env_type(self) -> str | None:
        """``python``, ``conda``, ``docker``, or None when the MLproject names none."""
        if self.docker_env is not None:
            return "docker"
        if self.python_env is not None:
            return "python"
        if self.conda_env is not None:
            return "conda"
        return None

    def entry_point(self, name: str) -> EntryPoint:
        """A declared entry point, or a ``.py``/``.sh`` file of the project run as a
        script; NotFoundError otherwise, listing what exists."""
        if name in self.entry_points:
            return self.entry_points[name]
        suffix = Path(name).suffix
        if suffix in SCRIPT_RUNNERS:
            script = self.directory / name
            if not script.is_file():
                raise NotFoundError(f"no script {name!r} in {self.directory}")
            command = f"{SCRIPT_RUNNERS[suffix]} {shlex.quote(name)}"
            return EntryPoint(name=name, command=command, is_script=True)
        declared = ", ".join(repr(n) for n in self.entry_points) or "none"
        where = f"in {self.spec_file}" if self.spec_file else f"(no MLproject in {self.directory})"
        raise NotFoundError(
            f"unknown entry point {name!r} {where}; declared entry points: {declared}; "
            "a .py or .sh file of the project can also be run by its name"
        )


def find_spec_file(directory: Path) -> Path | None:
    """The MLproject file of ``directory``, its name matched case-insensitively."""
    try:
        names = [n for n in os.listdir(directory) if n.lower() == MLPROJECT.lower()]
    except FileNotFoundError:
        raise NotFoundError(f"no such project directory: {directory}") from None
    except NotADirectoryError:
        raise InvalidInputError(f"the project {directory} is not a directory") from None
    if len(names) > 1:
        raise InvalidInputError(f"{directory} has more than one MLproject file: {names}")
    return directory / names[0] if names else None


def load_project(directory: str | os.PathLike[str]) -> Project:
    """The project in ``directory``, from its MLproject file if it has one."""
    root = Path(directory).resolve()
    spec_file = find_spec_file(root)
    if spec_file is None:
        return Project(directory=root)
    from mlcli.projects.yamlfile import load_yaml_file

    document = load_yaml_file(spec_file, "the MLproject file")
    return parse_project(document, root, spec_file)


def parse_project(document: Any, directory: Path, spec_file: Path) -> Project:
    where = str(spec_file)
    if document is None:
        document = {}
    if not isinstance(document, dict):
        raise InvalidInputError(
            f"{where}: expected a mapping of keys such as 'name' and "
            f"'entry_points', found {_kind(document)}"
        )
    present = [key for key in ENV_FIELDS if document.get(key) is not None]
    if len(present) > 1:
        raise InvalidInputError(
            f"{where}: a project has at most one environment, but {' and '.join(present)} "
            "are both given"
        )
    name = document.get("name")
    if name is not None and not isinstance(name, str):
        raise InvalidInputError(f"{where}: 'name' must be a string")
    given = document.get("mlflow_compat")
    mlflow_compat = None if given is None else str(given).lower()
    if mlflow_compat not in (None, "true", "false"):
        raise InvalidInputError(f"{where}: 'mlflow_compat' must be true or false")
    return Project(
        directory=directory,
        name=name,
        entry_points=_entry_points(document.get("entry_points"), where),
        python_env=_env_file(document.get("python_env"), directory, where, "python_env"),
        conda_env=_env_file(document.get("conda_env"), directory, where, "conda_env"),
        docker_env=_docker_env(document.get("docker_env"), where),
        spec_file=spec_file,
        mlflow_compat=None if mlflow_compat is None else mlflow_compat == "true",
    )


def _entry_points(section: Any, where: str) -> dict[str, EntryPoint]:
    if section is None:
        return {}
    if not isinstance(section, dict):
        raise InvalidInputError(
            f"{where}: 'entry_points' must be a mapping of names to entry "
            f"points, found {_kind(section)}"
        )
    entry_points = {}
    for name, body in section.items():
        here = f"{where}: entry point {name!r}"
        if not isinstance(body, dict):
            raise InvalidInputError(f"{here} must be a mapping with a 'command'")
        command = body.get("command")
        if not isinstance(command, str) or not command.strip():
            raise InvalidInputError(f"{here} has no 'command' string")
        parameters = body.get("parameters") or {}
        if not isinstance(parameters, dict):
            raise InvalidInputError(f"{here}: 'parameters' must be a mapping")
        entry_points[str(name)] = EntryPoint(
            name=str(name),
            command=command.strip(),
            parameters=tuple(_parameter(str(p), d, here) for p, d in parameters.items()),
        )
    return entry_points


def _parameter(name: str, declaration: Any, where: str) -> Parameter:
    here = f"{where}, parameter {name!r}"
    if declaration is None:
        return Parameter(name=name)
    if isinstance(declaration, str):
        return Parameter(name=name, type=canonical_type(declaration, here))
    if not isinstance(declaration, dict):
        raise InvalidInputError(f"{here}: expected a type name or {{type, default}}")
    reject_unknown_keys(
        declaration, {"type", "default"}, where=here, hint="a parameter has 'type' and 'default'"
    )
    type_name = declaration.get("type") or "string"
    if not isinstance(type_name, str):
        raise InvalidInputError(f"{here}: 'type' must be a type name")
    default = declaration.get("default")
    if isinstance(default, (dict, list)):
        raise InvalidInputError(f"{here}: 'default' must be a single value")
    parameter = Parameter(
        name=name,
        type=canonical_type(type_name, here),
        default=None if default is None else str(default),
    )
    if parameter.default is not None and parameter.type in ("float", "int", "uri"):
        from mlcli.projects.parameters import check_value

        try:
            check_value(parameter, parameter.default, Path("."))
        except InvalidInputError as exc:
            raise InvalidInputError(f"{where}: the default is invalid: {exc.message}") from None
    return parameter


def _env_file(value: Any, directory: Path, where: str, key: str) -> Path | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        raise InvalidInputError(f"{where}: '{key}' must be the path of a YAML file")
    path = (directory / value).resolve()
    if not path.is_file():
        raise InvalidInputError(f"{where}: '{key}' names {value!r}, but {path} does not exist")
    return path


def _docker_env(value: Any, where: str) -> DockerEnv | None:
    if value is None:
        return None
    here = f"{where}: docker_env"
    if not isinstance(value, dict):
        raise InvalidInputError(f"{here} must be a mapping with an 'image'")
    reject_unknown_keys(
        value,
        {"image", "volumes", "environment"},
        where=here,
        hint="valid: image, volumes, environment; "
        "extra docker options go on the command line with -A",
    )
    image = value.get("image")
    if not isinstance(image, str) or not image:
        raise InvalidInputError(f"{here} needs an 'image' string")
    volumes = value.get("volumes") or []
    if not isinstance(volumes, list) or not all(isinstance(v, str) and v for v in volumes):
        raise InvalidInputError(f"{here}: 'volumes' must be a list of 'host:container' strings")
    return DockerEnv(
        image=image,
        volumes=tuple(volumes),
        environment=tuple(_docker_variable(item, here) for item in value.get("environment") or []),
    )


def _docker_variable(item: Any, where: str) -> tuple[str, str | None]:
    if isinstance(item, str) and item:
        return (item, None)
    if (
        isinstance(item, list)
        and len(item) == 2
        and isinstance(item[0], str)
        and item[0]
        and isinstance(item[1], str)
    ):
        return (item[0], item[1])
    raise InvalidInputError(
        f"{where}: each 'environment' item is a NAME (copied from the host) or a "
        f"[NAME, value] pair, not {item!r}"
    )


def _kind(value: Any) -> str:
    names: dict[type, str] = {list: "a list", str: "a string"}
    return names.get(type(value), type(value).__name__)
