"""``mlcli run --backend slurm``: one run as one Slurm job.

Everything a user can get wrong is checked first, with nothing created: the project
and parameters (``plan_run``), the config, and the job itself (``sbatch
--test-only``: a partition or account Slurm refuses). Then the run is created
SCHEDULED, owned by this process until its job exists; its params and the job
script (artifact ``slurm/job.sh``) are recorded; the job is submitted held, recorded
as the run's owner (``mlcli.slurm.jobId``) and only then released, so that the job
can never attach to its run before the run knows its job. On the node the job
``exec``s ``mlcli run <project> --run-id RUN``, which makes the run RUNNING.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mlcli import system_tags
from mlcli.clusters.slurm_config import SlurmConfig
from mlcli.clusters.slurm_script import JobSpec, job_script, shell_command
from mlcli.errors import MlcliError
from mlcli.projects import RunPlan, RunRequest, plan_run
from mlcli.projects.feedback import Feedback, SilentFeedback
from mlcli.projects.runner import parent_run_id, project_tags, run_experiment_id
from mlcli.slurm import jobs
from mlcli.store import RunStatus, SlurmJobOwner, this_process
from mlcli.sweeps.command import mlcli_command
from mlcli.sweeps.quoting import quote_literal
from mlcli.tracking.client import TrackingClient

BACKEND = "slurm"
JOB_SCRIPT_ARTIFACT = "slurm/job.sh"
OUTPUT_FILE = "output.txt"
ERROR_FILE = "error.txt"
_NO_RUN_YET = "0" * 32  # the run id in the script sbatch --test-only checks


@dataclass(frozen=True)
class SlurmSubmission:
    """A submitted run: its job, and the files the job writes its output to."""

    run_id: str
    run_name: str
    experiment_id: str
    job_id: str
    cluster: str | None
    output: Path
    error: Path


def submit_run(
    request: RunRequest,
    config: SlurmConfig,
    *,
    client: TrackingClient,
    feedback: Feedback | None = None,
) -> SlurmSubmission:
    """Create ``request``'s run SCHEDULED and submit its job; errors before the run
    exists are raised as they are, later ones end it FAILED (the reason in
    ``mlcli.project.failureReason``) and are raised with its id added."""
    feedback = feedback or SilentFeedback()
    plan = plan_run(request)
    store = store_for_jobs(client)
    preview = _job_spec(plan, config, store, _NO_RUN_YET, "mlcli", Path.cwd())
    jobs.check_submission(job_script(preview))
    run = client.create_run(
        experiment_id=run_experiment_id(client, request.experiment),
        run_name=request.run_name,
        tags={**project_tags(plan), **request.tags, system_tags.BACKEND: BACKEND},
        parent_run_id=parent_run_id(client, request),
        owner=this_process(),  # until the job is its owner
        status=RunStatus.SCHEDULED,
    )
    run_id, name = run.info.run_id, run.info.run_name
    try:
        client.log_batch(run_id, params=plan.parameters.logged())
        folder = output_folder(client, config, run_id)
        folder.mkdir(parents=True, exist_ok=True)
        script = job_script(_job_spec(plan, config, store, run_id, name, folder))
        client.log_text(run_id, script, JOB_SCRIPT_ARTIFACT)
        job_id = jobs.submit(script, ["--hold"])
    except BaseException as exc:
        end_unsubmitted(client, run_id, exc)
        raise
    try:
        cluster = jobs.cluster_name()
        tags = {system_tags.SLURM_JOB_ID: job_id}
        if cluster:
            tags[system_tags.SLURM_CLUSTER] = cluster
        client.log_batch(run_id, tags=tags)
        client.store.runs.set_status(
            run_id, RunStatus.SCHEDULED, owner=SlurmJobOwner(job_id, cluster)
        )
        jobs.release(job_id)
    except BaseException as exc:
        jobs.cancel(job_id)
        end_unsubmitted(client, run_id, exc)
        raise
    feedback.info(f"Run {run_id} ({name}) submitted as Slurm job {job_id}")
    return SlurmSubmission(
        run_id,
        name,
        run.info.experiment_id,
        job_id,
        cluster,
        folder / OUTPUT_FILE,
        folder / ERROR_FILE,
    )


def store_for_jobs(client: TrackingClient) -> str:
    """``MLCLI_STORE`` for the job: a team server's URL or a bucket's ``s3://`` URL as
    they are, a local store's absolute path (which the nodes must share)."""
    location = client.store.location
    if "://" in location:
        return location
    return str(Path(location).resolve())


