"""A fake Kubernetes API server for the kubernetes backend's tests: a real HTTP server
on 127.0.0.1 that speaks, from the API's documented shapes, the few endpoints the
backend uses, and records every call.

- ``POST /apis/batch/v1/namespaces/{ns}/jobs``: a Job (409 AlreadyExists for a taken
  name, 404 for an unknown namespace); it gets a uid and a resourceVersion, and,
  unless ``spec.suspend``, one pod labelled ``job-name`` and ``controller-uid`` that
  runs at once; ``PATCH .../jobs/{name}`` (a merge patch of ``spec.suspend``) starts a
  suspended one.
- ``GET .../jobs/{name}`` (404 NotFound Status), ``GET .../jobs`` (a JobList, or with
  ``watch=true`` a stream of ``{"type", "object"}`` lines: the current object as ADDED,
  or the events after ``resourceVersion``, then changes until ``timeoutSeconds``),
  ``DELETE .../jobs/{name}`` (DeleteOptions: ``propagationPolicy``, a uid
  precondition, 409 Conflict when it does not match).
- ``GET /api/v1/namespaces/{ns}/pods?labelSelector=job-name=X`` (a PodList) and
  ``GET .../pods/{pod}/log?container=C&follow=true``: the pod's output, after which
  the pod ends as the job's script says (succeeds, fails, is OOMKilled, misses its
  deadline) or, for ``hang``, runs until its Job is deleted.

What a pod does is the test's ``Script``; nothing runs. Or, with a ``LocalKubelet``,
the pods of an Indexed Job (``completionMode: Indexed``, a sweep) really run: each
pod's first container command runs as a local process (``python`` is this
interpreter, the image's ``/mlcli/project`` a local directory) with the container's
variables, the Job's uid from the downward API and ``JOB_COMPLETION_INDEX``; its
output is the pod's log and its exit code its end. At most ``parallelism`` pods run
at once; an index that fails is in ``failedIndexes`` with ``backoffLimitPerIndex``,
else (``backoffLimit: 0``) it fails the Job, whose other pods get SIGTERM; the Job
ends ``Complete``, or ``Failed`` with ``FailedIndexes``/``BackoffLimitExceeded``, as
the Job controller does. Deleting the Job sends its pods' processes SIGTERM.

Requests need the bearer token of the kubeconfig it writes (401 otherwise).
"""

from __future__ import annotations

import contextlib
import copy
import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

TOKEN = "fake-token"
_COMPLETED = "Reached expected number of succeeded pods"
_ENDINGS = {
    # outcome: (container reason, exit code, the Job's failure reason and message)
    "fail": ("Error", 1, "BackoffLimitExceeded", "Job has reached the specified backoff limit"),
    "oom": (
        "OOMKilled",
        137,
        "BackoffLimitExceeded",
        "Job has reached the specified backoff limit",
    ),
    "deadline": ("Error", 143, "DeadlineExceeded", "Job was active longer than specified deadline"),
}


@dataclass
class Script:
    """What the pod of the next Job does: prints ``log``, then ends with ``outcome``
    (succeed, fail, oom, deadline) or runs on until deleted (hang)."""

    log: bytes = b"hello from the pod\n"
    outcome: str = "succeed"


@dataclass
class Call:
    method: str
    path: str
    query: dict[str, str]
    body: Any = None


@dataclass
class LocalKubelet:
    """Runs the pods of Indexed Jobs as local processes; ``project``: where the
    image's ``/mlcli/project`` is."""

    project: Path
    image_project: str = "/mlcli/project"

    def start(self, container: dict[str, Any], job_uid: str, index: int) -> subprocess.Popen[bytes]:
        def local(text: str) -> str:
            return text.replace(self.image_project, str(self.project))

        argv = [local(str(word)) for word in container["command"]]
        if argv[0] == "python":
            argv[0] = sys.executable
        environ = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("MLCLI_", "MLFLOW_")) and key != "KUBECONFIG"
        }
        for entry in container.get("env") or []:
            if "value" in entry:
                environ[entry["name"]] = local(str(entry["value"]))
            elif "controller-uid" in str(entry.get("valueFrom")):
                environ[entry["name"]] = job_uid
        environ["JOB_COMPLETION_INDEX"] = str(index)
        return subprocess.Popen(
            argv,
            cwd=self.project,
            env=environ,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )


