"""``mlcli runs cancel``: cancel a run that a Slurm job or a Kubernetes Job carries.

A Slurm job is cancelled with ``scancel`` and followed until Slurm has ended it (a
running job first lets mlcli stop the entry point), and the run then ends KILLED from
the job's state. A Kubernetes Job is deleted, its pods first, and the run ends KILLED
at once (``kubernetes_follow.cancel_kubernetes_run``). A run that no job carries is
refused: it is stopped where it runs (Ctrl-C, ``kill``), or ended with ``mlcli runs
end``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from mlcli import system_tags
from mlcli.clusters.slurm_follow import POLL_SECONDS, finish_run
from mlcli.errors import InvalidInputError
from mlcli.slurm import jobs
from mlcli.store import RunStatus
from mlcli.tracking.client import TrackingClient

#: How long ``cancel_run`` waits for Slurm to end a cancelled job.
CANCEL_WAIT_SECONDS = 120.0


@dataclass(frozen=True)
class Cancelled:
    run_id: str
    job_id: str  # Slurm's job id, or a Kubernetes Job's namespace/name
    status: str  # the run's status now (still live if the job outlasted the wait)
    scheduler: str = "Slurm job"


def cancel_run(
    client: TrackingClient, reference: str, wait: float = CANCEL_WAIT_SECONDS
) -> Cancelled:
    """Cancel the Slurm job of the live run ``reference`` and end the run from the
    job's final state (KILLED), waiting up to ``wait`` seconds for Slurm to end it."""
    run = client.get_run(reference)
    run_id, tags = run.info.run_id, run.data.tags
    if run.info.status not in RunStatus.LIVE:
        raise InvalidInputError(f"run {run_id} is {run.info.status}: there is nothing to cancel")
    if tags.get(system_tags.KUBERNETES_JOB):
        from mlcli.clusters.kubernetes_follow import cancel_kubernetes_run

        ended = cancel_kubernetes_run(client, run_id)
        return Cancelled(run_id, tags[system_tags.KUBERNETES_JOB], ended.status, "Kubernetes Job")
    from mlcli.clusters.slurm_sweep_cancel import cancel_sweep, is_slurm_sweep

    if is_slurm_sweep(run):
        return Cancelled(
            run_id, tags.get(system_tags.SLURM_JOB_ID, ""), cancel_sweep(client, run, wait)
        )
    job_id = tags.get(system_tags.SLURM_JOB_ID)
    if not job_id:
        raise InvalidInputError(
            f"run {run_id} is not carried by a Slurm or Kubernetes job: stop it where it runs "
            "(Ctrl-C, kill), or end it with 'mlcli runs end'"
        )
    jobs.cancel(job_id)
    deadline = time.monotonic() + wait
    while True:
        state = jobs.job_state(job_id)
        if state is None or state.finished:
            status = finish_run(client, run_id, job_id, state).status
            return Cancelled(run_id, job_id, status)
        if time.monotonic() >= deadline:
            return Cancelled(run_id, job_id, run.info.status)
        time.sleep(POLL_SECONDS)
