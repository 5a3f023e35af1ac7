"""Who owns a RUNNING run, and ending the run when its owner is gone.

A process that owns a run's lifetime (``mlcli run``, a sweep, ``mlcli.start_run``)
records itself in ``run.json`` as ``owner``: host name, boot id, pid namespace, pid
and the process's start time (``/proc/<pid>/stat`` field 22, so that a reused pid is
not mistaken for the owner). A run created by ``mlcli runs create``, the
``TrackingClient`` or the server has no owner: the shell script or remote client that
ends it is not a process mlcli can watch, so it is never ended for it.

A reader that finds a RUNNING run whose owner lived on this host and is gone (the
process no longer exists, is another process now, is a zombie, or the host has
rebooted since) ends it FAILED, with the reason in the ``mlcli.endReason`` tag and
the run's last write as its end time. It does so under the run's lock after reading
the document again, so two readers racing end it once. An owner on another host (or
in another pid namespace: a container, or with neither ``/proc`` nor psutil to look)
cannot be looked at from here: it is judged by its heartbeat (``heartbeat.py``), and
the run ends FAILED once the heartbeat is stale, its end time the last sign of life.
A run of an older mlcli, with an owner but no heartbeat, is left alone there: its
owner never beat, and a quiet but live run must not be ended.

An owner may also be a Slurm job (``{"kind": "slurm", "job_id": ..., "cluster": ...}``):
a run submitted with ``mlcli run --backend slurm`` is owned by its job from submission
(SCHEDULED) to its end, wherever the job runs. It is gone when Slurm holds the job as
finished or no longer knows it; the run then ends KILLED (cancelled, preempted) or
FAILED (a time limit, memory, a failed node...), with Slurm's state in
``mlcli.slurm.state`` and the reason in ``mlcli.project.failureReason`` too. Where
Slurm cannot be asked (no ``scontrol`` here), the run is left alone.

Or a Kubernetes Job (``{"kind": "kubernetes", "namespace", "name", "uid", "context"}``,
``mlcli run --backend kubernetes``): it is gone when the API server holds the Job as
finished, or no longer knows it (or knows another Job of its name); the run then ends
as the Job did (``mlcli.kubernetes.outcome``: FINISHED, FAILED with the reason, KILLED
when deleted). Where the cluster cannot be asked from here (no client, no kubeconfig
context, no answer within a few seconds), the run is left alone.
"""

from __future__ import annotations

import contextlib
import os
import socket
import sys
from dataclasses import asdict, dataclass
from dataclasses import fields as dataclass_fields
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, NamedTuple, TypeAlias

from mlcli import system_tags
from mlcli.errors import InvalidInputError, MlcliError, StoreError
from mlcli.files.fileio import append_bytes, read_json, write_json_atomic
from mlcli.files.lock import FileLock
from mlcli.store.changes import ChangeJournal
from mlcli.store.entities import RunStatus
from mlcli.store.heartbeat import (
    HEARTBEAT_FIELD,
    beat,
    keep_beating,
    last_beat,
    period_seconds,
    stale_since,
    stop_beating,
)
from mlcli.store.layout import StoreLayout
from mlcli.store.records import key_value_line

if TYPE_CHECKING:
    from mlcli.slurm.endings import JobEnding
    from mlcli.store.heartbeat import _Updatable

OWNER_FIELD = "owner"
_PROC = Path("/proc")


