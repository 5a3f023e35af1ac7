"""``--backend-config`` for Kubernetes: MLflow's ``kubernetes_config.json`` keys, a
few of mlcli's, as a JSON or YAML file and/or ``key=value`` items.

MLflow's keys: ``kube-context`` (the kubeconfig context; none: the current one, or
the in-cluster service account), ``repository-uri`` (where the image is pushed;
required unless ``image`` is given) and ``kube-job-template-path`` (the Job template; none: mlcli's
default). mlcli's: ``namespace`` (over the template's and the context's),
``resources`` (the container's ``requests``/``limits``, over the template's),
``store-uri`` (the store the pod logs to, when it reaches it by another address than
this machine) and ``image`` (an image already pushed, e.g. by CI: no build, no push).
Keys may be spelled with ``-`` or ``_``; an unknown key, a wrong type or a template
that cannot be read is one error, before anything exists.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlcli.errors import InvalidInputError

_TEXT_KEYS = (
    "kube_context",
    "repository_uri",
    "kube_job_template_path",
    "namespace",
    "store_uri",
    "image",
)
_KNOWN = (*_TEXT_KEYS, "resources")
#: A DNS-1123 label: what a namespace may be called.
_NAMESPACE = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
#: An image repository: [host[:port]/]path, lower case, without a tag or digest.
_REPOSITORY = re.compile(
    r"^(?:[a-zA-Z0-9.-]+(?::\d+)?/)?[a-z0-9]+(?:[._-]+[a-z0-9]+)*(?:/[a-z0-9]+(?:[._-]+[a-z0-9]+)*)*$"
)


@dataclass(frozen=True)
class KubernetesConfig:
    """What a run on Kubernetes is built, pushed and created with (docs/clusters.md)."""

    repository_uri: str | None = None
    kube_context: str | None = None
    #: The Job template (a file), None: the default template.
    kube_job_template_path: Path | None = None
    namespace: str | None = None
    #: The container's resources: {"requests": {...}, "limits": {...}}.
    resources: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    store_uri: str | None = None
    #: An image already in the registry (with mlcli and the project in it, as this
    #: backend builds them), run instead of building and pushing one.
    image: str | None = None


def load_kubernetes_config(items: Iterable[str]) -> KubernetesConfig:
    """The config of ``--backend-config`` items, JSON/YAML files and ``key=value``
    pairs in order (a later one overrides). A relative template path is the current
    directory's, as for MLflow, else the config file's."""
    values: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if sep and key.strip() and "/" not in key:
            _merge(values, {key.strip(): value}, f"--backend-config {item!r}", Path.cwd())
        else:
            path = Path(item)
            _merge(values, _read_file(path), str(path), path.parent)
    if not values.get("repository_uri") and not values.get("image"):
        raise InvalidInputError(
            "the kubernetes backend needs repository-uri in --backend-config: the image "
            "repository the cluster pulls from (e.g. registry.example.com/team/project), "
            "or an image already pushed there"
        )
    return KubernetesConfig(**values)


def _read_file(path: Path) -> Mapping[Any, Any]:
    from mlcli.projects.yamlfile import load_yaml_file

    if not path.is_file():
        raise InvalidInputError(
            f"--backend-config {str(path)!r} is neither KEY=VALUE nor an existing JSON or YAML file"
        )
    document = load_yaml_file(path, "the backend config")  # JSON is YAML
    if document is None:
        return {}
    if not isinstance(document, dict):
        raise InvalidInputError(f"the backend config {path} must be a mapping of keys to values")
    return document


def _merge(values: dict[str, Any], items: Mapping[Any, Any], where: str, base: Path) -> None:
    for raw_key, value in items.items():
        key = str(raw_key).replace("-", "_")
        if key not in _KNOWN:
            known = ", ".join(k.replace("_", "-") for k in _KNOWN)
            raise InvalidInputError(
                f"{where}: unknown Kubernetes config key {str(raw_key)!r} (known: {known})"
            )
        if key == "resources":
            values[key] = _resources(value, where)
            continue
        text = _text(key, value, where)
        if key == "namespace" and text is not None and not _NAMESPACE.match(text):
            raise InvalidInputError(f"{where}: namespace {text!r} is not a valid namespace name")
        if key == "repository_uri" and text is not None and not _REPOSITORY.match(text):
            raise InvalidInputError(
                f"{where}: repository-uri {text!r} must be an image repository without a tag "
                "([host[:port]/]path, lower case), e.g. registry.example.com/team/project"
            )
        if key == "kube_job_template_path" and text is not None:
            values[key] = _template_path(text, base, where)
        else:
            values[key] = text


def _text(key: str, value: Any, where: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip() or "\n" in value:
        raise InvalidInputError(f"{where}: {key.replace('_', '-')} must be a one-line string")
    return value.strip()


def _template_path(text: str, base: Path, where: str) -> Path:
    path = Path(text).expanduser()
    for candidate in (path, base / path) if not path.is_absolute() else (path,):
        if candidate.is_file():
            return candidate.resolve()
    raise InvalidInputError(f"{where}: kube-job-template-path {text!r} is not a file")


def _resources(value: Any, where: str) -> dict[str, dict[str, str]]:
    """``{"requests": {"cpu": "2"}, "limits": {"memory": "4Gi", "nvidia.com/gpu": 1}}``,
    quantities as strings."""
    if value is None:
        return {}
    if not isinstance(value, dict) or not set(value) <= {"requests", "limits"}:
        raise InvalidInputError(
            f"{where}: resources must be a mapping with requests and/or limits, each a "
            'mapping of resource names to quantities, e.g. {"limits": {"memory": "4Gi"}}'
        )
    resources: dict[str, dict[str, str]] = {}
    for kind, quantities in value.items():
        if not isinstance(quantities, dict) or not all(
            isinstance(name, str) and isinstance(q, str | int | float) and not isinstance(q, bool)
            for name, q in quantities.items()
        ):
            raise InvalidInputError(
                f'{where}: resources.{kind} must map resource names to quantities ("2", "4Gi")'
            )
        resources[kind] = {name: str(q) for name, q in quantities.items()}
    return resources