@dataclass
class _Indexes:
    """An Indexed Job's progress, as its controller keeps it."""

    pending: list[int]
    parallelism: int
    per_index: bool  # backoffLimitPerIndex: an index fails alone
    running: set[int] = field(default_factory=set)
    completed: set[int] = field(default_factory=set)
    failed: set[int] = field(default_factory=set)
    failed_job: bool = False


@dataclass
class _Pod:
    namespace: str
    doc: dict[str, Any]
    log: bytes
    outcome: str
    ended: threading.Event = field(default_factory=threading.Event)
    process: subprocess.Popen[bytes] | None = None
    output: bytearray = field(default_factory=bytearray)


class FakeKubeApi:
    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.script = Script()
        self.kubelet: LocalKubelet | None = None
        self.indexed: dict[tuple[str, str], _Indexes] = {}
        self.namespaces = {"default", "ml", "mlflow"}
        self.jobs: dict[tuple[str, str], dict[str, Any]] = {}
        self.pods: dict[tuple[str, str], _Pod] = {}
        self.events: list[tuple[int, str, dict[str, Any]]] = []  # (rv, type, job)
        self.version = 100
        self.log_opened = threading.Event()
        self.lock = threading.Condition()
        self.server = _Server(("127.0.0.1", 0), _handler(self))
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> FakeKubeApi:
        self.thread.start()
        return self

    def stop(self) -> None:
        with self.lock:
            for pod in self.pods.values():
                pod.ended.set()
                if pod.process is not None and pod.process.poll() is None:
                    pod.process.kill()
            self.lock.notify_all()
            processes = [pod.process for pod in self.pods.values() if pod.process is not None]
        for process in processes:
            process.wait()
        self.server.shutdown()
        self.server.server_close()

    def write_kubeconfig(self, path: Path, context: str = "fake", namespace: str = "ml") -> Path:
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "fake", "cluster": {"server": self.url}}],
            "users": [{"name": "tester", "user": {"token": TOKEN}}],
            "contexts": [
                {
                    "name": context,
                    "context": {"cluster": "fake", "user": "tester", "namespace": namespace},
                }
            ],
            "current-context": context,
        }
        path.write_text(json.dumps(config))
        return path

    def calls_to(self, method: str, fragment: str) -> list[Call]:
        return [c for c in self.calls if c.method == method and fragment in c.path]

    # -- state changes (under the lock) ---------------------------------------------

    def _changed(self, kind: str, job: dict[str, Any]) -> None:
        self.version += 1
        job["metadata"]["resourceVersion"] = str(self.version)
        self.events.append((self.version, kind, copy.deepcopy(job)))
        self.lock.notify_all()

    def create_job(self, namespace: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        name = str((body.get("metadata") or {}).get("name"))
        if namespace not in self.namespaces:
            return 404, _status(404, "NotFound", f'namespaces "{namespace}" not found')
        with self.lock:
            if (namespace, name) in self.jobs:
                return 409, _status(409, "AlreadyExists", f'jobs.batch "{name}" already exists')
            job = copy.deepcopy(body)
            uid = str(uuid.uuid4())
            job["metadata"].update(
                namespace=namespace, uid=uid, creationTimestamp=_now(), generation=1
            )
            job["status"] = {}
            self.jobs[(namespace, name)] = job
            self._changed("ADDED", job)
            created = copy.deepcopy(job)
            if not job["spec"].get("suspend"):
                self._run(namespace, job)
            return 201, created

    def _run(self, namespace: str, job: dict[str, Any]) -> None:
        spec = job["spec"]
        if spec.get("completionMode") == "Indexed":
            assert self.kubelet is not None, "an Indexed Job's pods run on a LocalKubelet"
            progress = _Indexes(
                pending=list(range(int(spec["completions"]))),
                parallelism=int(spec.get("parallelism") or 1),
                per_index=spec.get("backoffLimitPerIndex") is not None,
            )
            self.indexed[(namespace, job["metadata"]["name"])] = progress
            job["status"] = {"startTime": _now()}
            self._start_indexes(namespace, job, progress)
            self._changed("MODIFIED", job)
            return
        self._start_pod(namespace, job)
        job["status"] = {"active": 1, "ready": 1, "startTime": _now()}
        self._changed("MODIFIED", job)

    def _start_indexes(self, namespace: str, job: dict[str, Any], progress: _Indexes) -> None:
        while progress.pending and len(progress.running) < progress.parallelism:
            index = progress.pending.pop(0)
            progress.running.add(index)
            self._start_pod(namespace, job, index)
        job["status"]["active"] = len(progress.running)

    def _index_ended(self, key: tuple[str, str], code: int) -> None:
        """A kubelet pod's process exited with ``code``: the pod and its Job move on."""
        with self.lock:
            pod = self.pods.get(key)
            if pod is None:
                return  # its Job was deleted
            labels = pod.doc["metadata"]["labels"]
            index = int(labels["batch.kubernetes.io/job-completion-index"])
            job = self.jobs.get((pod.namespace, labels["job-name"]))
            progress = self.indexed.get((pod.namespace, labels["job-name"]))
            reason = "Completed" if code == 0 else "Error"
            pod.doc["status"]["phase"] = "Succeeded" if code == 0 else "Failed"
            for status in pod.doc["status"]["containerStatuses"]:
                status["ready"] = False
                status["state"] = {
                    "terminated": {"exitCode": code, "reason": reason, "finishedAt": _now()}
                }
            pod.ended.set()
            if job is None or progress is None or index not in progress.running:
                self.lock.notify_all()
                return
            progress.running.discard(index)
            (progress.completed if code == 0 else progress.failed).add(index)
            if code != 0 and not progress.per_index and not progress.failed_job:
                progress.failed_job = True
                progress.pending.clear()
                for other in self.pods.values():
                    same_job = other.doc["metadata"]["labels"]["job-name"] == labels["job-name"]
                    if same_job and other.process is not None and other.process.poll() is None:
                        other.process.send_signal(signal.SIGTERM)
            status = job["status"]
            if not progress.failed_job:
                self._start_indexes(pod.namespace, job, progress)
            status.update(
                active=len(progress.running),
                succeeded=len(progress.completed),
                failed=len(progress.failed),
                completedIndexes=_ranges(progress.completed),
            )
            if progress.per_index and progress.failed:
                status["failedIndexes"] = _ranges(progress.failed)
            if not progress.running and not progress.pending:
                if progress.failed:
                    why = "FailedIndexes" if progress.per_index else "BackoffLimitExceeded"
                    message = (
                        "Job has failed indexes"
                        if progress.per_index
                        else "Job has reached the specified backoff limit"
                    )
                    status["conditions"] = [
                        _condition("FailureTarget", why, message),
                        _condition("Failed", why, message),
                    ]
                else:
                    status["completionTime"] = _now()
                    status["conditions"] = [
                        _condition(
                            kind, "CompletionsReached", "Reached expected number of succeeded pods"
                        )
                        for kind in ("SuccessCriteriaMet", "Complete")
                    ]
            self._changed("MODIFIED", job)

    def patch_job(self, namespace: str, name: str, patch: Any) -> tuple[int, dict[str, Any]]:
        """A merge patch; only ``spec.suspend`` is understood (false starts the pod)."""
        with self.lock:
            job = self.jobs.get((namespace, name))
            if job is None:
                return 404, _status(404, "NotFound", f'jobs.batch "{name}" not found')
            if set(patch) != {"spec"} or set(patch["spec"]) != {"suspend"}:
                return 422, _status(422, "Invalid", "the fake patches spec.suspend only")
            was = job["spec"].get("suspend")
            job["spec"]["suspend"] = patch["spec"]["suspend"]
            if was and not job["spec"]["suspend"]:
                self._run(namespace, job)
            else:
                self._changed("MODIFIED", job)
            return 200, copy.deepcopy(job)

    def _start_pod(self, namespace: str, job: dict[str, Any], index: int | None = None) -> None:
        name = job["metadata"]["name"]
        pod_name = f"{name}-{uuid.uuid4().hex[:5]}"
        containers = job["spec"]["template"]["spec"]["containers"]
        labels = {
            **(job["spec"]["template"].get("metadata") or {}).get("labels", {}),
            "job-name": name,
            "batch.kubernetes.io/job-name": name,
            "controller-uid": job["metadata"]["uid"],
            "batch.kubernetes.io/controller-uid": job["metadata"]["uid"],
        }
        metadata: dict[str, Any] = {"name": pod_name, "namespace": namespace, "labels": labels}
        if index is not None:
            pod_name = f"{name}-{index}-{uuid.uuid4().hex[:5]}"
            metadata["name"] = pod_name
            labels["batch.kubernetes.io/job-completion-index"] = str(index)
            metadata["annotations"] = {"batch.kubernetes.io/job-completion-index": str(index)}
        doc = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": metadata,
            "spec": copy.deepcopy(job["spec"]["template"]["spec"]),
            "status": {
                "phase": "Running",
                "containerStatuses": [
                    {"name": c["name"], "ready": True, "state": {"running": {"startedAt": _now()}}}
                    for c in containers
                ],
            },
        }
        pod = _Pod(namespace, doc, self.script.log, self.script.outcome)
        self.pods[(namespace, pod_name)] = pod
        if index is not None and self.kubelet is not None:
            pod.process = self.kubelet.start(containers[0], job["metadata"]["uid"], index)
            threading.Thread(
                target=self._relay, args=((namespace, pod_name), pod), daemon=True
            ).start()

    def _relay(self, key: tuple[str, str], pod: _Pod) -> None:
        """The pod's output, as it comes, then its end."""
        process = pod.process
        assert process is not None and process.stdout is not None
        stdout: Any = process.stdout
        for chunk in iter(lambda: stdout.read1(65536), b""):
            with self.lock:
                pod.output += chunk
                self.lock.notify_all()
        stdout.close()
        code = process.wait()
        self._index_ended(key, 128 - code if code < 0 else code)  # as a container reports it

    def end_pod(self, key: tuple[str, str]) -> None:
        """The pod's container has printed its log: it ends as scripted."""
        with self.lock:
            pod = self.pods.get(key)
            if pod is None or pod.outcome == "hang":
                return
            job_name = pod.doc["metadata"]["labels"]["job-name"]
            job = self.jobs.get((pod.namespace, job_name))
            if job is None:
                return
            if pod.outcome == "succeed":
                reason, code = "Completed", 0
                conditions = [
                    _condition(
                        "SuccessCriteriaMet",
                        "CompletionsReached",
                        "Reached expected number of succeeded pods",
                    )
                ]
                conditions.append(
                    _condition(
                        "Complete",
                        "CompletionsReached",
                        "Reached expected number of succeeded pods",
                    )
                )
                job["status"] = {
                    "succeeded": 1,
                    "ready": 0,
                    "completionTime": _now(),
                    "conditions": conditions,
                }
            else:
                reason, code, why, message = _ENDINGS[pod.outcome]
                conditions = [
                    _condition("FailureTarget", why, message),
                    _condition("Failed", why, message),
                ]
                job["status"] = {"failed": 1, "ready": 0, "conditions": conditions}
            pod.doc["status"]["phase"] = "Succeeded" if code == 0 else "Failed"
            for status in pod.doc["status"]["containerStatuses"]:
                status["ready"] = False
                status["state"] = {
                    "terminated": {"exitCode": code, "reason": reason, "finishedAt": _now()}
                }
            pod.ended.set()
            self._changed("MODIFIED", job)

    def delete_job(
        self, namespace: str, name: str, body: dict[str, Any]
    ) -> tuple[int, dict[str, Any]]:
        with self.lock:
            job = self.jobs.get((namespace, name))
            if job is None:
                return 404, _status(404, "NotFound", f'jobs.batch "{name}" not found')
            wanted = ((body or {}).get("preconditions") or {}).get("uid")
            if wanted and wanted != job["metadata"]["uid"]:
                return 409, _status(
                    409,
                    "Conflict",
                    f"Precondition failed: UID in precondition: {wanted}, UID in object meta: "
                    f"{job['metadata']['uid']}",
                )
            for key, pod in list(self.pods.items()):
                if pod.doc["metadata"]["labels"]["job-name"] == name and key[0] == namespace:
                    pod.ended.set()
                    if pod.process is not None and pod.process.poll() is None:
                        pod.process.send_signal(signal.SIGTERM)
                    del self.pods[key]
            del self.jobs[(namespace, name)]
            self.indexed.pop((namespace, name), None)
            job["metadata"]["deletionTimestamp"] = _now()
            self._changed("DELETED", job)
            return 200, copy.deepcopy(job)


