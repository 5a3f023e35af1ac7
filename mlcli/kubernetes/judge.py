"""For the store: has the Job that owns a run finished, and how does the run end?

Any reader of a live run owned by a Job asks once: where this machine can reach the
cluster (the client installed, the kubeconfig context there, the API answering within
a few seconds) a Job that is finished, deleted or replaced by another of its name
ends the run; where it cannot, the run is left alone (as a process on another host
is), and a reader that can reach the cluster ends it later.
"""

from __future__ import annotations

from mlcli.kubernetes import api
from mlcli.kubernetes.outcome import JobOutcome, index_outcome, job_outcome

#: How long a reader waits for the API server before leaving the run alone.
JUDGE_TIMEOUT = 5.0


def finished_job_outcome(
    context: str | None, namespace: str, name: str, uid: str, index: int | None = None
) -> JobOutcome | None:
    """The outcome of the Job ``namespace/name`` with ``uid`` (of its ``index``, for a
    sweep's Indexed Job) once it is finished or gone; None while it runs, or when the
    cluster cannot be asked from here."""
    try:
        import kubernetes  # noqa: F401
    except ImportError:
        return None
    label = f"{namespace}/{name}"
    try:
        cluster = api.connect(context)
    except api.KubernetesError:
        return None
    try:
        job = api.read_job(cluster, namespace, name, timeout=JUDGE_TIMEOUT)
        if job is not None and (job.get("metadata") or {}).get("uid") != uid:
            job = None  # another Job of that name: ours was deleted
        if index is not None:
            if index_outcome(job, index, label=label) is None:
                return None
            pods = (
                []
                if job is None
                else api.list_pods(cluster, namespace, name, timeout=JUDGE_TIMEOUT)
            )
            return index_outcome(job, index, pods, label=label)
        outcome = job_outcome(job, label=label)
        if outcome is None or outcome.status != "FAILED":
            return outcome
        pods = api.list_pods(cluster, namespace, name, timeout=JUDGE_TIMEOUT)
        return job_outcome(job, pods, label=label)
    except api.KubernetesError:
        return None
    finally:
        cluster.close()
