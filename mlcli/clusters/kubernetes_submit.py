"""``mlcli run --backend kubernetes``: one run as one Kubernetes Job.

Everything a user can get wrong is checked first, with nothing created: the project
and parameters (``plan_run``), a docker env, the config, the template and the Job it
makes (against the API's schema), and the kubeconfig context. Then the run is created
SCHEDULED, owned by this process; the image is built and pushed
(``kubernetes_image``); the Job is created suspended (its manifest kept as the
artifact ``kubernetes/job.yaml``), recorded on the run (``mlcli.kubernetes.job``, its
uid and context) as its owner, and only then let start, so that no pod can attach to
the run before the run knows its Job. In the pod, ``mlcli run /mlcli/project --run-id
RUN`` makes the run RUNNING, runs the entry point and ends the run;
``kubernetes_follow`` follows the Job and ends the run itself when the Job ended
without the run (a pod killed for its memory, a deadline, a deleted Job).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import yaml

from mlcli import system_tags
from mlcli.clusters.kubernetes_config import KubernetesConfig
from mlcli.clusters.kubernetes_image import PushedImage, build_and_push, check_docker_project
from mlcli.clusters.kubernetes_image import image_tag as choose_tag
from mlcli.clusters.kubernetes_manifest import (
    JobInputs,
    job_name,
    load_template,
    render_job,
    validate_job,
)
from mlcli.clusters.slurm_submit import end_unsubmitted as end_failed  # one rule for both
from mlcli.clusters.slurm_submit import store_for_jobs
from mlcli.kubernetes import api
from mlcli.kubernetes.pod import CONTEXT_VARIABLE, JOB_VARIABLE
from mlcli.projects import RunPlan, RunRequest, plan_run
from mlcli.projects.feedback import Feedback, SilentFeedback
from mlcli.projects.runner import parent_run_id, project_tags, run_experiment_id
from mlcli.store import KubernetesJobOwner, RunStatus, this_process
from mlcli.sweeps.quoting import quote_literal
from mlcli.tracking.client import TrackingClient

BACKEND = "kubernetes"
MANIFEST_ARTIFACT = "kubernetes/job.yaml"
#: Where the project is inside the image (``docker_images.CONTAINER_PROJECT``).
POD_PROJECT = "/mlcli/project"
_NO_RUN_YET = "0" * 32


@dataclass(frozen=True)
class KubernetesSubmission:
    """A submitted run and the Job that carries it."""

    run_id: str
    run_name: str
    experiment_id: str
    namespace: str
    job_name: str
    uid: str
    context: str | None
    image: str

    @property
    def label(self) -> str:
        return f"{self.namespace}/{self.job_name}"


def submit_kubernetes(
    request: RunRequest,
    config: KubernetesConfig,
    client: TrackingClient,
    *,
    feedback: Feedback | None = None,
    cluster: api.Cluster | None = None,
    image: PushedImage | None = None,
) -> KubernetesSubmission:
    """Create ``request``'s run SCHEDULED, build and push its image and create its Job.
    ``cluster``: a connection to use (default: the config's context); ``image``: an
    image already pushed, used instead of building one. Errors before the run exists
    are raised as they are; later ones end it FAILED (the reason in
    ``mlcli.project.failureReason``) and are raised with its id added."""
    feedback = feedback or SilentFeedback()
    if image is not None or config.image:  # nothing to build here: no engine needed
        request = replace(request, env_manager=request.env_manager or "local")
    plan = plan_run(request)
    check_docker_project(plan)
    template = load_template(config.kube_job_template_path)
    where = f"the Job template {config.kube_job_template_path or '(the default)'}"
    validate_job(render_job(template, _inputs(plan, config, client, _NO_RUN_YET, "0", "x")), where)
    if cluster is None:
        with contextlib.closing(api.connect(config.kube_context)) as own:
            return _submit(plan, config, client, feedback, own, template, where, image)
    return _submit(plan, config, client, feedback, cluster, template, where, image)


def _submit(
    plan: RunPlan,
    config: KubernetesConfig,
    client: TrackingClient,
    feedback: Feedback,
    cluster: api.Cluster,
    template: dict[str, Any],
    where: str,
    image: PushedImage | None,
) -> KubernetesSubmission:
    request = plan.request
    namespace = config.namespace or template_namespace(template) or cluster.namespace
    store = pod_environment(client, config, "", "")["MLCLI_STORE"]
    if "://" not in store:
        feedback.info(
            f"The pod logs to the store at {store}: the Job template must mount it at that "
            "path (else give store-uri, or use a team server or an s3:// store)"
        )
    tags = {**project_tags(plan), **request.tags, system_tags.BACKEND: BACKEND}
    if cluster.context:
        tags[system_tags.KUBERNETES_CONTEXT] = cluster.context
    run = client.create_run(
        experiment_id=run_experiment_id(client, request.experiment),
        run_name=request.run_name,
        tags=tags,
        parent_run_id=parent_run_id(client, request),
        owner=this_process(),  # until the Job is its owner
        status=RunStatus.SCHEDULED,
    )
    run_id, experiment_id = run.info.run_id, run.info.experiment_id
    try:
        client.log_batch(run_id, params=plan.parameters.logged())
        if image is None and config.image:
            image = PushedImage(config.image, None)
        if image is None:
            assert config.repository_uri  # the config requires one without an image
            image = build_and_push(plan, config.repository_uri, choose_tag(plan, run_id), feedback)
        image_tags = {system_tags.DOCKER_IMAGE_URI: image.reference}
        if image.image_id:
            image_tags[system_tags.DOCKER_IMAGE_ID] = image.image_id
        client.log_batch(run_id, tags=image_tags)
        inputs = _inputs(plan, config, client, run_id, experiment_id, image.reference)
        variables = {**inputs.environment, **job_variables(cluster, namespace, inputs)}
        inputs = replace(inputs, environment=variables)
        manifest = render_job(template, inputs)
        manifest["metadata"]["namespace"] = namespace
        manifest["spec"]["suspend"] = True  # no pod before the run knows its Job
        validate_job(manifest, where)
        client.log_text(run_id, yaml.safe_dump(manifest, sort_keys=False), MANIFEST_ARTIFACT)
        created = api.create_job(cluster, namespace, manifest)
    except BaseException as exc:
        end_failed(client, run_id, exc)
        raise
    metadata = created.get("metadata") or {}
    name, uid = str(metadata.get("name")), str(metadata.get("uid") or "")
    try:
        client.log_batch(
            run_id,
            tags={
                system_tags.KUBERNETES_JOB: f"{namespace}/{name}",
                system_tags.KUBERNETES_JOB_UID: uid,
            },
        )
        owner = KubernetesJobOwner(namespace, name, uid, cluster.context)
        client.store.runs.set_status(run_id, RunStatus.SCHEDULED, owner=owner)
        api.resume_job(cluster, namespace, name)
    except BaseException as exc:
        with contextlib.suppress(api.KubernetesError):
            api.delete_job(cluster, namespace, name, uid)
        end_failed(client, run_id, exc)
        raise
    feedback.info(
        f"Run {run_id} ({run.info.run_name}) submitted as Kubernetes Job {namespace}/{name}"
    )
    return KubernetesSubmission(
        run_id,
        run.info.run_name,
        experiment_id,
        namespace,
        name,
        uid,
        cluster.context,
        image.reference,
    )


def pod_command(
    plan: RunPlan, run_id: str, parameters: Mapping[str, str] | None = None
) -> list[str]:
    """What the pod runs: mlcli, attaching to the run, in the image's environment;
    ``parameters``: a sweep trial's (default: the request's)."""
    request = plan.request
    argv = ["python", "-m", "mlcli", "run", POD_PROJECT, "--run-id", run_id]
    argv += ["--entry-point", plan.entry_point.name, "--env-manager", "local"]
    for name, value in (request.parameters if parameters is None else parameters).items():
        argv += ["--param", f"{name}={quote_literal(value)}"]
    if request.mlflow_compat is not None:
        argv.append("--mlflow-compat" if request.mlflow_compat else "--no-mlflow-compat")
    return argv + list(request.capture.arguments())


def pod_environment(
    client: TrackingClient, config: KubernetesConfig, run_id: str, experiment_id: str
) -> dict[str, str]:
    """The run's variables in the pod: the store it logs to, the run, and MLflow's
    (``KUBE_MLFLOW_TRACKING_URI`` overrides the tracking URI, as for MLflow)."""
    store = config.store_uri or store_for_jobs(client)
    variables = {
        "MLCLI_STORE": store,
        "MLCLI_RUN_ID": run_id,
        "MLCLI_EXPERIMENT_ID": experiment_id,
        "MLFLOW_RUN_ID": run_id,
        "MLFLOW_EXPERIMENT_ID": experiment_id,
        "PYTHONUNBUFFERED": "1",
    }
    tracking = os.environ.get("KUBE_MLFLOW_TRACKING_URI") or (
        store if store.startswith(("http://", "https://")) else None
    )
    if tracking:
        variables["MLFLOW_TRACKING_URI"] = tracking
    return variables


def _inputs(
    plan: RunPlan,
    config: KubernetesConfig,
    client: TrackingClient,
    run_id: str,
    experiment_id: str,
    image: str,
) -> JobInputs:
    return JobInputs(
        project_name=plan.project.name or plan.source.name or "mlcli",
        run_id=run_id,
        image=image,
        command=pod_command(plan, run_id),
        environment=pod_environment(client, config, run_id, experiment_id),
        namespace=config.namespace,
        resources=config.resources,
    )


def job_variables(cluster: api.Cluster, namespace: str, inputs: JobInputs) -> dict[str, str]:
    """What tells the pod which Job carries its run (``mlcli.kubernetes.pod``)."""
    variables = {JOB_VARIABLE: f"{namespace}/{job_name(inputs.project_name, inputs.run_id)}"}
    if cluster.context:
        variables[CONTEXT_VARIABLE] = cluster.context
    return variables


def template_namespace(template: dict[str, Any]) -> str | None:
    namespace = (template.get("metadata") or {}).get("namespace")
    return namespace if isinstance(namespace, str) and namespace else None
