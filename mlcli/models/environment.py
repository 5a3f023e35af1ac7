"""The environment files of a model: ``requirements.txt``, ``constraints.txt``,
``python_env.yaml``, ``conda.yaml``.

``requirements.txt`` lists what loading the model needs, in the forms MLflow writes
and reads: MLflow first (the model's ``loader_module`` is one of MLflow's, and
``mlflow models serve`` runs MLflow inside the environment it builds), then what the
flavor detected, pinned to the installed versions. mlcli itself is never a line:
mlcli loads its models without it being installed in the model's environment (its
serving environments add the running mlcli), and the name is not on PyPI. A custom
model that cannot load without mlcli carries a wheel of it instead (see
:mod:`mlcli.models.flavors.python_function`).

``pip_requirements``, ``extra_pip_requirements`` and ``conda_env`` are read as MLflow
reads them (:func:`model_environment`): a path to a requirements file or a list of
lines, whose ``-r file`` lines are included and whose ``-c file`` lines become
``constraints.txt``; a conda environment as a mapping or a path to its YAML file.

Building an environment from these files installs (and so runs) whatever packages they
name: ``--env-manager virtualenv`` does that only for files mlcli wrote, or with the
user's opt-in (:func:`check_environment_trusted`, :mod:`mlcli.models.trust`).
"""

from __future__ import annotations

import os
import platform
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias

from mlcli.errors import InvalidInputError, NotFoundError
from mlcli.models.packages import installed_version, pinned, release_version

if TYPE_CHECKING:
    from mlcli.models.trust import ModelTrust

REQUIREMENTS_FILE = "requirements.txt"
CONSTRAINTS_FILE = "constraints.txt"
PYTHON_ENV_FILE = "python_env.yaml"
CONDA_FILE = "conda.yaml"
BUILD_TOOLS = ("pip", "setuptools", "wheel")
ENVIRONMENT_FILES = (REQUIREMENTS_FILE, CONSTRAINTS_FILE, PYTHON_ENV_FILE, CONDA_FILE)
MLFLOW_DISTRIBUTIONS = ("mlflow", "mlflow-skinny", "mlflow-tracing")
# The MLflow release whose model format mlcli writes: the floor of the mlflow line when
# no MLflow is installed to pin (docs/mlflow.md).
MLFLOW_FORMAT_VERSION = "3.18"

Requirements: TypeAlias = "str | os.PathLike[str] | Iterable[str]"
CondaEnv: TypeAlias = "str | os.PathLike[str] | Mapping[str, Any]"


@dataclass(frozen=True)
class ModelEnvironment:
    """What the environment files say: the requirement lines (ending with
    ``-c constraints.txt`` when there are constraints), the constraint lines, and the
    user's conda environment when one was given."""

    requirements: list[str]
    constraints: list[str]
    conda: dict[str, Any] | None = None


def model_environment(
    detected: Iterable[str],
    *,
    conda_env: CondaEnv | None = None,
    pip_requirements: Requirements | None = None,
    extra_pip_requirements: Requirements | None = None,
) -> ModelEnvironment:
    """The environment of a model whose flavor detected ``detected``, given at most one of
    ``conda_env`` (its pip section is the requirements), ``pip_requirements`` (used
    instead of the detected ones) and ``extra_pip_requirements`` (added to them, a line
    naming a detected distribution replacing it). MLflow is added unless a line names
    it; duplicates are dropped, keeping the first."""
    given = [conda_env, pip_requirements, extra_pip_requirements]
    if sum(value is not None for value in given) > 1:
        raise InvalidInputError(
            "only one of conda_env, pip_requirements and extra_pip_requirements can be given"
        )
    conda = None
    constraints: list[str] = []
    if conda_env is not None:
        conda, pip_section, base = _read_conda_env(conda_env)
        lines, constraints = _split(_parse_lines(pip_section, base, False, set(), "conda_env"))
    elif pip_requirements is not None:
        lines, constraints = parse_requirements(pip_requirements, "pip_requirements")
    else:
        lines = [pinned(d) if _is_plain_name(d) else d for d in detected]
        if extra_pip_requirements is not None:
            what = "extra_pip_requirements"
            extra, constraints = parse_requirements(extra_pip_requirements, what)
            named = {requirement_name(line) for line in extra} - {""}
            lines = [line for line in lines if requirement_name(line) not in named] + extra
    if not any(requirement_name(line) in MLFLOW_DISTRIBUTIONS for line in lines):
        lines.insert(0, mlflow_requirement())
    lines = _unique(lines)
    if constraints:
        lines.append(f"-c {CONSTRAINTS_FILE}")
    if conda is not None:
        conda = _with_pip_section(conda, lines)
    return ModelEnvironment(lines, _unique(constraints), conda)


