"""``run_project``: one MLproject entry point, run as one tracked run.

Two phases. ``plan_run`` resolves and checks everything a user can get wrong (the
project, the entry point, parameter values, the environment manager and its tools)
without touching the store: any error there is raised before a run exists. Then
``run_project`` creates the run with its lineage tags, logs the parameters (as the
user gave them), prepares the environment, runs the command with the run attached
(``MLCLI_RUN_ID``, ``MLCLI_STORE``, ``MLCLI_EXPERIMENT_ID``), saves its output as
``logs/stdout.txt`` and ``logs/stderr.txt``, and ends the run: FINISHED on exit 0,
FAILED otherwise, KILLED when interrupted. Whatever happens after the run exists,
it is never left RUNNING: this process is recorded as the run's owner, so that if
it is killed outright (SIGKILL) the next reader ends the run FAILED, and a watchdog
stops the entry point's process group (``execution.py``).

With ``RunRequest.run_id`` the run is not created but attached to: a SCHEDULED run
(one ``mlcli run --backend slurm`` submitted) becomes RUNNING here. Inside the Slurm
job that owns it, the job stays its owner, and a signal that comes because Slurm is
ending the job (a time limit, ``scancel``, preemption) leaves the run for the job's
final state to end (``mlcli.store.ownership``): the signal alone cannot tell a time
limit from a cancellation.
"""

from __future__ import annotations

import os
import platform
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from mlcli import system_tags
from mlcli.errors import InvalidInputError, MlcliError, NotFoundError
from mlcli.projects import mlflow_compat
from mlcli.projects.capture import CaptureOptions, CapturePlan, RunCapture, plan_capture
from mlcli.projects.envs import (
    Environment,
    EnvManager,
    EnvOptions,
    RunContext,
    choose_env_manager,
)
from mlcli.projects.envs import get_env_manager as _get_env_manager
from mlcli.projects.execution import (
    Interruptions,
    OutputSink,
    RunInterrupted,
    exit_code_for_signal,
)
from mlcli.projects.feedback import Feedback, SilentFeedback
from mlcli.projects.fetch import ProjectSource, fetch_project
from mlcli.projects.lineage import DIFF_ARTIFACT, GitLineage, collect_lineage
from mlcli.projects.parameters import ResolvedParameters, render_command, resolve_parameters
from mlcli.projects.spec import DEFAULT_ENTRY_POINT, EntryPoint, Project, load_project
from mlcli.store import (
    KubernetesJobOwner,
    Run,
    RunOwner,
    RunStatus,
    SlurmJobOwner,
    this_process,
)
from mlcli.tracking.client import TrackingClient

STDOUT_LOG = "logs/stdout.txt"
STDERR_LOG = "logs/stderr.txt"


@dataclass(frozen=True)
class RunRequest:
    """What ``mlcli run`` was asked to do."""

    uri: str = "."
    entry_point: str = DEFAULT_ENTRY_POINT
    parameters: Mapping[str, str] = field(default_factory=dict)
    env_manager: str | None = None
    experiment: str | None = None
    run_name: str | None = None
    version: str | None = None
    docker_args: tuple[str, ...] = ()
    build_image: bool = False
    #: The parent run (a sweep's); default: the run in ``MLCLI_RUN_ID``, if any.
    parent_run_id: str | None = None
    #: Extra tags recorded when the run is created (a sweep's trial number).
    tags: Mapping[str, str] = field(default_factory=dict)
    #: Output scalars and system metrics (``mlcli/capture``).
    capture: CaptureOptions = field(default_factory=CaptureOptions)
    #: Serve the store over MLflow's REST API to the entry point (``mlflow_compat.py``):
    #: True, always; False, never; None, when the project's code imports mlflow.
    mlflow_compat: bool | None = None
    #: Attach to this SCHEDULED run instead of creating one (``--run-id``).
    run_id: str | None = None


@dataclass(frozen=True)
class RunPlan:
    """A checked request: everything needed to create the run and start it."""

    request: RunRequest
    source: ProjectSource
    project: Project
    entry_point: EntryPoint
    parameters: ResolvedParameters
    env_manager: EnvManager
    lineage: GitLineage | None
    capture: CapturePlan | None = None
    #: Whether ``import mlflow`` in the entry point logs into the run, and the notice.
    mlflow_compat: mlflow_compat.Decision = mlflow_compat.OFF


