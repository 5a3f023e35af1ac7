"""``local``: the entry point runs with the interpreter (and environment) running mlcli."""

from __future__ import annotations

import platform
from collections.abc import Mapping
from dataclasses import dataclass

from mlcli import system_tags
from mlcli.projects.envs.base import Environment, EnvManager, shell
from mlcli.projects.envs.shims import Shims, host_shims, prepend_path
from mlcli.projects.feedback import Feedback
from mlcli.projects.spec import Project


@dataclass
class LocalEnvironment(Environment):
    name = "local"
    shims: Shims

    def wrap(self, command: str) -> list[str]:
        return [shell(), "-c", command]

    def variables(self) -> Mapping[str, str | None]:
        return {"PATH": prepend_path(self.shims.python_dir, self.shims.bin_dir)}


class LocalEnvManager(EnvManager):
    name = "local"

    def prepare(self, project: Project, feedback: Feedback) -> Environment:
        return LocalEnvironment(
            shims=host_shims(),
            tags={system_tags.PYTHON_VERSION: platform.python_version()},
        )