def mlflow_requirement() -> str:
    """``mlflow==<the installed MLflow>`` (mlflow or mlflow-skinny), as MLflow pins
    itself; without one, the release whose format mlcli writes, or newer."""
    for dist in ("mlflow", "mlflow-skinny"):
        version = installed_version(dist)
        if version:
            return f"mlflow=={release_version(version)}"
    return f"mlflow>={MLFLOW_FORMAT_VERSION}"


def parse_requirements(value: Requirements, what: str) -> tuple[list[str], list[str]]:
    """(requirements, constraints) from a path to a requirements file or a list of lines.
    ``-r file`` and ``-c file`` are read relative to the file naming them (to the
    current directory for a list), as pip reads them."""
    if isinstance(value, str | os.PathLike):
        path = Path(value)
        return _split(_parse_file(path, False, set(), what))
    if isinstance(value, Mapping | bytes) or not isinstance(value, Iterable):
        raise InvalidInputError(
            f"{what} must be a path to a requirements file or a list of requirement "
            f"strings, not {type(value).__name__}"
        )
    lines = list(value)
    for line in lines:
        if not isinstance(line, str):
            raise InvalidInputError(
                f"{what} must hold requirement strings, not {type(line).__name__} ({line!r})"
            )
    return _split(_parse_lines(lines, Path.cwd(), False, set(), what))


def write_environment(directory: Path, environment: ModelEnvironment) -> dict[str, str]:
    """Write the files; returns the pyfunc flavor's ``env`` mapping."""
    import yaml

    python = platform.python_version()
    requirements = environment.requirements
    (directory / REQUIREMENTS_FILE).write_text("".join(f"{r}\n" for r in requirements))
    if environment.constraints:
        text = "".join(f"{c}\n" for c in environment.constraints)
        (directory / CONSTRAINTS_FILE).write_text(text)
    python_env = {
        "python": python,
        "build_dependencies": [pinned(tool) for tool in BUILD_TOOLS],
        "dependencies": [f"-r {REQUIREMENTS_FILE}"],
    }
    (directory / PYTHON_ENV_FILE).write_text(yaml.safe_dump(python_env, sort_keys=False))
    conda = environment.conda
    if conda is None:
        pip_version = pinned("pip").partition("==")[2]
        conda = {
            "name": "mlcli-env",
            "channels": ["conda-forge"],
            "dependencies": [
                f"python={python}",
                f"pip<={pip_version}" if pip_version else "pip",
                {"pip": requirements},
            ],
        }
    (directory / CONDA_FILE).write_text(yaml.safe_dump(conda, sort_keys=False))
    return {"conda": CONDA_FILE, "virtualenv": PYTHON_ENV_FILE}


def environment_digests(directory: Path) -> list[str]:
    """The sha256 of the environment files just written into ``directory``."""
    from mlcli.models.trust import digest_of

    return [
        digest_of((directory / name).read_bytes())
        for name in ENVIRONMENT_FILES
        if (directory / name).is_file()
    ]


def check_environment_trusted(directory: Path, trust: ModelTrust) -> None:
    """Before an environment is built from the model in ``directory``: its environment
    files must be ones mlcli wrote, or the user must have opted in."""
    for name in ENVIRONMENT_FILES:
        if (directory / name).is_file():
            trust.code_bytes(
                directory / name, "an environment file, whose packages would be installed and run"
            )


def read_requirements(directory: Path) -> list[str]:
    path = directory / REQUIREMENTS_FILE
    if not path.is_file():
        return []
    return [
        line.strip()
        for line in path.read_text().splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]


def requirement_name(line: str) -> str:
    """The normalised distribution a requirement line names ("" for options and paths)."""
    text = line.strip()
    if not text or text.startswith(("-", "#", ".", "/")) or "://" in text:
        return ""
    for stop in "<>=!~;[ @(":
        text = text.split(stop, 1)[0]
    if "/" in text or text.endswith((".whl", ".tar.gz", ".zip")):
        return ""
    return text.strip().lower().replace("_", "-").replace(".", "-")


# -- reading requirements as pip (and MLflow) do -------------------------------------------------