@dataclass(frozen=True)
class ProjectRun:
    """How a project run ended. ``exit_code`` is the entry point's (128 + the signal
    number when it was interrupted)."""

    run_id: str
    run_name: str
    experiment_id: str
    status: str
    exit_code: int
    command: str
    env_manager: str


def plan_run(request: RunRequest, *, source: ProjectSource | None = None) -> RunPlan:
    """Resolve and check ``request``; raises before any run exists. ``source``: the
    project already fetched (a sweep fetches it once for all its checks)."""
    source = source or fetch_project(request.uri, request.version)
    project = load_project(source.directory)
    entry_point = project.entry_point(request.entry_point)
    parameters = resolve_parameters(
        entry_point.parameters, request.parameters, project.directory, entry_point.name
    )
    options = EnvOptions(docker_args=tuple(request.docker_args), build_image=request.build_image)
    manager = _get_env_manager(choose_env_manager(request.env_manager, project), options)
    manager.check(project)
    compat = mlflow_compat.decide(request.mlflow_compat, project, manager.name)
    lineage = source.lineage or collect_lineage(project.directory)
    capture = plan_capture(request.capture, project)
    return RunPlan(
        request, source, project, entry_point, parameters, manager, lineage, capture, compat
    )


def run_project(
    request: RunRequest,
    *,
    client: TrackingClient | None = None,
    feedback: Feedback | None = None,
    stdout: IO[bytes] | None = None,
    stderr: IO[bytes] | None = None,
) -> ProjectRun:
    """Run ``request`` as a tracked run. The entry point's output is saved as run
    artifacts and also copied to ``stdout``/``stderr`` when given.

    Errors before the run exists are raised as they are; an error after it (the
    environment could not be made, the container could not start) ends the run
    FAILED, records the reason in the ``mlcli.project.failureReason`` tag and is
    raised again with the run id added to its message."""
    client = client or TrackingClient()
    feedback = feedback or SilentFeedback()
    plan = plan_run(request)
    return _Launch(plan, client, feedback, stdout, stderr).run()


