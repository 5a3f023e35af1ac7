"""Entry-point parameters: declared types, validation of values, and the command line.

Unlike MLflow, values are checked against their type before anything runs (a
``float`` parameter given ``abc`` is an error naming it), ``path`` values resolve
against the project directory, and the value logged is the one the user gave, not
its shell-quoted form.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from mlcli.errors import InvalidInputError
from mlcli.store import validate_key, validate_param_value

#: Type names an MLproject may use, mapped to the canonical one.
PARAMETER_TYPES: Mapping[str, str] = {
    "float": "float",
    "int": "int",
    "integer": "int",
    "str": "string",
    "string": "string",
    "path": "path",
    "uri": "uri",
}

_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_.-]*)\}")
_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]+:")


@dataclass(frozen=True)
class Parameter:
    """A declared parameter: its canonical type and its default (None: required)."""

    name: str
    type: str = "string"
    default: str | None = None

    @property
    def required(self) -> bool:
        return self.default is None


@dataclass(frozen=True)
class ResolvedParameters:
    """The checked values of one invocation.

    ``values`` holds every declared parameter (the user's value or the default) and
    ``extras`` the undeclared ones, both exactly as given: this is what is logged.
    ``paths`` holds the absolute form of ``path`` parameters, used in the command.
    """

    values: dict[str, str] = field(default_factory=dict)
    extras: dict[str, str] = field(default_factory=dict)
    paths: dict[str, Path] = field(default_factory=dict)

    def logged(self) -> dict[str, str]:
        return {**self.values, **self.extras}


def canonical_type(type_name: str, where: str) -> str:
    canonical = PARAMETER_TYPES.get(type_name)
    if canonical is None:
        valid = ", ".join(PARAMETER_TYPES)
        raise InvalidInputError(f"{where}: unknown type {type_name!r} (valid types: {valid})")
    return canonical


def resolve_parameters(
    declared: Sequence[Parameter],
    given: Mapping[str, str],
    project_dir: Path,
    entry_point: str,
) -> ResolvedParameters:
    """Check ``given`` against the declarations; every problem is an InvalidInputError
    raised before any run exists."""
    names = {p.name for p in declared}
    missing = [p.name for p in declared if p.required and p.name not in given]
    if missing:
        listed = ", ".join(repr(name) for name in missing)
        example = " ".join(f"-P {name}=..." for name in missing)
        raise InvalidInputError(
            f"entry point {entry_point!r} needs a value for required parameter(s) {listed} "
            f"(pass {example})"
        )
    resolved = ResolvedParameters()
    for parameter in declared:
        value = given.get(parameter.name, parameter.default)
        assert value is not None  # required ones were checked above
        _check_loggable(parameter.name, value)
        checked = check_value(parameter, value, project_dir)
        resolved.values[parameter.name] = value
        if isinstance(checked, Path):
            resolved.paths[parameter.name] = checked
    for name, value in given.items():
        if name not in names:
            _check_loggable(name, value)
            resolved.extras[name] = value
    return resolved


def check_value(parameter: Parameter, value: str, project_dir: Path) -> str | Path:
    """The value if it suits the parameter's type (a Path for ``path``), else an error
    naming the parameter."""
    kind = parameter.type
    if kind == "float":
        try:
            float(value)
        except ValueError:
            raise _bad(parameter, value, "expected a number such as 0.5 or 1e-3") from None
    elif kind == "int":
        try:
            int(value)
        except ValueError:
            raise _bad(parameter, value, "expected an integer such as 10") from None
    elif kind == "path":
        return _existing_path(parameter, value, project_dir)
    elif kind == "uri" and not _URI.match(value):
        raise _bad(parameter, value, "expected a URI such as s3://bucket/key or file:///data")
    return value


def render_command(
    template: str,
    resolved: ResolvedParameters,
    map_path: Callable[[Path], str] = str,
) -> str:
    """The shell command: ``{name}`` placeholders replaced by shell-quoted values
    (paths through ``map_path``, for environments that see the files elsewhere), and
    undeclared parameters appended as ``--name value``."""

    def substitute(match: re.Match[str]) -> str:
        name = match.group(1)
        if name in resolved.paths:
            return shlex.quote(map_path(resolved.paths[name]))
        if name in resolved.values:
            return shlex.quote(resolved.values[name])
        return match.group(0)

    command = _PLACEHOLDER.sub(substitute, template)
    extras = " ".join(
        f"--{shlex.quote(name)} {shlex.quote(value)}" for name, value in resolved.extras.items()
    )
    return f"{command} {extras}" if extras else command


def _existing_path(parameter: Parameter, value: str, project_dir: Path) -> Path:
    text = value[len("file://") :] if value.startswith("file://") else value
    if _URI.match(text):
        raise _bad(
            parameter,
            value,
            "a 'path' parameter takes a local path; declare it as 'uri' for remote data",
        )
    path = (project_dir / Path(text).expanduser()).resolve()
    if not path.exists():
        raise _bad(parameter, value, f"no such file or directory: {path}")
    return path


def _check_loggable(name: str, value: str) -> None:
    validate_key(name, "parameter name")
    validate_param_value(name, value)


def _bad(parameter: Parameter, value: str, why: str) -> InvalidInputError:
    return InvalidInputError(
        f"invalid value {value!r} for {parameter.type} parameter {parameter.name!r}: {why}"
    )