class _Server(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hangs up (a watch or a log stream stopped early) is no error;
        anything else is printed as usual."""
        import sys

        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


def _handler(api: FakeKubeApi) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # streams are chunked, as the API server's are

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _start_stream(self, content_type: str) -> None:
            self.send_response(200)
            self.send_header("Content-Type", content_type)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            self.close_connection = True

        def _chunk(self, data: bytes) -> None:
            if data:
                self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
                self.wfile.flush()

        def _end_stream(self) -> None:
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()

        def do_GET(self) -> None:
            self._serve("GET")

        def do_POST(self) -> None:
            self._serve("POST")

        def do_DELETE(self) -> None:
            self._serve("DELETE")

        def do_PATCH(self) -> None:
            self._serve("PATCH")

        def _serve(self, method: str) -> None:
            parts = urlsplit(self.path)
            query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            body = json.loads(raw) if raw else None
            with api.lock:
                api.calls.append(Call(method, parts.path, query, body))
            if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                self._json(401, _status(401, "Unauthorized", "Unauthorized"))
                return
            segments = parts.path.strip("/").split("/")
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                self._route(method, segments, query, body)

        def _route(self, method: str, s: list[str], query: dict[str, str], body: Any) -> None:
            if s[:4] == ["apis", "batch", "v1", "namespaces"] and len(s) >= 6 and s[5] == "jobs":
                namespace = s[4]
                if len(s) == 6 and method == "POST":
                    self._json(*api.create_job(namespace, body))
                elif len(s) == 6 and method == "GET":
                    self._jobs(namespace, query)
                elif len(s) == 7 and method == "GET":
                    with api.lock:
                        job = api.jobs.get((namespace, s[6]))
                    if job is None:
                        self._json(404, _status(404, "NotFound", f'jobs.batch "{s[6]}" not found'))
                    else:
                        self._json(200, job)
                elif len(s) == 7 and method == "PATCH":
                    if self.headers.get("Content-Type") != "application/merge-patch+json":
                        self._json(415, _status(415, "UnsupportedMediaType", "unsupported patch"))
                    else:
                        self._json(*api.patch_job(namespace, s[6], body))
                elif len(s) == 7 and method == "DELETE":
                    self._json(*api.delete_job(namespace, s[6], body))
                else:
                    self._json(405, _status(405, "MethodNotAllowed", "method not allowed"))
            elif s[:3] == ["api", "v1", "namespaces"] and len(s) >= 5 and s[4] == "pods":
                if len(s) == 5:
                    self._pods(s[3], query)
                elif len(s) == 7 and s[6] == "log":
                    self._log(s[3], s[5], query)
                else:
                    self._json(404, _status(404, "NotFound", "not found"))
            else:
                self._json(404, _status(404, "NotFound", "the server could not find the resource"))

        def _jobs(self, namespace: str, query: dict[str, str]) -> None:
            wanted = _field_name(query.get("fieldSelector"))
            if query.get("watch") not in ("true", "True", "1"):
                with api.lock:
                    items = [
                        j
                        for (ns, name), j in api.jobs.items()
                        if ns == namespace and wanted in (None, name)
                    ]
                    listed = {
                        "apiVersion": "batch/v1",
                        "kind": "JobList",
                        "metadata": {"resourceVersion": str(api.version)},
                        "items": items,
                    }
                    self._json(200, listed)
                return
            self._watch(namespace, wanted, query)

        def _watch(self, namespace: str, wanted: str | None, query: dict[str, str]) -> None:
            self._start_stream("application/json")
            deadline = time.monotonic() + float(query.get("timeoutSeconds") or 30)
            since = query.get("resourceVersion")
            with api.lock:
                if since:
                    sent = int(since)
                else:  # the current state first, as ADDED
                    sent = api.version
                    for (ns, name), job in api.jobs.items():
                        if ns == namespace and wanted in (None, name):
                            self._event("ADDED", job)
                while True:
                    for version, kind, job in api.events:
                        if version <= sent:
                            continue
                        sent = version
                        meta = job["metadata"]
                        if meta["namespace"] == namespace and wanted in (None, meta["name"]):
                            self._event(kind, job)
                    left = deadline - time.monotonic()
                    if left <= 0:
                        self._end_stream()
                        return
                    api.lock.wait(left)

        def _event(self, kind: str, job: dict[str, Any]) -> None:
            self._chunk(json.dumps({"type": kind, "object": job}).encode() + b"\n")

        def _pods(self, namespace: str, query: dict[str, str]) -> None:
            selector = query.get("labelSelector") or ""
            key, _, value = selector.partition("=")
            with api.lock:
                items = [
                    copy.deepcopy(p.doc)
                    for (ns, _name), p in api.pods.items()
                    if ns == namespace
                    and (not key or p.doc["metadata"]["labels"].get(key) == value)
                ]
                version = str(api.version)
            self._json(
                200,
                {
                    "apiVersion": "v1",
                    "kind": "PodList",
                    "metadata": {"resourceVersion": version},
                    "items": items,
                },
            )

        def _log(self, namespace: str, name: str, query: dict[str, str]) -> None:
            with api.lock:
                pod = api.pods.get((namespace, name))
            if pod is None:
                self._json(404, _status(404, "NotFound", f'pods "{name}" not found'))
                return
            names = [c["name"] for c in pod.doc["spec"]["containers"]]
            container = query.get("container") or names[0]
            if container not in names:
                message = f"container {container} is not valid for pod {name}"
                self._json(400, _status(400, "BadRequest", message))
                return
            self._start_stream("text/plain")
            api.log_opened.set()
            if pod.process is not None:
                self._process_log(pod, query.get("follow") in ("true", "True", "1"))
                return
            self._chunk(pod.log)
            if query.get("follow") in ("true", "True", "1"):
                api.end_pod((namespace, name))
                pod.ended.wait(120)
            self._end_stream()

        def _process_log(self, pod: _Pod, follow: bool) -> None:
            sent = 0
            with api.lock:
                while True:
                    if len(pod.output) > sent:
                        self._chunk(bytes(pod.output[sent:]))
                        sent = len(pod.output)
                    if not follow or pod.ended.is_set():
                        break
                    api.lock.wait(1.0)
            self._end_stream()

        def _json(self, code: int, document: dict[str, Any]) -> None:
            data = json.dumps(document).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    return Handler


def _field_name(selector: str | None) -> str | None:
    if not selector:
        return None
    key, _, value = selector.partition("=")
    return value if key == "metadata.name" else None


def _ranges(indexes: set[int]) -> str:
    """``{1, 3, 4, 5}`` as the API writes it: ``"1,3-5"``."""
    parts: list[str] = []
    for index in sorted(indexes):
        if parts and parts[-1].split("-")[-1] == str(index - 1):
            parts[-1] = f"{parts[-1].split('-')[0]}-{index}"
        else:
            parts.append(str(index))
    return ",".join(parts)


def _status(code: int, reason: str, message: str) -> dict[str, Any]:
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }


def _condition(kind: str, reason: str, message: str) -> dict[str, str]:
    return {
        "type": kind,
        "status": "True",
        "reason": reason,
        "message": message,
        "lastProbeTime": _now(),
        "lastTransitionTime": _now(),
    }


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
