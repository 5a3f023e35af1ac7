"""What a finished job means for the run it carried, when the run did not end itself.

A job cancelled or preempted ends its run KILLED; any other end (a time limit, memory,
a node that failed, or a job that finished without the run ending) ends it FAILED.
The statuses are the store's (``RunStatus``) as text: this part sits below the store.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from mlcli import system_tags
from mlcli.slurm.commands import SlurmError
from mlcli.slurm.jobs import JobState, job_state

_KILLED_STATES = frozenset({"CANCELLED", "PREEMPTED"})
_WHY = {
    "TIMEOUT": "reached its time limit",
    "OUT_OF_MEMORY": "ran out of memory",
    "NODE_FAIL": "lost its node (NODE_FAIL)",
    "PREEMPTED": "was preempted",
    "CANCELLED": "was cancelled",
    "BOOT_FAIL": "could not boot its node",
    "DEADLINE": "missed its deadline",
    "COMPLETED": "ended without ending the run",
    "FAILED": "failed before the run ended",
}


@dataclass(frozen=True)
class JobEnding:
    """How to end a run whose job ended: its status, Slurm's state and a reason."""

    status: str  # "FAILED" or "KILLED"
    state: str  # Slurm's state, or "UNKNOWN" for a job Slurm no longer knows
    reason: str

    def tags(self) -> dict[str, str]:
        """The tags that record it on the run."""
        return {
            system_tags.END_REASON: self.reason,
            system_tags.PROJECT_FAILURE_REASON: self.reason,
            system_tags.SLURM_STATE: self.state,
        }


def ending_of(job_id: str, state: JobState | None) -> JobEnding:
    """The ending of a run whose job ``job_id`` is in ``state`` (finished) or no longer
    known to Slurm (None)."""
    if state is None:
        return JobEnding("FAILED", "UNKNOWN", f"Slurm job {job_id} is no longer known to Slurm")
    status = "KILLED" if state.state in _KILLED_STATES else "FAILED"
    why = _WHY.get(state.state, f"ended {state.state}")
    reason = f"Slurm job {job_id} {why}"
    if state.reason not in ("None", ""):
        reason += f" ({state.reason})"
    return JobEnding(status, state.state, reason)


def job_is_ending(job_id: str | None = None) -> bool:
    """Inside a job that was signalled: True when Slurm itself is ending the job (a
    time limit, ``scancel``, preemption: the job is COMPLETING or finished), so that
    its final state, not the signal, decides how the run ends; False while the job
    still runs (a ``--signal`` warning before the time limit, a signal from elsewhere)
    or when Slurm cannot be asked."""
    job_id = job_id or os.environ.get("SLURM_JOB_ID")
    if not job_id:
        return False
    try:
        state = job_state(job_id)
    except SlurmError:
        return False
    return state is not None and (state.finished or state.state == "COMPLETING")
