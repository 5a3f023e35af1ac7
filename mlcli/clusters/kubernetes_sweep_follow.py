"""Following a sweep's Indexed Job until every trial has ended.

Each poll reads the Job and its pods (two requests). A trial whose index has ended
(``completedIndexes``, ``failedIndexes``, or the Job finished or deleted before it
did) has its run ended from that when the pod's ``mlcli run`` did not end it
(``outcome.index_outcome``: a container killed for its memory ends it FAILED with
the reason, an index never run KILLED). Each started pod's output is copied to the
terminal a line at a time, prefixed with its trial's number (``[3] loss: 0.2``), as
a local sweep does. The parent becomes RUNNING with the first pod and ends as
``sweep_ending`` says.

A first Ctrl-C (SIGTERM) deletes the Job, its pods first, and ends every live trial
and the parent KILLED.
"""

from __future__ import annotations

import contextlib
import threading
import time
from typing import IO, Any

from mlcli.clusters.kubernetes_follow import (
    Interrupted,
    finish_run,
    first_container,
    interruptible,
)
from mlcli.clusters.kubernetes_sweep import IndexedSweep
from mlcli.clusters.sweep_ending import (
    SweepFacts,
    announce,
    count_metrics,
    finish_sweep,
    parent_running,
    valued,
)
from mlcli.kubernetes import api
from mlcli.kubernetes.outcome import JobOutcome, index_outcome, pod_index, pod_phase
from mlcli.projects.feedback import Feedback, SilentFeedback
from mlcli.store import RunStatus
from mlcli.sweeps.process import OutputRelay, TrialOutcome
from mlcli.sweeps.runner import SweepResult
from mlcli.tracking.client import TrackingClient

POLL_SECONDS = 2.0
_LOG_JOIN_SECONDS = 30.0


class _TrialLogs:
    """One thread per started pod, copying its first container's log, line by line,
    prefixed with the trial's number."""

    def __init__(self, cluster: api.Cluster, sweep: IndexedSweep, echo: IO[bytes] | None):
        self.cluster, self.namespace = cluster, sweep.namespace
        self.numbers = {item.index: item.trial.number for item in sweep.trials}
        self.relay = OutputRelay(echo)
        self.enabled = echo is not None
        self.threads: dict[str, threading.Thread] = {}

    def follow(self, pods: list[dict[str, Any]], container: str) -> None:
        if not self.enabled:
            return
        for pod in pods:
            name = str((pod.get("metadata") or {}).get("name"))
            index = pod_index(pod)
            if name in self.threads or index not in self.numbers or pod_phase(pod) == "Pending":
                continue
            number = self.numbers[index]
            thread = threading.Thread(
                target=self._copy, args=(name, container, number), daemon=True
            )
            self.threads[name] = thread
            thread.start()

    def _copy(self, pod: str, container: str, number: int) -> None:
        pending = b""
        with contextlib.suppress(api.KubernetesError, OSError, ValueError):
            for chunk in api.stream_log(self.cluster, self.namespace, pod, container):
                pending += chunk
                *lines, pending = pending.split(b"\n")
                for line in lines:
                    self.relay.write_line(number, line)
        if pending:
            self.relay.write_line(number, pending)

    def join(self) -> None:
        for thread in self.threads.values():
            thread.join(_LOG_JOIN_SECONDS)


