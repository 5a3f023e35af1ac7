"""The Kubernetes API as the backend uses it: batch/v1 Jobs (create, resume, read,
watch, delete) and core/v1 Pods (list by job, stream a container's log).

Objects travel as plain JSON dicts (``_preload_content=False``), never as the client's
models: the manifest a user's template makes is sent as written, and what the server
answers is read the same way whatever the client's version. A refusal or an
unreachable server is one line (``KubernetesError``), with the API's own message.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from mlcli.errors import MlcliError

INSTALL_HINT = "pip install 'mlcli[kubernetes]'"
#: How long one API request may take (a watch says its own timeout).
REQUEST_TIMEOUT = 30.0


class KubernetesError(MlcliError):
    """The API server refused a request, or could not be reached or configured."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


def require_client(needed_by: str = "the kubernetes backend") -> None:
    """KubernetesError naming the extra when the ``kubernetes`` package is missing."""
    try:
        import kubernetes  # noqa: F401
    except ImportError:
        raise KubernetesError(
            f"{needed_by} needs the Kubernetes Python client, which is not installed: "
            f"{INSTALL_HINT}"
        ) from None


@dataclass
class Cluster:
    """A connection to one cluster: the context it came from, and the APIs on it."""

    context: str | None
    namespace: str  # the context's namespace, else "default"
    api_client: Any

    def close(self) -> None:
        self.api_client.close()

    @property
    def batch(self) -> Any:
        from kubernetes import client

        return client.BatchV1Api(self.api_client)

    @property
    def core(self) -> Any:
        from kubernetes import client

        return client.CoreV1Api(self.api_client)


def connect(context: str | None) -> Cluster:
    """Connect with kubeconfig's ``context`` (None: its current one); without any
    kubeconfig file and no context asked, the in-cluster service account."""
    require_client()
    from kubernetes import config
    from kubernetes.config.config_exception import ConfigException

    path = kubeconfig_path()
    try:
        if context is None and not os.path.exists(path):
            from kubernetes import client

            configuration = client.Configuration()
            config.load_incluster_config(client_configuration=configuration)
            return Cluster(None, _incluster_namespace(), client.ApiClient(configuration))
        contexts, current = config.list_kube_config_contexts(config_file=path)
        chosen = current if context is None else _find(contexts, context, path)
        api_client = config.new_client_from_config(
            config_file=path, context=chosen["name"], persist_config=False
        )
    except ConfigException as exc:
        raise KubernetesError(f"cannot use the kubeconfig {path}: {_first_line(exc)}") from None
    except OSError as exc:
        raise KubernetesError(f"cannot read the kubeconfig {path}: {exc.strerror}") from None
    namespace = (chosen.get("context") or {}).get("namespace") or "default"
    return Cluster(chosen["name"], namespace, api_client)


def kubeconfig_path() -> str:
    """The kubeconfig file kubectl would read first (``$KUBECONFIG``'s first entry)."""
    first = (os.environ.get("KUBECONFIG") or "").split(os.pathsep)[0]
    return os.path.expanduser(first or "~/.kube/config")


def _find(contexts: list[dict[str, Any]], name: str, path: str) -> dict[str, Any]:
    for context in contexts:
        if context.get("name") == name:
            return context
    known = ", ".join(sorted(str(c.get("name")) for c in contexts)) or "none"
    raise KubernetesError(f"kube-context {name!r} is not in the kubeconfig {path} (it has {known})")


def _incluster_namespace() -> str:
    try:
        with open("/var/run/secrets/kubernetes.io/serviceaccount/namespace") as file:
            return file.read().strip() or "default"
    except OSError:
        return "default"


def create_job(cluster: Cluster, namespace: str, manifest: dict[str, Any]) -> dict[str, Any]:
    """POST the Job; the object the server made (with its uid)."""
    return _json(
        _call(
            "create the Job",
            cluster.batch.create_namespaced_job,
            namespace,
            manifest,
            field_validation="Strict",  # a field the server does not know is an error
            _preload_content=False,
        )
    )


def read_job(
    cluster: Cluster, namespace: str, name: str, timeout: float = REQUEST_TIMEOUT
) -> dict[str, Any] | None:
    """The Job; None when the server does not know it (deleted, or never made)."""
    try:
        response = _call(
            f"read Job {namespace}/{name}",
            cluster.batch.read_namespaced_job,
            name,
            namespace,
            _preload_content=False,
            _request_timeout=timeout,
        )
    except KubernetesError as exc:
        if exc.status == 404:
            return None
        raise
    return _json(response)