class _Launch:
    def __init__(
        self,
        plan: RunPlan,
        client: TrackingClient,
        feedback: Feedback,
        stdout: IO[bytes] | None,
        stderr: IO[bytes] | None,
    ) -> None:
        self.plan = plan
        self.client = client
        self.feedback = feedback
        self.echo = (stdout, stderr)
        self.command = ""
        self.job: SlurmJobOwner | None = None  # the Slurm job that owns the run, if any

    def run(self) -> ProjectRun:
        plan, client = self.plan, self.client
        if plan.request.run_id:
            run = self._attach(plan.request.run_id)
        else:
            run = client.create_run(
                experiment_id=run_experiment_id(client, plan.request.experiment),
                run_name=plan.request.run_name,
                tags={**project_tags(plan), **plan.request.tags},
                parent_run_id=parent_run_id(client, plan.request),
                owner=this_process(),
            )
        run_id, experiment_id = run.info.run_id, run.info.experiment_id
        self.feedback.info(
            f"Run {run_id} ({run.info.run_name}) of {plan.entry_point.name!r} in experiment "
            f"{run.experiment_name or experiment_id!r}, environment {plan.env_manager.name}"
        )
        if plan.mlflow_compat.notice:
            self.feedback.info(plan.mlflow_compat.notice)
        context = RunContext(
            run_id, experiment_id, client.store.root.resolve(), server_url=server_url(client)
        )
        interruptions = Interruptions()
        try:
            with interruptions.installed():
                try:
                    code = self._execute(context, interruptions)
                except RunInterrupted as exc:
                    code = exit_code_for_signal(exc.signum)
        except MlcliError as exc:
            self._end(run_id, RunStatus.FAILED, None, exc.message)
            exc.message = f"{exc.message} (run {run_id} ended FAILED)"
            raise
        except BaseException as exc:
            self._end(run_id, RunStatus.FAILED, None, f"{type(exc).__name__}: {exc}")
            raise
        if interruptions.signum is not None:
            status = RunStatus.KILLED
            code = code or exit_code_for_signal(interruptions.signum)
            if self._left_to_job(run_id, code):
                status = RunStatus.RUNNING  # until the job's final state ends it
        else:
            status = RunStatus.FINISHED if code == 0 else RunStatus.FAILED
        if status != RunStatus.RUNNING:
            self._end(run_id, status, code, None)
        return ProjectRun(
            run_id=run_id,
            run_name=run.info.run_name,
            experiment_id=experiment_id,
            status=status,
            exit_code=code,
            command=self.command,
            env_manager=plan.env_manager.name,
        )

    def _attach(self, reference: str) -> Run:
        """Make the SCHEDULED run ``reference`` RUNNING, owned by this process or by the
        Slurm job this process runs in (whose run may be RUNNING already: a job Slurm
        requeued), with the tags of where it runs now."""
        client = self.client
        run = client.get_run(reference)
        run_id, tags = run.info.run_id, run.data.tags
        self.job = _job_owner_here(tags)
        requeued = self.job is not None and run.info.status == RunStatus.RUNNING
        if run.info.status != RunStatus.SCHEDULED and not requeued:
            raise InvalidInputError(
                f"run {run_id} is {run.info.status}: --run-id attaches only to a SCHEDULED run"
            )
        owner: RunOwner | None = self.job or _kubernetes_job_here() or this_process()
        client.store.runs.set_status(run_id, RunStatus.RUNNING, owner=owner)
        here = {system_tags.HOST, system_tags.PLATFORM}
        fresh = {k: v for k, v in project_tags(self.plan).items() if k in here or k not in tags}
        client.log_batch(run_id, tags={**fresh, **self.plan.request.tags})
        return client.get_run(run_id)

    def _left_to_job(self, run_id: str, code: int) -> bool:
        """After a signal: True (and the exit code recorded) when the Slurm job that owns
        the run is being ended by Slurm, whose final state then ends the run."""
        if self.job is None:
            return False
        from mlcli.slurm.endings import job_is_ending

        if not job_is_ending(self.job.job_id):
            return False
        self.client.log_batch(run_id, tags={system_tags.PROJECT_EXIT_CODE: str(code)})
        self.feedback.info(
            f"Run {run_id}: Slurm is ending job {self.job.job_id}; its state ends the run"
        )
        return True

    def _execute(self, context: RunContext, interruptions: Interruptions) -> int:
        plan, client, run_id = self.plan, self.client, context.run_id
        client.log_batch(run_id, params=plan.parameters.logged())
        changes = plan.lineage.uncommitted_changes() if plan.lineage else None
        if changes is not None:
            client.log_text(run_id, changes, DIFF_ARTIFACT)
        environment = plan.env_manager.prepare(plan.project, self.feedback)
        capture = RunCapture(plan.capture or plan_capture(CaptureOptions()), client, run_id)
        try:
            self.command = render_command(
                plan.entry_point.command, plan.parameters, environment.map_path
            )
            tags = {**environment.tags, system_tags.PROJECT_COMMAND: self.command}
            client.log_batch(run_id, tags=tags)
            capture.start_environment(environment, plan.project.directory, context)
            with mlflow_compat.attached(plan.mlflow_compat, context) as ctx:
                code = self._launch(environment, ctx, interruptions, capture)
        finally:
            capture.finish()
            environment.close()
        return code if code >= 0 else exit_code_for_signal(-code)

    def _launch(
        self,
        environment: Environment,
        context: RunContext,
        interruptions: Interruptions,
        capture: RunCapture,
    ) -> int:
        artifacts = self.client.artifact_path(context.run_id)
        sink = OutputSink(
            artifacts / STDOUT_LOG,
            artifacts / STDERR_LOG,
            *self.echo,
            stdout_listener=capture.stdout_listener(),
        )
        try:
            with interruptions.starting():
                execution = environment.start(
                    self.command, cwd=self.plan.project.directory, context=context, sink=sink
                )
                interruptions.attach(execution)
                capture.attach(getattr(execution, "pid", None))
            try:
                return execution.wait()
            finally:
                execution.close()
        finally:
            sink.close()
            self._publish_logs(context.run_id, artifacts)

    def _publish_logs(self, run_id: str, artifacts: Path) -> None:
        """Make the output logs part of the store (a server's store keeps them in a
        local cache until they are uploaded here)."""
        repo = self.client.store.artifacts(run_id)
        for name in (STDOUT_LOG, STDERR_LOG):
            if (artifacts / name).is_file():
                repo.publish(name)

    def _end(self, run_id: str, status: str, code: int | None, reason: str | None) -> None:
        tags = {}
        if code is not None:
            tags[system_tags.PROJECT_EXIT_CODE] = str(code)
        if reason:
            tags[system_tags.PROJECT_FAILURE_REASON] = reason[:8000]
        if tags:
            self.client.log_batch(run_id, tags=tags)
        self.client.set_terminated(run_id, status)
        self.feedback.info(
            f"Run {run_id} {status}" + (f" (exit code {code})" if code is not None else "")
        )