def follow_indexed_sweep(
    client: TrackingClient,
    cluster: api.Cluster,
    sweep: IndexedSweep,
    facts: SweepFacts,
    *,
    feedback: Feedback | None = None,
    echo: IO[bytes] | None = None,
    poll: float = POLL_SECONDS,
) -> SweepResult:
    """Follow ``sweep``'s Job until every trial ended; end its runs; the result."""
    feedback = feedback or SilentFeedback()
    follower = _Follower(client, cluster, sweep, facts, feedback, echo)
    cancelled = False
    try:
        with interruptible():
            while not follower.look():
                time.sleep(poll)
    except Interrupted:
        feedback.info(f"Interrupted: deleting Kubernetes Job {sweep.label} and its pods")
        api.delete_job(cluster, sweep.namespace, sweep.job_name, sweep.uid)
        cancelled = True
        follower.end_the_rest(
            JobOutcome("KILLED", "Deleted", f"Kubernetes Job {sweep.label} was deleted")
        )
    follower.logs.join()
    outcomes = list(follower.outcomes.values())
    return finish_sweep(
        client, sweep.parent, sweep.experiment_id, facts, outcomes, cancelled, feedback
    )


class _Follower:
    def __init__(
        self,
        client: TrackingClient,
        cluster: api.Cluster,
        sweep: IndexedSweep,
        facts: SweepFacts,
        feedback: Feedback,
        echo: IO[bytes] | None,
    ) -> None:
        self.client, self.cluster, self.sweep = client, cluster, sweep
        self.facts, self.feedback = facts, feedback
        self.logs = _TrialLogs(cluster, sweep, echo)
        self.outcomes: dict[int, TrialOutcome] = {}
        self.started: dict[int, float] = {}
        self.shown: dict[str, int] = {}
        self.step = 0
        self.unreachable = False
        self.container: str | None = None

    def look(self) -> bool:
        """One poll: end the trials whose index ended; True once all have."""
        sweep = self.sweep
        try:
            job = api.read_job(self.cluster, sweep.namespace, sweep.job_name)
            if job is not None and (job.get("metadata") or {}).get("uid") != sweep.uid:
                job = None  # another Job of that name: ours was deleted
            pods = []
            if job is not None:
                pods = api.list_pods(self.cluster, sweep.namespace, sweep.job_name)
            self.unreachable = False
        except api.KubernetesError as exc:
            if not self.unreachable:
                self.feedback.info(f"Kubernetes Job {sweep.label}: cannot read it ({exc})")
            self.unreachable = True
            return False
        if job is not None:
            self.container = self.container or first_container(job)
            self.logs.follow(pods, self.container)
        running = {pod_index(p) for p in pods if pod_phase(p) == "Running"}
        for item in sweep.trials:
            if item.index in self.outcomes:
                continue
            if item.index in running:
                self.started.setdefault(item.index, time.monotonic())
            outcome = index_outcome(job, item.index, pods, label=sweep.label)
            if outcome is not None:
                self._end(item.index, outcome)
        self._count(running)
        return len(self.outcomes) == len(sweep.trials)

    def end_the_rest(self, outcome: JobOutcome) -> None:
        for item in self.sweep.trials:
            if item.index not in self.outcomes:
                self._end(item.index, outcome)

    def _end(self, index: int, outcome: JobOutcome) -> None:
        item = next(t for t in self.sweep.trials if t.index == index)
        ended = finish_run(self.client, item.run_id, outcome)
        seconds = time.monotonic() - self.started.get(index, time.monotonic())
        done = TrialOutcome(item.trial, ended.status, ended.exit_code, item.run_id, seconds=seconds)
        self.outcomes[index] = valued(self.client, done, self.facts.objective)
        announce(self.feedback, self.outcomes[index], self.facts)

    def _count(self, running: set[int | None]) -> None:
        counts: dict[str, int] = {}
        for item in self.sweep.trials:
            if item.index in self.outcomes:
                status = self.outcomes[item.index].status
            elif item.index in running:
                status = RunStatus.RUNNING
            else:
                status = RunStatus.SCHEDULED
            counts[status] = counts.get(status, 0) + 1
        if counts == self.shown:
            return
        if counts.get(RunStatus.RUNNING) and not self.shown.get(RunStatus.RUNNING):
            parent_running(self.client, self.sweep.parent.run_id)
        self.shown = counts
        self.step += 1
        self.client.log_batch(self.sweep.parent.run_id, metrics=count_metrics(counts, self.step))
