"""A sweep with ``--backend kubernetes``: a planned sweep (grid, random) as one Indexed
Job (``kubernetes_sweep``) followed to its end (``kubernetes_sweep_follow``)."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import replace
from typing import IO

from mlcli.clusters.kubernetes_config import load_kubernetes_config
from mlcli.clusters.kubernetes_sweep import IndexedSweep
from mlcli.projects.feedback import Feedback, SilentFeedback
from mlcli.sweeps.choice import SweepRequest
from mlcli.sweeps.runner import SweepResult
from mlcli.tracking.client import TrackingClient


def run_sweep_on_kubernetes(
    request: SweepRequest,
    config_items: Sequence[str],
    *,
    client: TrackingClient,
    feedback: Feedback | None = None,
    detach: bool = False,
    echo: IO[bytes] | None = None,
) -> SweepResult | IndexedSweep:
    """Check everything, then run the sweep on Kubernetes until every trial has ended
    (their output to ``echo``); with ``detach``, the submitted sweep."""
    from mlcli.clusters.kubernetes_sweep import submit_indexed_sweep
    from mlcli.clusters.kubernetes_sweep_follow import follow_indexed_sweep
    from mlcli.clusters.sweep_ending import SweepFacts
    from mlcli.kubernetes import api
    from mlcli.sweeps.planning import plan_sweep

    feedback = feedback or SilentFeedback()
    config = load_kubernetes_config(config_items)
    if config.image:  # nothing to build here: no engine needed
        run = replace(request.run, env_manager=request.run.env_manager or "local")
        request = replace(request, run=run)
    plan = plan_sweep(request)
    with contextlib.closing(api.connect(config.kube_context)) as cluster:
        sweep = submit_indexed_sweep(
            plan, config, client=client, feedback=feedback, detach=detach, cluster=cluster
        )
        if detach:
            return sweep
        facts = SweepFacts.from_plan(plan)
        return follow_indexed_sweep(client, cluster, sweep, facts, feedback=feedback, echo=echo)