@dataclass(frozen=True)
class Owner:
    host: str
    boot: str | None  # the kernel's boot id (Linux)
    pid_namespace: str | None  # e.g. "pid:[4026531836]" (Linux)
    pid: int
    started: str  # the process's start time, in the kernel's own units

    def to_doc(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_doc(cls, doc: Any) -> Owner | None:
        if not isinstance(doc, dict):
            return None
        try:
            return cls(
                host=str(doc["host"]),
                boot=None if doc.get("boot") is None else str(doc["boot"]),
                pid_namespace=(
                    None if doc.get("pid_namespace") is None else str(doc["pid_namespace"])
                ),
                pid=int(doc["pid"]),
                started=str(doc["started"]),
            )
        except (KeyError, TypeError, ValueError):
            return None

    def describe(self) -> str:
        return f"owner process {self.pid} on host {self.host}"


@dataclass(frozen=True)
class SlurmJobOwner:
    job_id: str
    cluster: str | None = None  # ClusterName of the cluster it was submitted to

    kind: ClassVar[str] = "slurm"

    def to_doc(self) -> dict[str, Any]:
        return {"kind": self.kind, "job_id": self.job_id, "cluster": self.cluster}

    @classmethod
    def from_doc(cls, doc: Any) -> SlurmJobOwner | None:
        if not isinstance(doc, dict) or doc.get("kind") != cls.kind:
            return None
        job_id, cluster = doc.get("job_id"), doc.get("cluster")
        if not isinstance(job_id, str) or not job_id:
            return None
        return cls(job_id, cluster if isinstance(cluster, str) else None)

    def describe(self) -> str:
        return f"Slurm job {self.job_id}" + (f" on cluster {self.cluster}" if self.cluster else "")


@dataclass(frozen=True)
class KubernetesJobOwner:
    namespace: str
    name: str
    uid: str  # a Job made again under the same name is another Job
    context: str | None = None  # the kubeconfig context it was created in
    index: int | None = None  # a sweep's trial: its index in the Indexed Job

    kind: ClassVar[str] = "kubernetes"

    def to_doc(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "namespace": self.namespace,
            "name": self.name,
            "uid": self.uid,
            "context": self.context,
            **({} if self.index is None else {"index": self.index}),
        }

    @classmethod
    def from_doc(cls, doc: Any) -> KubernetesJobOwner | None:
        if not isinstance(doc, dict) or doc.get("kind") != cls.kind:
            return None
        namespace, name, uid = (doc.get(key) for key in ("namespace", "name", "uid"))
        if not (isinstance(namespace, str) and isinstance(name, str) and isinstance(uid, str)):
            return None
        if not (namespace and name and uid):
            return None
        context, index = doc.get("context"), doc.get("index")
        return cls(
            namespace,
            name,
            uid,
            context if isinstance(context, str) else None,
            index if isinstance(index, int) and not isinstance(index, bool) else None,
        )

    def describe(self) -> str:
        where = "" if self.index is None else f" index {self.index}"
        return f"Kubernetes Job {self.namespace}/{self.name}{where}"


#: Whatever may own a live run: a process, a Slurm job or a Kubernetes Job.
RunOwner: TypeAlias = Owner | SlurmJobOwner | KubernetesJobOwner


def owner_from_doc(doc: Any) -> RunOwner | None:
    """The owner a run document records (None: none, or one not understood here)."""
    if isinstance(doc, dict) and "kind" in doc:
        if doc.get("kind") == KubernetesJobOwner.kind:
            return KubernetesJobOwner.from_doc(doc)
        return SlurmJobOwner.from_doc(doc)
    return Owner.from_doc(doc)


_MAX_OWNER_TEXT = 1024


def parse_owner(doc: Any, name: str = "owner") -> RunOwner:
    """An owner a client sends (a team server's ``mlcli_owner``), checked strictly: it
    must be an owner's document exactly as ``to_doc`` writes it (optional fields may be
    left out), else InvalidInputError, one line naming ``name``."""

    def refuse(problem: str) -> InvalidInputError:
        return InvalidInputError(f"invalid {name}: {problem}")

    if not isinstance(doc, dict):
        raise refuse("expected an object (a process, a Slurm job or a Kubernetes Job)")
    if "kind" in doc and doc["kind"] not in (SlurmJobOwner.kind, KubernetesJobOwner.kind):
        raise refuse(
            f"unknown kind {str(doc['kind'])[:40]!r}: expected slurm or kubernetes "
            "(or none, for a process)"
        )
    owner = owner_from_doc(doc)
    if owner is None:
        raise refuse(
            "a process needs host, pid and started; a Slurm job job_id; a Kubernetes Job "
            "namespace, name and uid"
        )
    recorded = owner.to_doc()
    known = {"kind", *(field.name for field in dataclass_fields(owner))}
    for key, value in doc.items():
        shown = str(key)[:40]
        if key not in known:
            raise refuse(f"unknown field {shown!r}")
        if isinstance(value, bool) or value != recorded.get(key):
            raise refuse(f"invalid value for {shown!r}")
        if isinstance(value, str) and not 0 < len(value) <= _MAX_OWNER_TEXT:
            raise refuse(f"{shown!r} must be 1 to {_MAX_OWNER_TEXT} characters")
        if isinstance(value, int) and value < (1 if key == "pid" else 0):
            raise refuse(f"{shown!r} must be a positive integer")
    return owner


class Claim(NamedTuple):
    """A live run's owner and its last heartbeat ((ms, period in s); None: none)."""

    owner: RunOwner
    heartbeat: tuple[int, float] | None = None


def owner_fields(owner: RunOwner | None) -> dict[str, Any]:
    """What recording ``owner`` writes in a run's document: a process owner beats."""
    return {
        OWNER_FIELD: None if owner is None else owner.to_doc(),
        HEARTBEAT_FIELD: beat() if isinstance(owner, Owner) else None,
    }


def owner_recorded(runs: _Updatable, run_id: str, status: str, owner: RunOwner | None) -> None:
    """After a store wrote ``run_id``'s status: beat while this process owns the run."""
    if status in RunStatus.LIVE and isinstance(owner, Owner) and owner == this_process():
        keep_beating(runs, run_id, period_seconds())
    else:
        stop_beating(run_id)


_this: list[Owner | None] = []  # cached per process (reset in a forked child)


def this_process() -> Owner | None:
    """This process as an owner; None where it cannot be identified reliably."""
    if not _this:
        _this.append(_identify(os.getpid()))
    return _this[0]


def _identify(pid: int) -> Owner | None:
    host = socket.gethostname()
    if _proc_available():
        started = _proc_start(pid)
        if started is None:
            return None
        return Owner(host, _boot_id(), _pid_namespace(), pid, started[0])
    psutil = _psutil()
    if psutil is None:
        return None
    try:
        # No boot id: psutil's boot time moves with clock adjustments.
        return Owner(host, None, None, pid, repr(psutil.Process(pid).create_time()))
    except psutil.Error:
        return None


def is_gone(claim: Claim) -> bool:
    """True when the claim's owner surely no longer runs; False when alive or not
    knowable here (no Slurm to ask, a process elsewhere without a stale heartbeat)."""
    owner = claim.owner
    if isinstance(owner, SlurmJobOwner):
        return _job_ending(owner) is not None
    if isinstance(owner, KubernetesJobOwner):
        return _kubernetes_ending(owner) is not None
    gone = _process_gone(owner)
    if gone is None:
        return claim.heartbeat is not None and stale_since(claim.heartbeat)
    return gone


def _process_gone(owner: Owner) -> bool | None:
    """Whether a process owner is gone; None when it cannot be looked at from here."""
    me = this_process()
    if me is None or owner.host != me.host:
        return None
    if owner.boot is not None and me.boot is not None and owner.boot != me.boot:
        return True  # the host rebooted since
    if _proc_available():
        if owner.pid_namespace is None or owner.pid_namespace != me.pid_namespace:
            return None
        now = _proc_start(owner.pid)
        return now is None or now[0] != owner.started or now[1] in ("Z", "X")
    psutil = _psutil()
    if psutil is None:
        return None
    try:
        process = psutil.Process(owner.pid)
        return (
            repr(process.create_time()) != owner.started or process.status() == psutil.STATUS_ZOMBIE
        )
    except psutil.NoSuchProcess:
        return True
    except psutil.Error:
        return None


def _job_ending(owner: SlurmJobOwner) -> JobEnding | None:
    """The ``JobEnding`` of the owner's run once Slurm holds its job as finished or no
    longer knows it; None while it is live, or when Slurm cannot be asked here."""
    from mlcli.slurm.commands import SlurmError
    from mlcli.slurm.endings import ending_of
    from mlcli.slurm.jobs import cluster_name, job_state

    try:
        if owner.cluster and cluster_name() not in (None, owner.cluster):
            return None  # another cluster's job: not knowable from here
        state = job_state(owner.job_id)
    except SlurmError:
        return None
    if state is not None and not state.finished:
        return None
    return ending_of(owner.job_id, state)


def _kubernetes_ending(owner: KubernetesJobOwner) -> tuple[str, dict[str, str]] | None:
    """(status, tags) of the owner's run once its Job is finished or gone; None while
    it runs, or when the cluster cannot be asked from here."""
    from mlcli.kubernetes.judge import finished_job_outcome

    outcome = finished_job_outcome(
        owner.context, owner.namespace, owner.name, owner.uid, owner.index
    )
    if outcome is None:
        return None
    tags = {system_tags.END_REASON: outcome.reason, system_tags.KUBERNETES_REASON: outcome.code}
    if outcome.status != RunStatus.FINISHED:
        tags[system_tags.PROJECT_FAILURE_REASON] = outcome.reason
    return outcome.status, tags


def ending(claim: Claim) -> tuple[str, dict[str, str]] | None:
    """(status, tags) that end a run whose owner is gone; None while it is not."""
    owner = claim.owner
    if isinstance(owner, KubernetesJobOwner):
        return _kubernetes_ending(owner)
    if isinstance(owner, SlurmJobOwner):
        job = _job_ending(owner)
        if job is None:
            return None
        return job.status, job.tags()
    gone = _process_gone(owner)
    if gone is None and claim.heartbeat is not None and stale_since(claim.heartbeat):
        stopped = datetime.fromtimestamp(claim.heartbeat[0] / 1000, timezone.utc)
        reason = (
            f"the heartbeat of {owner.describe()} stopped at "
            f"{stopped.isoformat(timespec='seconds').replace('+00:00', 'Z')}"
        )
        return RunStatus.FAILED, {system_tags.END_REASON: reason}
    if not gone:
        return None
    reason = f"{owner.describe()} exited without ending the run"
    return RunStatus.FAILED, {system_tags.END_REASON: reason}


def end_if_orphaned(layout: StoreLayout, run_id: str) -> bool:
    """End ``run_id`` if it is live (RUNNING, or SCHEDULED for a Slurm job) and its
    owner is gone; True if ended here. Never raises for a run it cannot read or write
    (a damaged or read-only store)."""
    try:
        claim = live_claim(_read_doc(layout, run_id))
        end = None if claim is None else ending(claim)
        if end is None or claim is None:
            return False
        status, tags = end
        with FileLock(layout.run_lock(run_id)):
            doc = _read_doc(layout, run_id)
            if doc is None or live_claim(doc) != claim:  # ended, resumed or beat meanwhile
                return False
            end_time = max(_last_write_ms(layout, run_id, doc), (claim.heartbeat or (0, 0))[0])
            lines = "".join(key_value_line(key, value) for key, value in tags.items())
            append_bytes(layout.tags_log(run_id), lines.encode())
            doc.update(status=status, end_time=end_time)
            write_json_atomic(layout.run_doc(run_id), doc)
        ChangeJournal(layout.changes_log).note(run_id)  # as every write to a run does
        return True
    except (OSError, ValueError, MlcliError):
        return False


def recorded_claim(layout: StoreLayout, run_id: str) -> Claim | None:
    """The owner (and heartbeat) the document of a live run records; None when it
    records none, or the run is not live, or its document cannot be read."""
    return live_claim(_read_doc(layout, run_id))


def live_claim(doc: dict[str, Any] | None) -> Claim | None:
    """The owner (and heartbeat) a live run's document records; None for a run that
    is not live or records no owner."""
    if not doc or doc.get("status") not in RunStatus.LIVE:
        return None
    owner = owner_from_doc(doc.get(OWNER_FIELD))
    return None if owner is None else Claim(owner, last_beat(doc))


def _read_doc(layout: StoreLayout, run_id: str) -> dict[str, Any] | None:
    try:
        doc = read_json(layout.run_doc(run_id))
    except (OSError, StoreError):  # missing or damaged: not this module's to report
        return None
    return doc if isinstance(doc, dict) else None


def _last_write_ms(layout: StoreLayout, run_id: str, doc: dict[str, Any]) -> int:
    """When the run was last written to: the best guess of when its owner died."""
    latest = 0.0
    for path in (
        layout.run_doc(run_id),
        layout.params_log(run_id),
        layout.metrics_log(run_id),
        layout.tags_log(run_id),
    ):
        with contextlib.suppress(OSError):
            latest = max(latest, path.stat().st_mtime)
    return max(int(latest * 1000), int(doc.get("start_time") or 0))


def _proc_available() -> bool:
    return sys.platform.startswith("linux") and (_PROC / "self" / "stat").exists()


def _proc_start(pid: int) -> tuple[str, str] | None:
    """(start time in clock ticks since boot, state letter) of ``pid``; None if none."""
    try:
        raw = (_PROC / str(pid) / "stat").read_bytes()
    except OSError:
        return None
    fields = raw[raw.rfind(b")") + 2 :].split()
    if len(fields) < 20:
        return None
    return fields[19].decode(), fields[0].decode()


def _boot_id() -> str | None:
    try:
        return (_PROC / "sys" / "kernel" / "random" / "boot_id").read_text().strip() or None
    except OSError:
        return None


def _pid_namespace() -> str | None:
    try:
        return os.readlink(_PROC / "self" / "ns" / "pid")
    except OSError:
        return None


def _psutil() -> Any:
    try:
        import psutil
    except ImportError:
        return None
    return psutil


os.register_at_fork(after_in_child=_this.clear)
