"""``mlcli run ... -P 'lr=[...]' --backend kubernetes --parallel P``: a grid or random
sweep as ONE Indexed Job (``completionMode: Indexed``, one completion per trial, at
most P pods at once).

Everything is checked first (``plan_sweep``, a docker env, the config, the template
and the Job it makes against the API's schema, the plan's size), with nothing
created. Then the parent run is created SCHEDULED, owned by this process, and every
trial run SCHEDULED with its number, parameters and parent (``mlcli runs list`` shows
them at once); the image is built and pushed once; the Job is created suspended,
carrying the plan (each index's ``mlcli run /mlcli/project --run-id <trial run>
--param ...``) in the variable ``MLCLI_SWEEP_PLAN``; each trial is then owned by its
index of the Job (any reader can end it from the Job's ``completedIndexes`` and
``failedIndexes``), and only then is the Job let start. Each pod runs ``python -m
mlcli.cli.kubernetes_task``: the trial of its ``JOB_COMPLETION_INDEX``. Detached, the
parent is owned by the Job itself and ends with it; the last trial to end records
the best trial (``kubernetes_task``).
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass, replace
from typing import Any

import yaml

from mlcli import system_tags
from mlcli.clusters.kubernetes_config import KubernetesConfig
from mlcli.clusters.kubernetes_image import PushedImage, build_and_push, check_docker_project
from mlcli.clusters.kubernetes_image import image_tag as choose_tag
from mlcli.clusters.kubernetes_manifest import JobInputs, load_template, render_job, validate_job
from mlcli.clusters.kubernetes_submit import (
    BACKEND,
    MANIFEST_ARTIFACT,
    job_variables,
    pod_command,
    pod_environment,
    template_namespace,
)
from mlcli.clusters.sweep_runs import TrialRuns, abandon, create_parent
from mlcli.errors import InvalidInputError
from mlcli.kubernetes import api
from mlcli.kubernetes.pod import DETACHED_VARIABLE, PARENT_VARIABLE, PLAN_VARIABLE
from mlcli.projects.feedback import Feedback, SilentFeedback
from mlcli.projects.runner import RunPlan, project_tags
from mlcli.store import KubernetesJobOwner, Run, RunStatus, this_process
from mlcli.sweeps.planning import SweepPlan
from mlcli.sweeps.samplers import Trial
from mlcli.tracking.client import TrackingClient

PLAN_ARTIFACT = "sweep/plan.json"
#: A Job (and the plan in it) is an object in etcd, whose limit is 1.5 MiB.
MAX_PLAN_BYTES = 256 * 1024
_NO_RUN_YET = "0" * 32


@dataclass(frozen=True)
class IndexedTrial:
    """One trial of the Job: its index (its number - 1) and run."""

    trial: Trial
    run_id: str

    @property
    def index(self) -> int:
        return self.trial.number - 1


@dataclass(frozen=True)
class IndexedSweep:
    """A submitted sweep: the parent run, its trials, the Indexed Job."""

    parent: Run
    experiment_id: str
    namespace: str
    job_name: str
    uid: str
    context: str | None
    trials: tuple[IndexedTrial, ...]

    @property
    def label(self) -> str:
        return f"{self.namespace}/{self.job_name}"


def submit_indexed_sweep(
    plan: SweepPlan,
    config: KubernetesConfig,
    *,
    client: TrackingClient,
    feedback: Feedback | None = None,
    detach: bool = False,
    cluster: api.Cluster | None = None,
    image: PushedImage | None = None,
) -> IndexedSweep:
    """Create the parent and trial runs SCHEDULED and the Indexed Job that runs the
    trials; an error after the parent exists ends it and its trials FAILED (KILLED on
    Ctrl-C). ``cluster``: a connection (default: the config's context); ``image``: an
    image already pushed, used instead of building one."""
    feedback = feedback or SilentFeedback()
    planned = plan.sampler.planned()
    if planned is None:
        raise InvalidInputError(
            f"--sweep {plan.sampler.name} chooses each trial from the results so far: on "
            "Kubernetes, a sweep runs as one Indexed Job of trials planned in advance; use "
            "a grid or random sweep, or run it with --backend local or slurm"
        )
    run_plan = _without_parameters(plan.run_plan)
    check_docker_project(run_plan)
    template = load_template(config.kube_job_template_path)
    where = f"the Job template {config.kube_job_template_path or '(the default)'}"
    draft = [IndexedTrial(trial, _NO_RUN_YET) for trial in planned]
    inputs = _inputs(plan, run_plan, config, client, _NO_RUN_YET, "0", "x", draft)
    validate_job(render_job(template, inputs), where)
    with contextlib.ExitStack() as stack:
        if cluster is None:
            cluster = stack.enter_context(contextlib.closing(api.connect(config.kube_context)))
        return _submit(
            plan, run_plan, config, client, feedback, cluster, template, image, detach, planned
        )


def _submit(
    plan: SweepPlan,
    run_plan: RunPlan,
    config: KubernetesConfig,
    client: TrackingClient,
    feedback: Feedback,
    cluster: api.Cluster,
    template: dict[str, Any],
    image: PushedImage | None,
    detach: bool,
    planned: list[Trial],
) -> IndexedSweep:
    where = f"the Job template {config.kube_job_template_path or '(the default)'}"
    namespace = config.namespace or template_namespace(template) or cluster.namespace
    parent = create_parent(plan, client, BACKEND)
    parent_id, experiment_id = parent.run_id, parent.info.experiment_id
    common = {**project_tags(run_plan), system_tags.BACKEND: BACKEND}
    if cluster.context:
        common[system_tags.KUBERNETES_CONTEXT] = cluster.context
    maker = TrialRuns(client, parent, experiment_id, common)
    created: list[str] = []
    name = uid = None
    try:
        trials = []
        for trial in planned:
            index = {system_tags.KUBERNETES_INDEX: str(trial.number - 1)}
            created.append(maker.create(trial, this_process(), tags=index))
            trials.append(IndexedTrial(trial, created[-1]))
        if image is None and config.image:
            image = PushedImage(config.image, None)
        if image is None:
            assert config.repository_uri  # the config requires one without an image
            tag = choose_tag(run_plan, parent_id)
            image = build_and_push(run_plan, config.repository_uri, tag, feedback)
        inputs = _inputs(
            plan,
            run_plan,
            config,
            client,
            parent_id,
            experiment_id,
            image.reference,
            trials,
            detached=detach,
        )
        variables = {**inputs.environment, **job_variables(cluster, namespace, inputs)}
        manifest = render_job(template, replace(inputs, environment=variables))
        name = manifest["metadata"]["name"]
        manifest["metadata"]["namespace"] = namespace
        manifest["spec"]["suspend"] = True  # no pod before every trial knows its Job
        validate_job(manifest, where)
        document = plan_document(run_plan, trials)
        client.log_dict(parent_id, document, PLAN_ARTIFACT)
        client.log_text(parent_id, yaml.safe_dump(manifest, sort_keys=False), MANIFEST_ARTIFACT)
        created_job = api.create_job(cluster, namespace, manifest)
        uid = str((created_job.get("metadata") or {}).get("uid") or "")
        job_tags = {system_tags.KUBERNETES_JOB: f"{namespace}/{name}"}
        job_tags[system_tags.KUBERNETES_JOB_UID] = uid
        client.log_batch(parent_id, tags=job_tags)
        runs = client.store.runs
        for item in trials:
            client.log_batch(item.run_id, tags=job_tags)
            owner = KubernetesJobOwner(namespace, name, uid, cluster.context, item.index)
            runs.set_status(item.run_id, RunStatus.SCHEDULED, owner=owner)
        if detach:  # nobody follows: the Job owns the parent, and ends it by ending
            owner = KubernetesJobOwner(namespace, name, uid, cluster.context)
            runs.set_status(parent_id, RunStatus.SCHEDULED, owner=owner)
        api.resume_job(cluster, namespace, name)
    except BaseException as exc:
        if name is not None and uid is not None:
            with contextlib.suppress(api.KubernetesError):
                api.delete_job(cluster, namespace, name, uid)
        abandon(client, parent_id, created, exc)
        raise
    feedback.info(
        f"Sweep {parent_id} ({parent.info.run_name}): {len(trials)} trial(s) submitted as "
        f"Kubernetes Indexed Job {namespace}/{name}, {plan.request.parallel} at a time"
    )
    return IndexedSweep(
        client.get_run(parent_id),
        experiment_id,
        namespace,
        name,
        uid,
        cluster.context,
        tuple(trials),
    )


def plan_document(run_plan: RunPlan, trials: list[IndexedTrial]) -> dict[str, Any]:
    """``sweep/plan.json`` (and the pods' ``MLCLI_SWEEP_PLAN``): per index, the trial's
    number, run, parameters and the ``mlcli`` arguments that run it."""
    return {
        "trials": [
            {
                "task": item.index,
                "trial": item.trial.number,
                "run_id": item.run_id,
                "params": item.trial.params,
                "arguments": pod_command(run_plan, item.run_id, item.trial.params)[3:],
            }
            for item in trials
        ]
    }


def _inputs(
    plan: SweepPlan,
    run_plan: RunPlan,
    config: KubernetesConfig,
    client: TrackingClient,
    parent_id: str,
    experiment_id: str,
    image: str,
    trials: list[IndexedTrial],
    detached: bool = False,
) -> JobInputs:
    document = json.dumps(plan_document(run_plan, trials), separators=(",", ":"))
    if len(document) > MAX_PLAN_BYTES:
        raise InvalidInputError(
            f"a sweep of {len(trials)} trials makes a plan of {len(document) // 1024} KiB, "
            f"more than one Kubernetes Job should carry ({MAX_PLAN_BYTES // 1024} KiB): "
            "split it into smaller sweeps"
        )
    environment = pod_environment(client, config, "", experiment_id)
    for one_run in ("MLCLI_RUN_ID", "MLFLOW_RUN_ID"):  # each trial attaches to its own
        environment.pop(one_run, None)
    environment[PLAN_VARIABLE] = document
    environment[PARENT_VARIABLE] = parent_id
    if detached:
        environment[DETACHED_VARIABLE] = "1"
    return JobInputs(
        project_name=run_plan.project.name or run_plan.source.name or "mlcli",
        run_id=parent_id,
        image=image,
        command=["python", "-m", "mlcli.cli.kubernetes_task"],
        environment=environment,
        namespace=config.namespace,
        resources=config.resources,
        completions=len(trials),
        parallelism=min(plan.request.parallel, len(trials)),
        fail_fast=plan.request.fail_fast,
    )


def _without_parameters(run_plan: RunPlan) -> RunPlan:
    """The sweep's run plan with no parameters of its own (each trial brings its)."""
    return replace(run_plan, request=replace(run_plan.request, parameters={}))
