"""Following a run's Kubernetes Job until it ends, and cancelling it.

The Job is watched (a ``watch`` of its name, resumed from the last resourceVersion);
each pod's log is streamed to the terminal once its container runs. When the Job is
finished, the run is ended from it if the pod did not end it: FINISHED for a Job
that completed, FAILED with the reason (``BackoffLimitExceeded``, ``DeadlineExceeded``,
a container ``OOMKilled``) in ``mlcli.kubernetes.reason`` and
``mlcli.project.failureReason``, KILLED for a Job that was deleted.

Ctrl-C (or SIGTERM) deletes the Job, its pods first (``propagationPolicy:
Foreground``), and the run ends KILLED; ``mlcli runs cancel`` does the same from
anywhere (``cancel_kubernetes_run``).
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import IO, Any

from mlcli import system_tags
from mlcli.clusters.kubernetes_submit import KubernetesSubmission
from mlcli.errors import InvalidInputError
from mlcli.kubernetes import api
from mlcli.kubernetes.outcome import JobOutcome, job_outcome, pod_phase, waiting_reason
from mlcli.projects.feedback import Feedback, SilentFeedback
from mlcli.store import RunStatus
from mlcli.sweeps.parent import children_filter
from mlcli.sweeps.tags import TRIALS_TAG
from mlcli.tracking.client import TrackingClient

#: A watch lasts this long before it is renewed (and the Job read again).
WATCH_SECONDS = 60
#: ... or this long while the pod has not started (its state is looked at in between).
STARTING_WATCH_SECONDS = 5
_LOG_JOIN_SECONDS = 30.0


@dataclass(frozen=True)
class FollowedJob:
    """How a followed run ended."""

    run_id: str
    status: str
    exit_code: int
    code: str  # the Job's outcome: Complete, BackoffLimitExceeded, OOMKilled, Deleted...


class Interrupted(BaseException):
    """Ctrl-C or SIGTERM while following."""


@contextlib.contextmanager
def interruptible() -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handle(signum: int, frame: object) -> None:
        raise Interrupted

    handled = (signal.SIGINT, signal.SIGTERM)
    previous = {signum: signal.signal(signum, handle) for signum in handled}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


class _Logs:
    """One thread per started pod, copying its container's log to ``echo``."""

    def __init__(self, cluster: api.Cluster, namespace: str, echo: IO[bytes] | None) -> None:
        self.cluster, self.namespace, self.echo = cluster, namespace, echo
        self.threads: dict[str, threading.Thread] = {}

    @property
    def started(self) -> bool:
        return bool(self.threads)

    def follow(self, pods: list[dict[str, Any]], container: str) -> None:
        for pod in pods:
            name = str((pod.get("metadata") or {}).get("name"))
            if name in self.threads or pod_phase(pod) == "Pending":
                continue
            thread = threading.Thread(target=self._copy, args=(name, container), daemon=True)
            self.threads[name] = thread
            thread.start()

    def _copy(self, pod: str, container: str) -> None:
        with contextlib.suppress(api.KubernetesError, OSError, ValueError):
            for chunk in api.stream_log(self.cluster, self.namespace, pod, container):
                if self.echo is not None:
                    self.echo.write(chunk)
                    self.echo.flush()

    def join(self) -> None:
        for thread in self.threads.values():
            thread.join(_LOG_JOIN_SECONDS)


def follow_kubernetes_job(
    client: TrackingClient,
    cluster: api.Cluster,
    run_id: str,
    namespace: str,
    name: str,
    uid: str,
    *,
    feedback: Feedback | None = None,
    echo: IO[bytes] | None = None,
) -> FollowedJob:
    """Follow the Job until it ends, its pods' logs to ``echo``; then end the run if
    the Job left it live. Ctrl-C deletes the Job and ends the run KILLED."""
    feedback = feedback or SilentFeedback()
    label = f"{namespace}/{name}"
    logs = _Logs(cluster, namespace, echo)
    try:
        with interruptible():
            outcome = _watch(cluster, namespace, name, uid, logs, feedback)
    except Interrupted:
        feedback.info(f"Interrupted: deleting Kubernetes Job {label} and its pods")
        api.delete_job(cluster, namespace, name, uid)
        outcome = JobOutcome(
            "KILLED", "Deleted", f"Kubernetes Job {label} was deleted (interrupted)"
        )
    logs.join()
    return finish_run(client, run_id, outcome, feedback)


def _watch(
    cluster: api.Cluster,
    namespace: str,
    name: str,
    uid: str,
    logs: _Logs,
    feedback: Feedback,
) -> JobOutcome:
    label = f"{namespace}/{name}"
    version: str | None = None
    shown: str | None = None
    container: str | None = None
    while True:
        timeout = WATCH_SECONDS if logs.started else STARTING_WATCH_SECONDS
        job: Mapping[str, Any] | None = None
        try:
            for kind, event_job in api.watch_job(cluster, namespace, name, version, timeout):
                metadata = event_job.get("metadata") or {}
                version = metadata.get("resourceVersion") or version
                if metadata.get("uid") != uid:
                    continue  # another Job of that name
                if kind == "DELETED":
                    return _deleted(label)
                job = event_job
                container = container or first_container(job)
                outcome = _look(cluster, namespace, name, job, container, logs, label)
                if outcome is not None:
                    return outcome
        except api.KubernetesError as exc:
            if exc.status != 410:
                raise
            version = None  # too old to resume from: start again from the current state
        job = api.read_job(cluster, namespace, name)
        if job is None or (job.get("metadata") or {}).get("uid") != uid:
            return _deleted(label)
        container = container or first_container(job)
        outcome = _look(cluster, namespace, name, job, container, logs, label)
        if outcome is not None:
            return outcome
        if not logs.started:
            why = waiting_reason(api.list_pods(cluster, namespace, name))
            if why and why != shown:
                shown = why
                feedback.info(f"Kubernetes Job {label}: pod waiting ({why})")