def resume_job(cluster: Cluster, namespace: str, name: str) -> None:
    """Let a Job created suspended (``spec.suspend``) start its pods (a merge patch)."""
    _call(
        f"start Job {namespace}/{name}",
        cluster.batch.patch_namespaced_job,
        name,
        namespace,
        {"spec": {"suspend": False}},
        _content_type="application/merge-patch+json",
        _preload_content=False,
    )


def delete_job(cluster: Cluster, namespace: str, name: str, uid: str | None = None) -> bool:
    """Delete the Job and, first, its pods (``propagationPolicy: Foreground``); only
    the Job with ``uid`` when given. False when it was already gone."""
    from kubernetes import client

    body = client.V1DeleteOptions(
        propagation_policy="Foreground",
        preconditions=client.V1Preconditions(uid=uid) if uid else None,
    )
    try:
        _call(
            f"delete Job {namespace}/{name}",
            cluster.batch.delete_namespaced_job,
            name,
            namespace,
            body=body,
            _preload_content=False,
        )
    except KubernetesError as exc:
        if exc.status in (404, 409):  # gone, or another Job by that name now
            return False
        raise
    return True


def list_pods(
    cluster: Cluster, namespace: str, job_name: str, timeout: float = REQUEST_TIMEOUT
) -> list[dict[str, Any]]:
    """The Job's pods (the ``job-name`` label the Job controller sets)."""
    answer = _json(
        _call(
            f"list the pods of Job {namespace}/{job_name}",
            cluster.core.list_namespaced_pod,
            namespace,
            label_selector=f"job-name={job_name}",
            _preload_content=False,
            _request_timeout=timeout,
        )
    )
    return list(answer.get("items") or [])


def watch_job(
    cluster: Cluster, namespace: str, name: str, resource_version: str | None, timeout: int
) -> Iterator[tuple[str, dict[str, Any]]]:
    """``(type, job)`` events of the Job named ``name``: ADDED/MODIFIED/DELETED, from
    after ``resource_version`` (None: the current state first), for at most
    ``timeout`` seconds."""
    from kubernetes import watch

    watcher = watch.Watch()
    kwargs: dict[str, Any] = {
        "field_selector": f"metadata.name={name}",
        "timeout_seconds": timeout,
        "_request_timeout": timeout + REQUEST_TIMEOUT,
    }
    if resource_version:
        kwargs["resource_version"] = resource_version
    try:
        for event in watcher.stream(cluster.batch.list_namespaced_job, namespace, **kwargs):
            yield str(event["type"]), event["raw_object"]
    except Exception as exc:  # the client's and urllib3's errors share no base class
        raise _error(f"watch Job {namespace}/{name}", exc) from None
    finally:
        watcher.stop()


def stream_log(cluster: Cluster, namespace: str, pod: str, container: str) -> Iterator[bytes]:
    """The container's log from its start, followed until the container ends."""
    response = _call(
        f"read the log of pod {namespace}/{pod}",
        cluster.core.read_namespaced_pod_log,
        pod,
        namespace,
        container=container,
        follow=True,
        _preload_content=False,
        _request_timeout=None,  # a quiet container is no reason to stop following
    )
    try:
        yield from response.stream(64 * 1024, decode_content=True)
    except Exception as exc:
        raise _error(f"read the log of pod {namespace}/{pod}", exc) from None
    finally:
        response.release_conn()


def _call(what: str, function: Any, *args: Any, **kwargs: Any) -> Any:
    kwargs.setdefault("_request_timeout", REQUEST_TIMEOUT)
    try:
        return function(*args, **kwargs)
    except Exception as exc:  # ApiException, urllib3's and socket errors
        raise _error(what, exc) from None


def _error(what: str, exc: BaseException) -> KubernetesError:
    status = getattr(exc, "status", None)
    body = getattr(exc, "body", None)
    message = None
    if body:
        try:
            message = json.loads(body).get("message")
        except (ValueError, AttributeError):
            message = None
    if message is None:
        reason = getattr(exc, "reason", None)
        message = str(reason) if status and reason else _first_line(exc)
    prefix = f"HTTP {status}: " if isinstance(status, int) else ""
    return KubernetesError(
        f"cannot {what}: {prefix}{message}", status if isinstance(status, int) else None
    )


def _json(response: Any) -> dict[str, Any]:
    try:
        answer = json.loads(response.data)
    except ValueError:
        raise KubernetesError("the API server answered something that is not JSON") from None
    return answer if isinstance(answer, dict) else {}


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:300] if text else type(exc).__name__
