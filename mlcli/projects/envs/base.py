"""The one small interface every environment manager implements.

``EnvManager.prepare(project)`` returns an ``Environment`` (creating or reusing
whatever it needs); ``Environment.wrap(command)`` turns the entry point's shell
command into the argv that runs it there. ``check`` runs before the run exists, so
that a missing tool (no conda, no Docker engine) is a usage error, not a failed run.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from mlcli.projects.execution import Execution, OutputSink, ProcessExecution
from mlcli.projects.feedback import Feedback
from mlcli.projects.spec import Project


@dataclass(frozen=True)
class EnvOptions:
    """Settings from the command line that some managers use."""

    docker_args: tuple[str, ...] = ()
    build_image: bool = False


@dataclass(frozen=True)
class RunContext:
    """What attaches the entry point to its run."""

    run_id: str
    experiment_id: str
    store_root: Path
    #: More variables for the entry point (MLflow's, with --mlflow-compat).
    extra: Mapping[str, str] = field(default_factory=dict)
    #: The team server the run lives on (``store_root`` is then only a local cache of
    #: it): the entry point logs there.
    server_url: str | None = None

    def variables(self, store_root: str | None = None) -> dict[str, str]:
        return {
            "MLCLI_RUN_ID": self.run_id,
            "MLCLI_EXPERIMENT_ID": self.experiment_id,
            "MLCLI_STORE": self.server_url or store_root or str(self.store_root),
            # Python buffers a pipe's output; unbuffered, the terminal shows it live.
            "PYTHONUNBUFFERED": "1",
            **self.extra,
        }


@dataclass
class Environment(ABC):
    """A prepared environment. ``tags`` are recorded on the run."""

    name: ClassVar[str]
    tags: dict[str, str] = field(default_factory=dict, kw_only=True)

    @abstractmethod
    def wrap(self, command: str) -> list[str]:
        """The argv that runs the shell ``command`` in this environment."""

    def variables(self) -> Mapping[str, str | None]:
        """Environment variables to set (None: to unset) for the entry point."""
        return {}

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release what the environment holds (a connection to an engine)."""

    def map_path(self, path: Path) -> str:
        """How the entry point sees a local path (containers see it elsewhere)."""
        return str(path)

    def start(self, command: str, *, cwd: Path, context: RunContext, sink: OutputSink) -> Execution:
        environ: dict[str, str] = {**os.environ, **context.variables()}
        for key, value in self.variables().items():
            if value is None:
                environ.pop(key, None)
            else:
                environ[key] = value
        return ProcessExecution(self.wrap(command), cwd, environ, sink)


class EnvManager(ABC):
    name: ClassVar[str]

    def __init__(self, options: EnvOptions | None = None) -> None:
        self.options = options or EnvOptions()

    def check(self, project: Project) -> None:  # noqa: B027 - optional hook
        """Raise (InvalidInputError, EnvironmentFailure) if ``prepare`` cannot work.
        Called before the run is created; must be cheap."""

    @abstractmethod
    def prepare(self, project: Project, feedback: Feedback) -> Environment:
        """Create or reuse the environment; EnvironmentFailure when that fails."""


def shell() -> str:
    """bash, as MLflow uses, where it exists; else POSIX sh."""
    return "/bin/bash" if os.path.exists("/bin/bash") else "/bin/sh"
