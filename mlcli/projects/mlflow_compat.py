"""``mlcli run --mlflow-compat`` (or ``mlflow_compat: true`` in the MLproject): an
entry point that uses ``import mlflow`` logs into the run ``mlcli run`` created.

For the length of the entry point, a tracking server speaking MLflow's REST API
(``mlcli.tracking_server``) serves the store on a free loopback port, and the entry point gets
``MLFLOW_TRACKING_URI``, ``MLFLOW_TRACKING_TOKEN``, ``MLFLOW_RUN_ID`` and
``MLFLOW_EXPERIMENT_ID``, as ``mlflow run`` gives its children. A container cannot
reach the host's loopback, so docker environments are refused. A run on a team server
(``--store http://...``) needs no server of its own: the entry point gets the team
server's URL (and finds its credentials in the ``MLFLOW_TRACKING_*`` variables).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import replace

from mlcli.errors import InvalidInputError
from mlcli.projects.envs import RunContext
from mlcli.projects.spec import Project


def wanted(requested: bool, project: Project) -> bool:
    return requested or project.mlflow_compat


def check(requested: bool, project: Project, env_manager: str) -> None:
    """Before the run exists: the combination must work."""
    if wanted(requested, project) and env_manager == "docker":
        raise InvalidInputError(
            "--mlflow-compat does not work with docker environments (a container cannot "
            "reach the server on this host's loopback): use local, virtualenv or conda"
        )


@contextlib.contextmanager
def attached(requested: bool, project: Project, context: RunContext) -> Iterator[RunContext]:
    """``context``, with the MLflow variables added while a server runs, if wanted."""
    if not wanted(requested, project):
        yield context
        return
    if context.server_url:  # the run is on a team server already: MLflow logs there
        variables = {
            "MLFLOW_TRACKING_URI": context.server_url,
            "MLFLOW_RUN_ID": context.run_id,
            "MLFLOW_EXPERIMENT_ID": context.experiment_id,
            **_credentials(),
        }
        yield replace(context, extra={**context.extra, **variables})
        return
    from mlcli.tracking_server.ephemeral import ephemeral_server

    with ephemeral_server(context.store_root) as server:
        variables = server.environment(context.run_id, context.experiment_id)
        yield replace(context, extra={**context.extra, **variables})


def _credentials() -> dict[str, str]:
    """mlcli's credential variables under MLflow's names, where MLflow's are not set."""
    import os

    found = {}
    for suffix in ("TOKEN", "USERNAME", "PASSWORD"):
        value = os.environ.get(f"MLCLI_TRACKING_{suffix}")
        if value is not None and f"MLFLOW_TRACKING_{suffix}" not in os.environ:
            found[f"MLFLOW_TRACKING_{suffix}"] = value
    return found
