"""Environment managers, by name: ``local``, ``virtualenv``, ``conda``, ``docker``.

Each lives in its own module, imported only when chosen, so that ``mlcli run`` with
``local`` pays for none of the others. The manager is chosen by precedence:
``--env-manager``, then the MLproject's environment field, then ``local``.
"""

from __future__ import annotations

from importlib import import_module

from mlcli.errors import InvalidInputError
from mlcli.projects.envs.base import Environment, EnvManager, EnvOptions, RunContext
from mlcli.projects.spec import Project

#: name -> "module:class"
ENV_MANAGERS: dict[str, str] = {
    "local": "mlcli.projects.envs.local:LocalEnvManager",
    "virtualenv": "mlcli.projects.envs.virtualenv:VirtualenvManager",
    "conda": "mlcli.projects.envs.conda:CondaEnvManager",
    "docker": "mlcli.projects.envs.docker:DockerEnvManager",
}

#: The manager an MLproject's environment field asks for.
MANAGER_FOR_ENV_TYPE = {"python": "virtualenv", "conda": "conda", "docker": "docker"}

#: MLflow's names for what mlcli's managers do: ``--env-manager uv`` is a virtualenv
#: (which installs with uv when uv is on PATH).
MLFLOW_MANAGER_NAMES = {"uv": "virtualenv"}

__all__ = [
    "ENV_MANAGERS",
    "EnvManager",
    "EnvOptions",
    "Environment",
    "RunContext",
    "choose_env_manager",
    "get_env_manager",
]


def get_env_manager(name: str, options: EnvOptions | None = None) -> EnvManager:
    """The manager called ``name``; InvalidInputError listing the valid names."""
    target = ENV_MANAGERS.get(name)
    if target is None:
        raise InvalidInputError(
            f"unknown environment manager {name!r} (valid: {', '.join(ENV_MANAGERS)})"
        )
    module_name, _, class_name = target.partition(":")
    manager_class: type[EnvManager] = getattr(import_module(module_name), class_name)
    return manager_class(options)


def choose_env_manager(requested: str | None, project: Project) -> str:
    """``--env-manager`` if given (MLflow's ``uv``: ``virtualenv``), else what the
    MLproject asks for, else ``local``."""
    if requested:
        return MLFLOW_MANAGER_NAMES.get(requested, requested)
    return MANAGER_FOR_ENV_TYPE.get(project.env_type or "", "local")
