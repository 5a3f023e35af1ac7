"""What a Job's state means for the run it carries.

A Job is finished when it has a ``Complete`` or ``Failed`` condition whose status is
"True" (``SuccessCriteriaMet``/``FailureTarget`` come first on Kubernetes 1.31+ and
are read the same way). It ended FINISHED when complete; FAILED otherwise, with the
Job's reason (``BackoffLimitExceeded``, ``DeadlineExceeded``, ...) or, more telling,
a container's (``OOMKilled``, ``Error``) and its exit code. A Job the server no longer
knows was deleted: its run ends KILLED. Statuses are the store's, as text: this part
sits below the store.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

_SUCCEEDED = ("Complete", "SuccessCriteriaMet")
_FAILED = ("Failed", "FailureTarget")


@dataclass(frozen=True)
class JobOutcome:
    """How a finished Job ends its run: its status, a short reason code and a sentence."""

    status: str  # "FINISHED", "FAILED" or "KILLED"
    code: str  # "Complete", "BackoffLimitExceeded", "OOMKilled", "Deleted", ...
    reason: str


def job_outcome(
    job: Mapping[str, Any] | None, pods: Iterable[Mapping[str, Any]] = (), *, label: str
) -> JobOutcome | None:
    """The outcome of ``job`` (None: the server no longer knows it) with its ``pods``;
    None while it still runs. ``label`` names the Job in the reason."""
    if job is None:
        return JobOutcome("KILLED", "Deleted", f"Kubernetes Job {label} was deleted")
    conditions = {
        str(c.get("type")): c
        for c in (job.get("status") or {}).get("conditions") or []
        if str(c.get("status")) == "True"
    }
    if any(kind in conditions for kind in _SUCCEEDED) and not any(
        kind in conditions for kind in _FAILED
    ):
        return JobOutcome("FINISHED", "Complete", f"Kubernetes Job {label} completed")
    failed = next((conditions[kind] for kind in _FAILED if kind in conditions), None)
    if failed is None:
        return None
    code = str(failed.get("reason") or "Failed")
    reason = f"Kubernetes Job {label} failed: {code}"
    if failed.get("message"):
        reason += f" ({failed['message']})"
    container = terminated_container(pods)
    if container is not None:
        name, why, exit_code = container
        reason += f"; container {name} {why} (exit code {exit_code})"
        if why == "OOMKilled":
            code = why
    return JobOutcome("FAILED", code, reason)


def terminated_container(pods: Iterable[Mapping[str, Any]]) -> tuple[str, str, int] | None:
    """``(container, reason, exit code)`` of the last pod's container that ended with
    a non-zero exit code, if any."""
    found = None
    for pod in pods:
        for status in (pod.get("status") or {}).get("containerStatuses") or []:
            terminated = (status.get("state") or {}).get("terminated") or (
                status.get("lastState") or {}
            ).get("terminated")
            if terminated and int(terminated.get("exitCode") or 0) != 0:
                found = (
                    str(status.get("name")),
                    str(terminated.get("reason") or "Error"),
                    int(terminated["exitCode"]),
                )
    return found


def pod_phase(pod: Mapping[str, Any]) -> str:
    return str((pod.get("status") or {}).get("phase") or "Pending")


def waiting_reason(pods: Iterable[Mapping[str, Any]]) -> str | None:
    """Why a pod's container waits (``ImagePullBackOff``, ``ContainerCreating``...)."""
    for pod in pods:
        for status in (pod.get("status") or {}).get("containerStatuses") or []:
            waiting = (status.get("state") or {}).get("waiting")
            if waiting and waiting.get("reason"):
                return str(waiting["reason"])
    return None


#: The annotation (and, on 1.28+, label) that names a pod's index in an Indexed Job.
INDEX_ANNOTATION = "batch.kubernetes.io/job-completion-index"


def parse_indexes(text: Any) -> set[int]:
    """The indexes of ``status.completedIndexes``/``failedIndexes`` (``"1,3-5,7"``)."""
    found: set[int] = set()
    for part in str(text or "").split(","):
        first, _, last = part.strip().partition("-")
        if first.isdigit() and (not last or last.isdigit()):
            found.update(range(int(first), int(last or first) + 1))
    return found


def pod_index(pod: Mapping[str, Any]) -> int | None:
    """The completion index of a pod of an Indexed Job, if it says one."""
    metadata = pod.get("metadata") or {}
    for where in (metadata.get("annotations") or {}, metadata.get("labels") or {}):
        value = str(where.get(INDEX_ANNOTATION, ""))
        if value.isdigit():
            return int(value)
    return None


def index_outcome(
    job: Mapping[str, Any] | None,
    index: int,
    pods: Iterable[Mapping[str, Any]] = (),
    *,
    label: str,
) -> JobOutcome | None:
    """The outcome of index ``index`` of the Indexed Job ``job`` (a sweep's trial):
    FINISHED once completed; FAILED once failed (``backoffLimitPerIndex``), or when
    the Job has finished and the index's pod ended with an error; KILLED when the Job
    finished without running the index to its end, or was deleted. None while the index
    may still run. ``pods``: the Job's pods (their reasons)."""
    where = f"{label} index {index}"
    if job is None:
        return JobOutcome("KILLED", "Deleted", f"Kubernetes Job {label} was deleted")
    status = job.get("status") or {}
    if index in parse_indexes(status.get("completedIndexes")):
        return JobOutcome("FINISHED", "Complete", f"Kubernetes Job {where} completed")
    own = [pod for pod in pods if pod_index(pod) == index]
    container = terminated_container(own)
    failed_why = "" if container is None else "; container {} {} (exit code {})".format(*container)
    if index in parse_indexes(status.get("failedIndexes")):
        code = "OOMKilled" if container and container[1] == "OOMKilled" else "FailedIndex"
        return JobOutcome("FAILED", code, f"Kubernetes Job {where} failed{failed_why}")
    ended = job_outcome(job, label=label)
    if ended is None:
        return None
    if container is not None:
        code = "OOMKilled" if container[1] == "OOMKilled" else ended.code
        return JobOutcome("FAILED", code, f"Kubernetes Job {where} failed{failed_why}")
    return JobOutcome(
        "KILLED",
        ended.code,
        f"Kubernetes Job {label} ended ({ended.code}) before index {index} did",
    )
