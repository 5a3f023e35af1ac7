"""A sweep with ``--backend slurm``: a planned sweep (grid, random) as one job array
followed to its end (``slurm_sweep``, ``slurm_sweep_follow``), an adaptive one
(Optuna) coordinated from this process, one job per trial (``slurm_optuna``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import IO

from mlcli.clusters.slurm_config import load_slurm_config
from mlcli.clusters.slurm_sweep import ArraySweep
from mlcli.errors import InvalidInputError
from mlcli.projects.feedback import Feedback, SilentFeedback
from mlcli.sweeps.choice import SweepRequest
from mlcli.sweeps.planning import plan_sweep
from mlcli.sweeps.runner import SweepResult
from mlcli.tracking.client import TrackingClient


def run_sweep_on_slurm(
    request: SweepRequest,
    config_items: Sequence[str],
    *,
    client: TrackingClient,
    feedback: Feedback | None = None,
    detach: bool = False,
    echo: IO[bytes] | None = None,
) -> SweepResult | ArraySweep:
    """Check everything, then run the sweep on Slurm until every trial has ended (the
    output of a job array's tasks to ``echo``); with ``detach``, the submitted sweep (a
    job ends it once the array has ended)."""
    feedback = feedback or SilentFeedback()
    plan = plan_sweep(request)
    config = load_slurm_config(config_items)
    if plan.adaptive and detach:
        raise InvalidInputError(
            f"--sweep {plan.sampler.name} on Slurm needs a coordinator: this mlcli run asks "
            "for each trial as results come in; drop --detach"
        )
    if plan.adaptive:
        from mlcli.clusters.slurm_optuna import coordinate_sweep

        return coordinate_sweep(plan, config, client=client, feedback=feedback)
    from mlcli.clusters.slurm_sweep import submit_array_sweep
    from mlcli.clusters.slurm_sweep_follow import follow_array
    from mlcli.clusters.sweep_ending import SweepFacts

    sweep = submit_array_sweep(plan, config, client=client, feedback=feedback, detach=detach)
    if detach:
        return sweep
    return follow_array(client, sweep, SweepFacts.from_plan(plan), feedback=feedback, echo=echo)
