"""How a trial is started: the ``mlcli run`` command line and environment.

A trial is the same ``mlcli run`` as the sweep's, of the same project, entry point
and environment manager, with its own parameters (quoted, so that they are taken as
they are), the parent run, its number and name, and ``--json -q`` (its outcome on
stdout, its entry point's output on stderr). It runs with this interpreter and this
mlcli, in the sweep's store and experiment.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from mlcli.store import Run
from mlcli.sweeps.planning import SweepPlan
from mlcli.sweeps.quoting import quote_literal
from mlcli.sweeps.samplers import Trial
from mlcli.sweeps.tags import TRIAL_TAG


def mlcli_command() -> list[str]:
    """How to start ``mlcli`` in a child process: this interpreter, this mlcli."""
    return [sys.executable, "-m", "mlcli"]


def trial_arguments(plan: SweepPlan, parent: Run, trial: Trial) -> list[str]:
    """The ``mlcli run`` arguments of one trial. A git project runs at the commit the
    sweep resolved, so that every trial runs the same code."""
    run_plan = plan.run_plan
    request = run_plan.request
    uri = request.uri if run_plan.source.remote else str(run_plan.source.directory)
    arguments = [
        "run",
        uri,
        "--entry-point",
        run_plan.entry_point.name,
        "--env-manager",
        run_plan.env_manager.name,
        "--run-name",
        f"{parent.info.run_name}-{trial.number}",
        "--parent-run",
        parent.run_id,
        "--run-tag",
        f"{TRIAL_TAG}={trial.number}",
        "--json",
        "--quiet",
    ]
    for name, value in trial.params.items():
        arguments += ["--param", f"{name}={quote_literal(value)}"]
    commit = run_plan.lineage.commit if run_plan.lineage else None
    if run_plan.source.remote and commit:
        arguments += ["--version", commit]
    for option in request.docker_args:
        arguments += ["--docker-args", option]
    if request.build_image:
        arguments.append("--build-image")
    if request.mlflow_compat is False:  # True is refused for sweeps (choice.py)
        arguments.append("--no-mlflow-compat")
    arguments += request.capture.arguments()
    return arguments


def trial_environment(store_root: Path, location: str, experiment_id: str) -> dict[str, str]:
    """This process's environment, with the store and experiment of the sweep (and
    no run: the parent is given with --parent-run). A team server's store is its URL
    (``store_root`` is then only this host's cache of it)."""
    skip = ("MLCLI_RUN_ID", "MLCLI_EXPERIMENT_NAME", "MLFLOW_RUN_ID", "MLFLOW_EXPERIMENT_NAME")
    environ = {k: v for k, v in os.environ.items() if k not in skip}
    served = location.startswith(("http://", "https://"))
    environ["MLCLI_STORE"] = location if served else str(store_root.resolve())
    environ["MLCLI_EXPERIMENT_ID"] = experiment_id
    return environ
