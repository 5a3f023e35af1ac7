"""``virtualenv``: a virtualenv made from ``python_env.yaml``, cached by its content.

The environment is ``<env root>/virtualenv-<digest>``, the digest covering the spec,
its Python version and the included requirements files; a second run finds the
folder and starts at once. Creation uses the ``virtualenv`` package with an
interpreter found on this machine, then ``uv pip install`` when uv is on PATH
(``MLCLI_INSTALLER=pip`` or ``uv`` forces one) or else pip. It happens in a temporary
folder renamed into place, so a failed or interrupted creation leaves nothing behind;
the scripts whose first line names the temporary folder are rewritten before the
rename.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from mlcli import system_tags
from mlcli.errors import EnvironmentFailure, InvalidInputError
from mlcli.projects.cache import env_root, publishing
from mlcli.projects.envs.base import Environment, EnvManager, shell
from mlcli.projects.envs.interpreters import Interpreter, current_interpreter, find_interpreter
from mlcli.projects.envs.python_env import PythonEnvSpec
from mlcli.projects.envs.shims import (
    Shims,
    has_own_mlcli,
    host_shims,
    prepend_path,
    pythonpath_with_mlcli,
)
from mlcli.projects.feedback import Feedback
from mlcli.projects.spec import Project

PYTHON_ENV_FILE = "python_env.yaml"
INSTALLERS = ("uv", "pip")


@dataclass
class VirtualEnvironment(Environment):
    name = "virtualenv"
    path: Path
    shims: Shims

    def wrap(self, command: str) -> list[str]:
        return [shell(), "-c", command]

    def variables(self) -> Mapping[str, str | None]:
        variables: dict[str, str | None] = {
            "VIRTUAL_ENV": str(self.path),
            "PATH": prepend_path(self.path / "bin", self.shims.bin_dir),
            "PYTHONHOME": None,
        }
        if not has_own_mlcli(self.path):
            variables["PYTHONPATH"] = pythonpath_with_mlcli(self.shims)
        return variables


class VirtualenvManager(EnvManager):
    name = "virtualenv"

    def check(self, project: Project) -> None:
        spec = python_env_spec(project)
        if not self.location(project, spec).is_dir():
            find_interpreter(spec.python)

    def location(self, project: Project, spec: PythonEnvSpec) -> Path:
        python = spec.python or current_interpreter().version_text
        return env_root() / f"virtualenv-{spec.cache_key(project.directory, python)}"

    def prepare(self, project: Project, feedback: Feedback) -> Environment:
        spec = python_env_spec(project)
        path = self.location(project, spec)
        cached = path.is_dir()
        if not cached:
            interpreter = find_interpreter(spec.python)
            feedback.info(f"Creating a virtualenv with Python {interpreter.version_text} at {path}")
            create_virtualenv(path, spec, interpreter, project.directory, feedback)
        return VirtualEnvironment(
            path=path,
            shims=host_shims(),
            tags={
                system_tags.PROJECT_ENV_PATH: str(path),
                system_tags.PROJECT_ENV_CACHED: "true" if cached else "false",
                system_tags.PYTHON_VERSION: _recorded_python(path),
            },
        )


def python_env_spec(project: Project) -> PythonEnvSpec:
    """The project's python_env (declared, or ``python_env.yaml`` beside it); an empty
    spec (this Python, no packages) when it has none."""
    if project.python_env is not None:
        return PythonEnvSpec.load(project.python_env)
    default = project.directory / PYTHON_ENV_FILE
    if default.is_file():
        return PythonEnvSpec.load(default)
    if project.conda_env is not None:
        raise InvalidInputError(
            "the project declares a conda_env, not a python_env: use --env-manager conda, "
            f"or add a {PYTHON_ENV_FILE}"
        )
    return PythonEnvSpec()


def create_virtualenv(
    path: Path,
    spec: PythonEnvSpec,
    interpreter: Interpreter,
    project_dir: Path,
    feedback: Feedback,
) -> None:
    installer = choose_installer()
    steps = [
        lines
        for lines in (
            spec.requirement_lines(spec.build_dependencies, project_dir),
            spec.requirement_lines(spec.dependencies, project_dir),
        )
        if lines
    ]
    with feedback.progress("Creating the virtualenv") as progress, publishing(path) as staging:
        progress(0, len(steps) + 1)
        _run(
            [
                sys.executable,
                "-m",
                "virtualenv",
                "--quiet",
                "--no-periodic-update",
                "--python",
                str(interpreter.path),
                "--prompt",
                path.name,
                str(staging),
            ],
            "creating the virtualenv",
            cwd=project_dir,
        )
        for done, lines in enumerate(steps, 1):
            progress(done, len(steps) + 1)
            _install(installer, staging, lines, project_dir)
        _relocate(staging, path)
        record = {
            "python": interpreter.version_text,
            "interpreter": str(interpreter.path),
            "installer": installer,
            "spec": {
                "python": spec.python,
                "build_dependencies": list(spec.build_dependencies),
                "dependencies": list(spec.dependencies),
            },
        }
        (staging / "mlcli-env.json").write_text(json.dumps(record, indent=2) + "\n")
        progress(len(steps) + 1, len(steps) + 1)


def choose_installer() -> str:
    """``uv`` when on PATH (much faster), else ``pip``; ``MLCLI_INSTALLER`` forces one."""
    forced = os.environ.get("MLCLI_INSTALLER", "").strip().lower()
    if forced and forced not in INSTALLERS:
        raise InvalidInputError(f"MLCLI_INSTALLER must be uv or pip, not {forced!r}")
    if forced == "uv" and shutil.which("uv") is None:
        raise EnvironmentFailure("MLCLI_INSTALLER=uv, but uv is not on PATH")
    if forced:
        return forced
    return "uv" if shutil.which("uv") else "pip"


def _install(installer: str, env: Path, lines: list[str], project_dir: Path) -> None:
    with tempfile.NamedTemporaryFile("w", suffix=".txt", prefix="mlcli-requirements-") as handle:
        handle.write("\n".join(lines) + "\n")
        handle.flush()
        python = str(env / "bin" / "python")
        if installer == "uv":
            argv = ["uv", "pip", "install", "--python", python, "-r", handle.name]
        else:
            argv = [
                python,
                "-m",
                "pip",
                "install",
                "--disable-pip-version-check",
                "--no-input",
                "--no-compile",
                "-r",
                handle.name,
            ]
        _run(argv, f"installing the dependencies with {installer}", cwd=project_dir)


def _run(argv: list[str], what: str, cwd: Path) -> None:
    environ = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONHOME")}
    try:
        result = subprocess.run(
            argv, cwd=cwd, capture_output=True, text=True, env=environ, errors="replace"
        )
    except OSError as exc:
        raise EnvironmentFailure(f"{what} failed: cannot run {argv[0]}: {exc.strerror}") from None
    if result.returncode != 0:
        raise EnvironmentFailure(f"{what} failed: {_last_error(result.stderr or result.stdout)}")


def _last_error(output: str) -> str:
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    errors = [line for line in lines if "error" in line.lower()]
    chosen = (errors or lines or ["no output"])[-1]
    return chosen if len(chosen) <= 300 else chosen[:297] + "..."


def _relocate(staging: Path, final: Path) -> None:
    """Point the scripts in ``bin`` (shebangs, activate) at the final location."""
    old, new = str(staging).encode(), str(final).encode()
    for entry in os.scandir(staging / "bin"):
        if not entry.is_file(follow_symlinks=False):
            continue
        data = Path(entry.path).read_bytes()
        if old in data and b"\0" not in data[:8192]:
            Path(entry.path).write_bytes(data.replace(old, new))


def _recorded_python(path: Path) -> str:
    try:
        return str(json.loads((path / "mlcli-env.json").read_text())["python"])
    except (OSError, ValueError, KeyError):
        return platform.python_version()
