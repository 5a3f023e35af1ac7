"""The environment variables that steer tracking, in mlcli's names and MLflow's.

Each setting has an mlcli name and MLflow's name for it; both are honoured, and
mlcli's wins when both are set (so that ``mlcli run``, which sets mlcli's, is obeyed
inside a shell that exports MLflow's). The table users read is in docs/cli.md.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

RUN_ID_VARIABLES = ("MLCLI_RUN_ID", "MLFLOW_RUN_ID")
EXPERIMENT_VARIABLES = (  # mlcli's family first; within one, a name before an id
    ("MLCLI_EXPERIMENT_NAME", "name"),
    ("MLCLI_EXPERIMENT_ID", "id"),
    ("MLFLOW_EXPERIMENT_NAME", "name"),
    ("MLFLOW_EXPERIMENT_ID", "id"),
)


def attached_run(environ: Mapping[str, str] | None = None) -> tuple[str, str] | None:
    """(run id, the variable that named it) for the run this process logs to when it
    starts none of its own: ``MLCLI_RUN_ID``, else ``MLFLOW_RUN_ID``; None without."""
    env = os.environ if environ is None else environ
    for name in RUN_ID_VARIABLES:
        value = env.get(name, "").strip()
        if value:
            return value, name
    return None


def chosen_experiment(environ: Mapping[str, str] | None = None) -> tuple[str, str, str] | None:
    """(kind "name" or "id", value, variable) of the experiment the environment names."""
    env = os.environ if environ is None else environ
    for name, kind in EXPERIMENT_VARIABLES:
        value = env.get(name, "").strip()
        if value:
            return kind, value, name
    return None
