"""The end of a detached sweep on Kubernetes: no process follows its Indexed Job, so
the last trial to end ends the sweep (``kubernetes_task``), as the following ``mlcli
run`` would have: the best trial and ``sweep/trials.json`` recorded, the parent
ended FINISHED, or FAILED when a trial did not finish. Two last trials ending at once
both record the same. A last trial that dies before it can leaves the parent to its
owner, the Job: any reader ends it from the Job's outcome (``ownership.py``)."""

from __future__ import annotations

import contextlib

from mlcli.clusters.sweep_ending import SweepFacts, finish_sweep, valued
from mlcli.errors import MlcliError
from mlcli.projects.feedback import SilentFeedback
from mlcli.store import RunStatus
from mlcli.sweeps.parent import children_filter
from mlcli.sweeps.process import TrialOutcome
from mlcli.sweeps.samplers import Trial
from mlcli.sweeps.tags import TRIAL_TAG
from mlcli.tracking.client import TrackingClient

_EXIT_CODES = {RunStatus.FINISHED: 0, RunStatus.KILLED: 130}


def end_if_last(parent_id: str, client: TrackingClient | None = None) -> str | None:
    """End the sweep ``parent_id`` if none of its trials is live any more; the parent's
    status then, else None. Never raises for a store it cannot reach: the Job's
    outcome ends the parent then."""
    with contextlib.suppress(MlcliError, OSError):
        client = client or TrackingClient()
        parent = client.get_run(parent_id)
        if parent.info.status not in RunStatus.LIVE:
            return None
        trials = client.search_runs(None, children_filter(parent_id))
        if any(run.info.status in RunStatus.LIVE for run in trials):
            return None
        facts = SweepFacts.from_parent(parent)
        outcomes = []
        for run in trials:
            number = run.data.tags.get(TRIAL_TAG, "")
            if not number.isdigit():
                continue
            status = run.info.status
            trial = Trial(int(number), dict(run.data.params))
            done = TrialOutcome(trial, status, _EXIT_CODES.get(status, 1), run.info.run_id)
            outcomes.append(valued(client, done, facts.objective))
        ended = finish_sweep(
            client, parent, parent.info.experiment_id, facts, outcomes, False, SilentFeedback()
        )
        return ended.status
    return None