def output_folder(client: TrackingClient, config: SlurmConfig, run_id: str) -> Path:
    """Where the job writes its output: ``output_dir`` if set, else the run's artifacts
    folder ``slurm/`` for a local store, else ``~/.mlcli/slurm/RUN_ID``."""
    if config.output_dir:
        return Path(config.output_dir).expanduser().resolve() / run_id
    if "://" not in client.store.location:
        return client.artifact_path(run_id) / "slurm"
    return Path.home() / ".mlcli" / "slurm" / run_id


def job_arguments(plan: RunPlan, run_id: str) -> list[str]:
    """The ``mlcli run`` arguments that attach the job to its run. A git project runs
    at the commit resolved here."""
    request = plan.request
    remote = plan.source.remote
    uri = request.uri if remote else str(Path(plan.source.directory).resolve())
    arguments = ["run", uri, "--entry-point", plan.entry_point.name]
    arguments += ["--env-manager", plan.env_manager.name, "--run-id", run_id]
    for name, value in request.parameters.items():
        arguments += ["--param", f"{name}={quote_literal(value)}"]
    commit = plan.lineage.commit if plan.lineage else None
    if remote and commit:
        arguments += ["--version", commit]
    for option in request.docker_args:
        arguments += ["--docker-args", option]
    if request.build_image:
        arguments.append("--build-image")
    if request.mlflow_compat is not None:
        arguments.append("--mlflow-compat" if request.mlflow_compat else "--no-mlflow-compat")
    return arguments + list(request.capture.arguments())


def _job_spec(
    plan: RunPlan, config: SlurmConfig, store: str, run_id: str, name: str, folder: Path
) -> JobSpec:
    python = [config.python, "-m", "mlcli"] if config.python else mlcli_command()
    remote = plan.source.remote
    return JobSpec(
        name=name,
        config=config,
        output=str(folder / OUTPUT_FILE),
        error=str(folder / ERROR_FILE),
        command=shell_command([*python, *job_arguments(plan, run_id)]),
        environment={
            "MLCLI_STORE": store,
            "MLCLI_RUN_ID": None,
            "MLCLI_EXPERIMENT_ID": None,
            "MLCLI_EXPERIMENT_NAME": None,
            "MLFLOW_RUN_ID": None,  # MLflow's names too: they are honoured (docs/cli.md)
            "MLFLOW_EXPERIMENT_ID": None,
            "MLFLOW_EXPERIMENT_NAME": None,
        },
        workdir=None if remote else str(Path(plan.project.directory).resolve()),
    )


def end_unsubmitted(client: TrackingClient, run_id: str, exc: BaseException) -> None:
    """End a run whose job could not be submitted: FAILED with the reason, or KILLED
    when the submission was interrupted (Ctrl-C)."""
    if isinstance(exc, KeyboardInterrupt):
        client.set_terminated(run_id, RunStatus.KILLED)
        return
    reason = exc.message if isinstance(exc, MlcliError) else f"{type(exc).__name__}: {exc}"
    client.log_batch(run_id, tags={system_tags.PROJECT_FAILURE_REASON: reason[:8000]})
    client.set_terminated(run_id, RunStatus.FAILED)
    if isinstance(exc, MlcliError):
        exc.message = f"{exc.message} (run {run_id} ended FAILED)"
