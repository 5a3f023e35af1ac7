"""Slurm jobs: submit, cancel, read their states.

A job is read with ``scontrol show job -o``, which knows live jobs and, without an
accounting database, finished ones for ``MinJobAge`` seconds (300 by default); one
Slurm no longer knows (``Invalid job id``) is reported as None. An array job reads as
one state per task, so that a sweep's array and a single run share this reader.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass

from mlcli.slurm.commands import SlurmError, slurm_command

#: States after which a job runs no more (``squeue --help``'s list).
TERMINAL_STATES = frozenset(
    {
        "COMPLETED",
        "CANCELLED",
        "FAILED",
        "TIMEOUT",
        "NODE_FAIL",
        "PREEMPTED",
        "BOOT_FAIL",
        "DEADLINE",
        "OUT_OF_MEMORY",
        "REVOKED",
        "SPECIAL_EXIT",
    }
)
_UNKNOWN_JOB = "Invalid job id"
_FIELD = re.compile(r"(?:^|\s)(JobId|ArrayJobId|ArrayTaskId|JobState|Reason|ExitCode)=(\S*)")


@dataclass(frozen=True)
class JobState:
    """One job's (or one array task's) state as Slurm reports it."""

    job_id: str
    state: str  # PENDING, RUNNING, COMPLETED, TIMEOUT, ...
    reason: str = "None"
    exit_code: str = "0:0"  # "code:signal"
    array_task_id: str | None = None

    @property
    def finished(self) -> bool:
        return self.state in TERMINAL_STATES


def submit(script: str, arguments: Sequence[str] = ()) -> str:
    """Submit the batch ``script`` (given on sbatch's stdin); the new job's id."""
    answer = slurm_command(["sbatch", "--parsable", *arguments], stdin=script).strip()
    job_id = answer.split(";")[0].strip()  # "ID" or "ID;cluster"
    if not job_id.isdigit():
        raise SlurmError(f"sbatch answered {answer!r}, not a job id")
    return job_id


def cancel(job_id: str) -> None:
    """``scancel`` the job (a finished job is not an error)."""
    try:
        slurm_command(["scancel", job_id])
    except SlurmError as exc:
        if "already completing or completed" not in exc.message and _UNKNOWN_JOB not in exc.message:
            raise


def read_job(job_id: str) -> list[JobState] | None:
    """The job's state (one per array task, pending ranges as one); None when Slurm no
    longer knows it. SlurmError when Slurm cannot be asked."""
    try:
        text = slurm_command(["scontrol", "show", "job", "-o", job_id])
    except SlurmError as exc:
        if _UNKNOWN_JOB in exc.message:
            return None
        raise
    states = [_parse(line) for line in text.splitlines() if line.strip()]
    found = [state for state in states if state is not None]
    return found or None


def job_state(job_id: str) -> JobState | None:
    """A single (non-array) job's state; None when Slurm no longer knows it."""
    states = read_job(job_id)
    return states[0] if states else None


@functools.cache
def cluster_name() -> str | None:
    """The cluster's name (``ClusterName`` of slurm.conf); None if it cannot be read."""
    try:
        text = slurm_command(["scontrol", "show", "config"])
    except SlurmError:
        return None
    match = re.search(r"^ClusterName\s*=\s*(\S+)", text, re.MULTILINE)
    return match.group(1) if match else None


def _parse(line: str) -> JobState | None:
    fields = dict(_FIELD.findall(line))
    if "JobId" not in fields or "JobState" not in fields:
        return None
    task = fields.get("ArrayTaskId")
    return JobState(
        job_id=(fields.get("ArrayJobId") or fields["JobId"]) if task else fields["JobId"],
        state=fields["JobState"],
        reason=fields.get("Reason", "None"),
        exit_code=fields.get("ExitCode", "0:0"),
        array_task_id=task,
    )


def release(job_id: str) -> None:
    """Let a job submitted with ``--hold`` start."""
    slurm_command(["scontrol", "release", job_id])


def check_submission(script: str, arguments: Sequence[str] = ()) -> None:
    """Ask sbatch whether ``script`` would be accepted (``--test-only``: a partition,
    account or limit it refuses is an error), submitting nothing."""
    slurm_command(["sbatch", "--test-only", *arguments], stdin=script)
