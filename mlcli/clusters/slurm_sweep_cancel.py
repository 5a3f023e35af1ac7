"""``mlcli runs cancel PARENT`` of a sweep on Slurm: its job array (or, for Optuna,
each trial's job) is cancelled with ``scancel``; every trial run still live ends
from its task's final state once Slurm has ended it (KILLED), and the parent ends
KILLED. The following ``mlcli run`` sees the parent ended and stops."""

from __future__ import annotations

import time

from mlcli import system_tags
from mlcli.clusters.slurm_follow import POLL_SECONDS, finish_run
from mlcli.clusters.slurm_sweep import ARRAY_TAG
from mlcli.slurm import jobs
from mlcli.store import Run, RunStatus
from mlcli.sweeps.parent import children_filter
from mlcli.sweeps.tags import TRIALS_TAG
from mlcli.tracking.client import TrackingClient


def is_slurm_sweep(run: Run) -> bool:
    """Whether ``run`` is the parent of a sweep whose trials Slurm runs."""
    tags = run.data.tags
    return TRIALS_TAG in tags and tags.get(system_tags.BACKEND) == "slurm"


def cancel_sweep(client: TrackingClient, parent: Run, wait: float) -> str:
    """Cancel the sweep ``parent``'s jobs and end its live trials and itself; the
    parent's status afterwards."""
    parent_id = parent.run_id
    live = [
        run
        for run in client.search_runs(None, children_filter(parent_id))
        if run.info.status in RunStatus.LIVE and run.data.tags.get(system_tags.SLURM_JOB_ID)
    ]
    array = parent.data.tags.get(ARRAY_TAG)
    targets = [array] if array else [run.data.tags[system_tags.SLURM_JOB_ID] for run in live]
    for job_id in targets:
        jobs.cancel(job_id)
    client.log_batch(
        parent_id, tags={system_tags.PROJECT_FAILURE_REASON: "the sweep was cancelled"}
    )
    client.set_terminated(parent_id, RunStatus.KILLED)
    deadline = time.monotonic() + wait
    waiting = {run.run_id: run.data.tags[system_tags.SLURM_JOB_ID] for run in live}
    while waiting and time.monotonic() < deadline:
        for run_id, job_id in list(waiting.items()):
            state = jobs.job_state(job_id)
            if state is None or state.finished:
                finish_run(client, run_id, job_id, state)
                del waiting[run_id]
        if waiting:
            time.sleep(POLL_SECONDS)
    return RunStatus.KILLED
