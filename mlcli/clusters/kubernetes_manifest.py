"""The Job a run on Kubernetes is created as: a template (the user's, or the default)
filled in the way MLflow fills its ``kube-job-template-path`` template, so that an
MLflow user's template works unchanged.

As MLflow does, the first container's ``name``, ``image`` and ``command`` are replaced
(MLflow's templates mark them ``{replaced with MLflow Project name}``, ``{replaced
with URI of Docker image created during Project execution}`` and ``{replaced with
MLflow Project entry point command}``), the run's variables are appended to its
``env`` (a ``{appended with ...}`` marker there is dropped) and ``metadata.name``
becomes the project's name and a unique suffix; other containers are left as they are,
but for a placeholder written in them, which is replaced the same way. mlcli adds
labels naming the run, ``restartPolicy: Never`` when the template has none, the
config's namespace and resources, and, for a sweep, ``completionMode: Indexed`` with
one completion per trial: each index is run once and fails alone
(``backoffLimitPerIndex: 0``, Kubernetes 1.29+), or, with ``--fail-fast``, the first
failed index fails the Job and stops the others (``backoffLimit: 0``).

The result is checked against the Kubernetes OpenAPI schema through the client's own
models (every field known, every type right) before anything is created.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlcli.errors import InvalidInputError
from mlcli.kubernetes.pod import JOB_UID_FIELD, JOB_UID_VARIABLE

PROJECT_NAME = "{replaced with MLflow Project name}"
IMAGE_URI = "{replaced with URI of Docker image created during Project execution}"
COMMAND = "{replaced with MLflow Project entry point command}"
_ENV_MARKER = "{appended with"
#: Labels on the Job and its pods: which run they carry (a selector for kubectl).
RUN_LABEL = "mlcli/run-id"

#: The default template: one container, no retries (a retry would be a second run
#: attaching to a finished one), the run's pods kept until the Job is deleted.
DEFAULT_TEMPLATE: dict[str, Any] = {
    "apiVersion": "batch/v1",
    "kind": "Job",
    "metadata": {"name": PROJECT_NAME},
    "spec": {
        "backoffLimit": 0,
        "template": {
            "spec": {
                "restartPolicy": "Never",
                "containers": [{"name": PROJECT_NAME, "image": IMAGE_URI, "command": [COMMAND]}],
            }
        },
    },
}


@dataclass(frozen=True)
class JobInputs:
    """What fills the template."""

    project_name: str
    run_id: str
    image: str
    command: Sequence[str]
    environment: Mapping[str, str]
    namespace: str | None = None
    resources: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    #: An Indexed Job of this many completions (a sweep's trials), at most
    #: ``parallelism`` at once; None: one pod.
    completions: int | None = None
    parallelism: int | None = None
    #: A sweep's ``--fail-fast``: the first failed trial ends the Job.
    fail_fast: bool = False


def load_template(path: Path | None) -> dict[str, Any]:
    """The Job template at ``path`` (None: the default), checked to be a Job."""
    if path is None:
        return copy.deepcopy(DEFAULT_TEMPLATE)
    from mlcli.projects.yamlfile import load_yaml_file

    template = load_yaml_file(path, "the Kubernetes Job template", typed=True)
    check_template(template, f"the Job template {path}")
    assert isinstance(template, dict)
    return template


def check_template(template: Any, where: str) -> None:
    """InvalidInputError unless ``template`` is a batch/v1 Job with a container."""
    if not isinstance(template, dict):
        raise InvalidInputError(f"{where} must be a YAML mapping (a Kubernetes Job)")
    kind, version = template.get("kind"), template.get("apiVersion")
    if kind != "Job" or version != "batch/v1":
        raise InvalidInputError(
            f"{where} must be a Job (apiVersion: batch/v1, kind: Job), not "
            f"{version or 'no apiVersion'} {kind or 'no kind'}"
        )
    containers = _get(template, "spec", "template", "spec", "containers")
    if not isinstance(containers, list) or not containers or not isinstance(containers[0], dict):
        raise InvalidInputError(f"{where} has no container in spec.template.spec.containers")
    if not isinstance(template.get("metadata", {}), dict):
        raise InvalidInputError(f"{where}: metadata must be a mapping")


def job_name(project_name: str, run_id: str) -> str:
    """``<project>-<run id prefix>``: a DNS-1123 label (a Job's pods carry it as a
    label value, so at most 63 characters)."""
    slug = re.sub(r"[^a-z0-9-]+", "-", project_name.lower()).strip("-")[:40].strip("-")
    return f"{slug or 'mlcli'}-{run_id[:12]}"


def container_name(project_name: str) -> str:
    slug = re.sub(r"[^a-z0-9-]+", "-", project_name.lower()).strip("-")[:63].strip("-")
    return slug or "mlcli"


def render_job(template: Mapping[str, Any], inputs: JobInputs) -> dict[str, Any]:
    """The Job manifest for ``inputs`` from ``template`` (left unchanged)."""
    check_template(template, "the Job template")
    job = copy.deepcopy(dict(template))
    name = container_name(inputs.project_name)
    replacements: dict[str, Any] = {
        PROJECT_NAME: name,
        IMAGE_URI: inputs.image,
        COMMAND: list(inputs.command),
    }
    job = _replace_placeholders(job, replacements)
    metadata = job.setdefault("metadata", {})
    metadata["name"] = job_name(inputs.project_name, inputs.run_id)
    if inputs.namespace:
        metadata["namespace"] = inputs.namespace
    labels = {RUN_LABEL: inputs.run_id}
    metadata["labels"] = {**(metadata.get("labels") or {}), **labels}
    spec = job["spec"]
    pod = spec["template"]
    pod_metadata = pod.setdefault("metadata", {}) or {}
    pod["metadata"] = pod_metadata
    pod_metadata["labels"] = {**(pod_metadata.get("labels") or {}), **labels}
    pod_spec = pod["spec"]
    pod_spec.setdefault("restartPolicy", "Never")
    first = pod_spec["containers"][0]
    first.update(name=name, image=inputs.image, command=list(inputs.command))
    first.pop("args", None)  # the command is whole; MLflow's runs carry no args either
    first["env"] = _environment(first.get("env"), inputs.environment)
    if inputs.resources:
        first["resources"] = _merged_resources(first.get("resources"), inputs.resources)
    for container in [*pod_spec["containers"], *(pod_spec.get("initContainers") or [])]:
        if isinstance(container, dict) and isinstance(container.get("resources"), dict):
            container["resources"] = _quantities_as_text(container["resources"])
    if inputs.completions is not None:
        spec["completionMode"] = "Indexed"
        spec["completions"] = inputs.completions
        spec["parallelism"] = inputs.parallelism or inputs.completions
        spec.pop("maxFailedIndexes", None)
        if inputs.fail_fast:
            spec.pop("backoffLimitPerIndex", None)
            spec["backoffLimit"] = 0
        else:  # a trial runs once (a retry would attach to its ended run) and fails alone
            spec.pop("backoffLimit", None)
            spec["backoffLimitPerIndex"] = 0
    return job


def _environment(existing: Any, variables: Mapping[str, str]) -> list[dict[str, Any]]:
    """The template's ``env`` without MLflow's marker and without the variables the
    run sets, then the run's variables, then the Job's uid (downward API)."""
    ours = {*variables, JOB_UID_VARIABLE}
    kept = [
        entry
        for entry in (existing if isinstance(existing, list) else [])
        if not (isinstance(entry, str) and entry.startswith(_ENV_MARKER))
        and not (isinstance(entry, dict) and entry.get("name") in ours)
    ]
    kept += [{"name": key, "value": value} for key, value in variables.items()]
    kept.append({"name": JOB_UID_VARIABLE, "valueFrom": {"fieldRef": {"fieldPath": JOB_UID_FIELD}}})
    return kept


def _merged_resources(existing: Any, config: Mapping[str, Mapping[str, str]]) -> dict[str, Any]:
    resources = dict(existing) if isinstance(existing, dict) else {}
    for kind, quantities in config.items():
        resources[kind] = {**(resources.get(kind) or {}), **quantities}
    return resources


def _quantities_as_text(resources: dict[str, Any]) -> dict[str, Any]:
    """``cpu: 2`` as ``cpu: "2"``: the API server reads both, the schema says string."""
    fixed = dict(resources)
    for kind in ("requests", "limits"):
        quantities = fixed.get(kind)
        if isinstance(quantities, dict):
            fixed[kind] = {
                key: str(value)
                if isinstance(value, int | float) and not isinstance(value, bool)
                else value
                for key, value in quantities.items()
            }
    return fixed


def _replace_placeholders(value: Any, replacements: Mapping[str, Any]) -> Any:
    """Every placeholder string replaced; a placeholder alone in a list (a command)
    by the whole replacement list."""
    if isinstance(value, dict):
        return {k: _replace_placeholders(v, replacements) for k, v in value.items()}
    if isinstance(value, list):
        if len(value) == 1 and isinstance(value[0], str) and value[0] in replacements:
            replaced = replacements[value[0]]
            return list(replaced) if isinstance(replaced, list) else [replaced]
        return [_replace_placeholders(v, replacements) for v in value]
    if isinstance(value, str) and value in replacements:
        replaced = replacements[value]
        return " ".join(replaced) if isinstance(replaced, list) else replaced
    return value


def validate_job(manifest: Mapping[str, Any], where: str = "the Job") -> None:
    """Check ``manifest`` against the Kubernetes OpenAPI schema through the client's
    model of a Job (``V1Job``: unknown fields and wrong types refused); one line
    naming the first problem's path. Needs a client whose models check (37+); an
    older one is not asked."""
    from kubernetes.client.models import V1Job

    validate = getattr(V1Job, "model_validate", None)
    if validate is None:
        return
    from pydantic import ValidationError

    try:
        validate(dict(manifest))
    except ValidationError as exc:
        problems = exc.errors()
        first = problems[0]
        path = ".".join(str(part) for part in first["loc"])
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise InvalidInputError(
            f"{where} is not a valid Kubernetes Job: {path}: {first['msg']}{more}"
        ) from None


def _get(document: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(document, dict):
            return None
        document = document.get(key)
    return document
