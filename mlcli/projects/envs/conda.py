"""``conda``: an environment made from ``conda.yaml`` by conda, mamba or micromamba.

The executable is ``MLCLI_CONDA_EXE`` if set, else the first of ``conda``, ``mamba``
and ``micromamba`` on PATH. The environment is the prefix
``<env root>/conda-<digest of conda.yaml>``, created once with

    conda env create --quiet -p PREFIX -f conda.yaml        (conda, mamba)
    micromamba create --yes --quiet -p PREFIX -f conda.yaml (micromamba)

and the entry point runs in it with

    conda run --no-capture-output -p PREFIX bash -c COMMAND (conda, mamba)
    micromamba run -p PREFIX bash -c COMMAND                (micromamba)

Conda environments cannot be moved after creation, so unlike virtualenvs they are
built in place, under a lock, and count as complete only once a marker file is
written last; a prefix without the marker (an interrupted creation) is removed and
made again, and a failed creation removes its prefix.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from mlcli import system_tags
from mlcli.errors import EnvironmentFailure, InvalidInputError
from mlcli.files.lock import FileLock
from mlcli.projects.cache import digest, env_root
from mlcli.projects.envs.base import Environment, EnvManager, shell
from mlcli.projects.envs.shims import (
    Shims,
    has_own_mlcli,
    host_shims,
    prepend_path,
    pythonpath_with_mlcli,
)
from mlcli.projects.feedback import Feedback
from mlcli.projects.spec import Project

CONDA_FILE = "conda.yaml"
CONDA_EXECUTABLES = ("conda", "mamba", "micromamba")
COMPLETE_MARKER = ".mlcli-complete"


@dataclass
class CondaEnvironment(Environment):
    name = "conda"
    executable: str
    prefix: Path
    shims: Shims

    def wrap(self, command: str) -> list[str]:
        return [*run_prefix(self.executable, self.prefix), shell(), "-c", command]

    def variables(self) -> Mapping[str, str | None]:
        variables: dict[str, str | None] = {"PATH": prepend_path(self.shims.bin_dir)}
        if not has_own_mlcli(self.prefix):
            variables["PYTHONPATH"] = pythonpath_with_mlcli(self.shims)
        return variables


class CondaEnvManager(EnvManager):
    name = "conda"

    def check(self, project: Project) -> None:
        conda_file(project)
        find_conda()

    def prepare(self, project: Project, feedback: Feedback) -> Environment:
        spec = conda_file(project)
        executable = find_conda()
        prefix = env_root() / f"conda-{digest([spec.read_bytes()])}"
        cached = (prefix / COMPLETE_MARKER).is_file()
        if not cached:
            create_conda_env(executable, spec, prefix, feedback)
        return CondaEnvironment(
            executable=executable,
            prefix=prefix,
            shims=host_shims(),
            tags={
                system_tags.PROJECT_ENV_PATH: str(prefix),
                system_tags.PROJECT_ENV_CACHED: "true" if cached else "false",
                system_tags.PROJECT_CONDA_EXE: executable,
            },
        )


def conda_file(project: Project) -> Path:
    if project.conda_env is not None:
        return project.conda_env
    default = project.directory / CONDA_FILE
    if default.is_file():
        return default
    raise InvalidInputError(
        f"the conda environment manager needs a conda_env in the MLproject or a {CONDA_FILE} "
        f"in {project.directory}"
    )


def find_conda() -> str:
    """The conda-like executable to use (an absolute path)."""
    override = os.environ.get("MLCLI_CONDA_EXE")
    if override:
        found = shutil.which(override)
        if found is None:
            raise EnvironmentFailure(f"MLCLI_CONDA_EXE={override} is not an executable")
        return found
    for name in CONDA_EXECUTABLES:
        found = shutil.which(name)
        if found:
            return found
    raise EnvironmentFailure(
        "no conda executable found: install conda, mamba or micromamba, or set MLCLI_CONDA_EXE"
    )


def is_micromamba(executable: str) -> bool:
    return Path(executable).name.startswith("micromamba")


def create_command(executable: str, spec: Path, prefix: Path) -> list[str]:
    if is_micromamba(executable):
        return [executable, "create", "--yes", "--quiet", "-p", str(prefix), "-f", str(spec)]
    return [executable, "env", "create", "--quiet", "-p", str(prefix), "-f", str(spec)]


def run_prefix(executable: str, prefix: Path) -> list[str]:
    if is_micromamba(executable):
        return [executable, "run", "-p", str(prefix)]
    return [executable, "run", "--no-capture-output", "-p", str(prefix)]


def create_conda_env(executable: str, spec: Path, prefix: Path, feedback: Feedback) -> None:
    locks = prefix.parent / ".locks"
    locks.mkdir(parents=True, exist_ok=True)
    with FileLock(locks / f"{prefix.name}.lock"):
        if (prefix / COMPLETE_MARKER).is_file():
            return  # another process made it while we waited
        if prefix.exists():
            shutil.rmtree(prefix)  # left by an interrupted creation
        feedback.info(f"Creating a conda environment with {Path(executable).name} at {prefix}")
        try:
            with feedback.progress("Creating the conda environment") as progress:
                progress(0, 1)
                result = subprocess.run(
                    create_command(executable, spec, prefix),
                    cwd=spec.parent,
                    capture_output=True,
                    text=True,
                    errors="replace",
                )
                progress(1, 1)
            if result.returncode != 0:
                lines = [ln for ln in (result.stderr or result.stdout).splitlines() if ln.strip()]
                reason = lines[-1].strip() if lines else f"exit code {result.returncode}"
                raise EnvironmentFailure(f"creating the conda environment failed: {reason}")
            (prefix / COMPLETE_MARKER).write_text(str(spec) + "\n")
        except BaseException:
            shutil.rmtree(prefix, ignore_errors=True)
            raise