def project_tags(plan: RunPlan) -> dict[str, str]:
    """The tags of a run of ``plan``: source, entry point, environment, host, lineage."""
    tags = {
        system_tags.SOURCE_TYPE: "PROJECT",
        system_tags.SOURCE_NAME: plan.source.name,
        system_tags.PROJECT_ENTRY_POINT: plan.entry_point.name,
        system_tags.PROJECT_ENV: plan.env_manager.name,
        system_tags.HOST: socket.gethostname(),
        system_tags.PLATFORM: platform.platform(),
    }
    if plan.project.name:
        tags[system_tags.PROJECT_NAME] = plan.project.name
    if plan.request.version:
        tags[system_tags.PROJECT_VERSION] = plan.request.version
    if plan.lineage is not None:
        tags.update(plan.lineage.tags())
    return tags


def run_experiment_id(client: TrackingClient, reference: str | None) -> str:
    """The experiment named (or numbered) ``reference``, created by name if missing;
    without one, the rule every run follows (:mod:`mlcli.tracking.default_experiment`)."""
    from mlcli.store import DEFAULT_EXPERIMENT_ID
    from mlcli.tracking.default_experiment import environment_experiment_id

    client.writable_store()
    if reference:
        try:
            return client.resolve_experiment(reference).experiment_id
        except NotFoundError:
            return client.get_or_create_experiment(reference).experiment_id
    return environment_experiment_id(client) or DEFAULT_EXPERIMENT_ID


def _job_owner_here(tags: Mapping[str, str]) -> SlurmJobOwner | None:
    """The Slurm job that owns a run with ``tags``, if this process runs inside it."""
    job_id = tags.get(system_tags.SLURM_JOB_ID)
    array = os.environ.get("SLURM_ARRAY_JOB_ID"), os.environ.get("SLURM_ARRAY_TASK_ID")
    here = {os.environ.get("SLURM_JOB_ID"), f"{array[0]}_{array[1]}" if all(array) else None}
    if not job_id or job_id not in here:  # a sweep's array task is JOB_TASK
        return None
    return SlurmJobOwner(job_id, tags.get(system_tags.SLURM_CLUSTER))


def _kubernetes_job_here() -> KubernetesJobOwner | None:
    """The Kubernetes Job whose pod this process runs in (``--backend kubernetes``)."""
    from mlcli.kubernetes.pod import job_here

    found = job_here()
    return KubernetesJobOwner(*found[:3], context=found[3], index=found[4]) if found else None


def server_url(client: TrackingClient) -> str | None:
    """The URL of the team server the client's store is, or None for a local store."""
    location = client.store.location
    return location if location.startswith(("http://", "https://")) else None


def parent_run_id(client: TrackingClient, request: RunRequest) -> str | None:
    """The request's parent run if it names one; else a project started from inside
    another run (``MLCLI_RUN_ID``, or MLflow's ``MLFLOW_RUN_ID``, set) is its child."""
    from mlcli.tracking.environment import attached_run

    if request.parent_run_id:
        return client.resolve_run_id(request.parent_run_id)
    parent = (attached_run() or (None, ""))[0]
    if parent and client.store.runs.exists(parent):
        return parent
    return None
