"""The environment files of a model: ``requirements.txt``, ``python_env.yaml``, ``conda.yaml``.

``requirements.txt`` pins what the model needs (mlcli first, then what the flavor
detected), ``python_env.yaml`` names the Python version and the pip/setuptools/wheel
of the saving environment and points at the requirements, and ``conda.yaml`` says the
same for conda, in the forms MLflow writes and reads.

Building an environment from them installs (and so runs) whatever packages they name:
``--env-manager virtualenv`` does that only for files mlcli wrote, or with the user's
opt-in (:func:`check_environment_trusted`, :mod:`mlcli.models.trust`).
"""

from __future__ import annotations

import platform
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from mlcli.models.packages import pinned

if TYPE_CHECKING:
    from mlcli.models.trust import ModelTrust

REQUIREMENTS_FILE = "requirements.txt"
PYTHON_ENV_FILE = "python_env.yaml"
CONDA_FILE = "conda.yaml"
BUILD_TOOLS = ("pip", "setuptools", "wheel")
ENVIRONMENT_FILES = (REQUIREMENTS_FILE, PYTHON_ENV_FILE, CONDA_FILE)


def requirement_lines(
    detected: Iterable[str],
    pip_requirements: Iterable[str] | None = None,
    extra_pip_requirements: Iterable[str] | None = None,
) -> list[str]:
    """The requirement lines: ``pip_requirements`` if given (used as they are), else
    mlcli plus the detected distributions, pinned to their installed versions; then the
    extras. Duplicates are dropped, keeping the first."""
    if pip_requirements is not None:
        lines = [str(r).strip() for r in pip_requirements]
    else:
        lines = [pinned("mlcli"), *(pinned(d) if "=" not in d else d for d in detected)]
    lines += [str(r).strip() for r in extra_pip_requirements or ()]
    seen: set[str] = set()
    unique = []
    for line in lines:
        name = _requirement_name(line)
        if line and name not in seen:
            seen.add(name)
            unique.append(line)
    return unique


def write_environment(directory: Path, requirements: list[str]) -> dict[str, str]:
    """Write the three files; returns the pyfunc flavor's ``env`` mapping."""
    import yaml

    python = platform.python_version()
    (directory / REQUIREMENTS_FILE).write_text("".join(f"{r}\n" for r in requirements))
    python_env = {
        "python": python,
        "build_dependencies": [pinned(tool) for tool in BUILD_TOOLS],
        "dependencies": [f"-r {REQUIREMENTS_FILE}"],
    }
    (directory / PYTHON_ENV_FILE).write_text(yaml.safe_dump(python_env, sort_keys=False))
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


def _requirement_name(line: str) -> str:
    for separator in ("==", ">=", "<=", "~=", "!=", ">", "<", "[", ";", " "):
        line = line.split(separator, 1)[0]
    return line.strip().lower().replace("_", "-")