def _look(
    cluster: api.Cluster,
    namespace: str,
    name: str,
    job: Mapping[str, Any],
    container: str,
    logs: _Logs,
    label: str,
) -> JobOutcome | None:
    """The Job's outcome once finished (with its pods' reasons); meanwhile, the logs
    of the pods that have started followed."""
    status = job.get("status") or {}
    finished = job_outcome(job, label=label)
    if finished is None and not any(
        status.get(k) for k in ("active", "ready", "succeeded", "failed")
    ):
        return None
    pods = api.list_pods(cluster, namespace, name)
    logs.follow(pods, container)
    if finished is None:
        return None
    return job_outcome(job, pods, label=label)


def first_container(job: Mapping[str, Any]) -> str:
    containers = (((job.get("spec") or {}).get("template") or {}).get("spec") or {}).get(
        "containers"
    ) or [{}]
    return str(containers[0].get("name") or "")


def _deleted(label: str) -> JobOutcome:
    outcome = job_outcome(None, label=label)
    assert outcome is not None
    return outcome


def finish_run(
    client: TrackingClient, run_id: str, outcome: JobOutcome, feedback: Feedback | None = None
) -> FollowedJob:
    """End the run from the Job's ``outcome`` if it is still live (the pod did not end
    it); the reason code is recorded either way."""
    feedback = feedback or SilentFeedback()
    run = client.get_run(run_id)
    status = run.info.status
    tags = {system_tags.KUBERNETES_REASON: outcome.code}
    if status in RunStatus.LIVE:
        if outcome.status != RunStatus.FINISHED:
            tags[system_tags.PROJECT_FAILURE_REASON] = outcome.reason
        client.log_batch(run_id, tags=tags)
        status = client.set_terminated(run_id, outcome.status).info.status
    else:  # ended by mlcli in the pod, or by a reader that asked the cluster first
        client.log_batch(run_id, tags=tags)
    feedback.info(f"Run {run_id} {status}: {outcome.reason}")
    recorded = client.get_run(run_id).data.tags.get(system_tags.PROJECT_EXIT_CODE, "")
    if recorded.lstrip("-").isdigit():
        code = int(recorded)
    else:
        code = {RunStatus.FINISHED: 0, RunStatus.KILLED: 130}.get(status, 1)
    return FollowedJob(run_id, status, code, outcome.code)


def job_of_run(tags: Mapping[str, str]) -> tuple[str, str, str] | None:
    """``(namespace, name, uid)`` of the Job a run's tags name, if any."""
    job, uid = tags.get(system_tags.KUBERNETES_JOB), tags.get(system_tags.KUBERNETES_JOB_UID)
    if not job or "/" not in job:
        return None
    namespace, name = job.split("/", 1)
    return namespace, name, uid or ""


def cancel_kubernetes_run(
    client: TrackingClient, reference: str, cluster: api.Cluster | None = None
) -> FollowedJob:
    """Delete the Job of the live run ``reference`` (its pods first) and end the run
    KILLED. ``cluster``: a connection (default: the context the run was created in)."""
    run = client.get_run(reference)
    run_id, tags = run.info.run_id, run.data.tags
    if run.info.status not in RunStatus.LIVE:
        raise InvalidInputError(f"run {run_id} is {run.info.status}: there is nothing to cancel")
    found = job_of_run(tags)
    if found is None:
        raise InvalidInputError(f"run {run_id} is not carried by a Kubernetes Job")
    namespace, name, uid = found
    index = tags.get(system_tags.KUBERNETES_INDEX)
    if index is not None:
        parent = tags.get(system_tags.PARENT_RUN_ID, "")
        raise InvalidInputError(
            f"run {run_id} is a trial of a sweep, index {index} of Kubernetes Job "
            f"{namespace}/{name}: cancel the whole sweep with 'mlcli runs cancel {parent}'"
        )
    own = cluster is None
    cluster = cluster or api.connect(tags.get(system_tags.KUBERNETES_CONTEXT))
    try:
        api.delete_job(cluster, namespace, name, uid or None)
    finally:
        if own:
            cluster.close()
    outcome = JobOutcome("KILLED", "Deleted", f"Kubernetes Job {namespace}/{name} was cancelled")
    if TRIALS_TAG in tags:  # a sweep's parent: its live trials end with their Job
        for trial in client.search_runs(None, children_filter(run_id)):
            if trial.info.status in RunStatus.LIVE:
                finish_run(client, trial.info.run_id, outcome)
        client.log_batch(
            run_id, tags={system_tags.PROJECT_FAILURE_REASON: "the sweep was cancelled"}
        )
    return finish_run(client, run_id, outcome)


def follow_submission(
    client: TrackingClient,
    job: KubernetesSubmission,
    *,
    feedback: Feedback | None = None,
    echo: IO[bytes] | None = None,
) -> FollowedJob:
    """Follow a just-submitted run's Job through the context it was created in."""
    cluster = api.connect(job.context)
    try:
        return follow_kubernetes_job(
            client,
            cluster,
            job.run_id,
            job.namespace,
            job.job_name,
            job.uid,
            feedback=feedback,
            echo=echo,
        )
    finally:
        cluster.close()