def _parse_file(
    path: Path, constraint: bool, seen: set[Path], what: str
) -> Iterator[tuple[str, bool]]:
    resolved = path.resolve()
    if resolved in seen:
        raise InvalidInputError(f"{what}: {path} includes itself")
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise NotFoundError(f"{what}: no such requirements file: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise InvalidInputError(f"{what}: cannot read {path}: {reason}") from None
    yield from _parse_lines(text.splitlines(), path.parent, constraint, seen | {resolved}, what)


def _parse_lines(
    lines: Iterable[str], base: Path, constraint: bool, seen: set[Path], what: str
) -> Iterator[tuple[str, bool]]:
    for line in _logical_lines(lines):
        option, _, target = line.partition(" ")
        if option in ("-r", "--requirement", "-c", "--constraint") and target.strip():
            is_constraint = option in ("-c", "--constraint")
            yield from _parse_file(base / target.strip(), is_constraint, seen, what)
        else:
            yield line, constraint


def _logical_lines(lines: Iterable[str]) -> Iterator[str]:
    """Lines without comments and blanks, continuations (a trailing ``\\``) joined."""
    pending = ""
    for raw in lines:
        line = raw.strip()
        if " #" in line:
            line = line[: line.index(" #")].rstrip()
        if line.endswith("\\"):
            pending += line[:-1]
            continue
        line, pending = pending + line, ""
        if line and not line.startswith("#"):
            yield line
    if pending and not pending.startswith("#"):
        yield pending


def _split(parsed: Iterable[tuple[str, bool]]) -> tuple[list[str], list[str]]:
    requirements: list[str] = []
    constraints: list[str] = []
    for line, is_constraint in parsed:
        (constraints if is_constraint else requirements).append(line)
    return requirements, constraints


def _read_conda_env(value: CondaEnv) -> tuple[dict[str, Any], list[str], Path]:
    """The conda environment, its pip section and the folder its ``-r`` lines are read from."""
    import yaml

    if isinstance(value, str | os.PathLike):
        path = Path(value)
        try:
            data = yaml.safe_load(path.read_text())
        except FileNotFoundError:
            raise NotFoundError(f"conda_env: no such file: {path}") from None
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
            reason = " ".join(str(exc).split())[:200]
            raise InvalidInputError(f"conda_env: cannot read {path}: {reason}") from None
        where, base = str(path), path.parent
    elif isinstance(value, Mapping):
        data, where, base = dict(value), "the conda_env mapping", Path.cwd()
    else:
        raise InvalidInputError(
            "conda_env must be a mapping or a path to a conda YAML file, "
            f"not {type(value).__name__}"
        )
    if not isinstance(data, dict):
        raise InvalidInputError(f"conda_env: {where} is not a mapping")
    dependencies = data.get("dependencies") or []
    if not isinstance(dependencies, list):
        raise InvalidInputError(f"conda_env: 'dependencies' in {where} is not a list")
    pip: Any = next((d["pip"] for d in dependencies if isinstance(d, dict) and "pip" in d), [])
    if not isinstance(pip, list) or not all(isinstance(line, str) for line in pip):
        raise InvalidInputError(f"conda_env: the pip section of {where} is not a list of strings")
    return data, pip, base


def _with_pip_section(conda: dict[str, Any], lines: list[str]) -> dict[str, Any]:
    dependencies = [
        {"pip": lines} if isinstance(d, dict) and "pip" in d else d
        for d in conda.get("dependencies") or []
    ]
    if not any(isinstance(d, dict) and "pip" in d for d in dependencies):
        dependencies.append({"pip": lines})
    return {**conda, "dependencies": dependencies}


def _is_plain_name(line: str) -> bool:
    return bool(requirement_name(line)) and not any(c in line for c in "<>=!~;@ ")


def _unique(lines: list[str]) -> list[str]:
    """One line per distribution (and marker), at the place of its first line, as MLflow
    merges them: ``requests`` then ``requests>=2`` give ``requests>=2``; two different
    specifiers are joined (``pandas>=2`` and ``pandas<3`` give ``pandas>=2,<3``)."""
    merged: dict[str, str] = {}
    for line in lines:
        parts = _SIMPLE_REQUIREMENT.match(line)
        if parts is None:
            merged.setdefault(requirement_name(line) or line, line)
            continue
        name, extras, specifier, marker = parts.groups()
        key = f"{requirement_name(name)};{(marker or '').strip()}"
        if key in merged and (before := _SIMPLE_REQUIREMENT.match(merged[key])) is not None:
            _, old_extras, old_specifier, _ = before.groups()
            extras = extras or old_extras
            if old_specifier.strip() and specifier.strip() != old_specifier.strip():
                specifier = ",".join(filter(None, [old_specifier.strip(), specifier.strip()]))
            line = f"{name}{extras or ''}{specifier.strip()}{marker or ''}"
        elif key in merged:
            continue
        merged[key] = line
    return list(merged.values())


# name, [extras], specifier, ;marker (no URL): the lines whose duplicates can be merged
_SIMPLE_REQUIREMENT = re.compile(
    r"^([A-Za-z0-9][A-Za-z0-9._-]*)\s*(\[[^\]]*\])?\s*([^;@\s]*)\s*(;.*)?$"
)
