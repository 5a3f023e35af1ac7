"""``mlcli run ... -P 'lr=[...]' --backend slurm --parallel P``: a grid or random
sweep as ONE Slurm job array (``sbatch --array=0-N%P``).

Everything is checked first (``plan_sweep``, the config, ``sbatch --test-only`` of
the array's script), with nothing created. Then the parent run is created
SCHEDULED; the plan (each trial's parameters, run id, chosen here, and ``mlcli``
arguments) is written as ``plan.json`` next to the job's output, which the nodes
read; the array is submitted held; every trial run is created SCHEDULED, owned by
its task (``JOB_i`` for trial ``i + 1``), with its number, parameters and parent
(``mlcli runs list`` shows them at once); the plan is saved as the parent's artifact
``sweep/plan.json``, and the array released. Each task runs ``python -m
mlcli.cli.slurm_task PLAN``: the trial's ``mlcli run <project> --run-id <its
run>``. With ``--detach``, a job depending on the array (``afterany``) ends the
sweep (``slurm_sweep_end``) and owns the parent.
"""

from __future__ import annotations

import json
import sys
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from mlcli import system_tags
from mlcli.clusters.slurm_config import SlurmConfig
from mlcli.clusters.slurm_script import JobSpec, job_script, shell_command
from mlcli.clusters.slurm_submit import (
    BACKEND,
    JOB_SCRIPT_ARTIFACT,
    job_arguments,
    output_folder,
    store_for_jobs,
)
from mlcli.errors import MlcliError
from mlcli.projects.feedback import Feedback, SilentFeedback
from mlcli.projects.runner import RunPlan, parent_run_id, project_tags, run_experiment_id
from mlcli.slurm import jobs
from mlcli.store import Run, RunStatus, SlurmJobOwner, this_process
from mlcli.sweeps.parent import parent_tags
from mlcli.sweeps.planning import SweepPlan
from mlcli.sweeps.samplers import Trial
from mlcli.sweeps.tags import TRIAL_TAG
from mlcli.tracking.client import TrackingClient
from mlcli.tracking.context import current_user

PLAN_ARTIFACT = "sweep/plan.json"
PLAN_FILE = "plan.json"
#: On the parent: the job array that runs its trials (``mlcli.slurm.jobId`` too).
ARRAY_TAG = system_tags.SLURM_ARRAY_JOB_ID


@dataclass(frozen=True)
class ArrayTrial:
    """One trial of the array: its task id (its number - 1) and run."""

    trial: Trial
    run_id: str

    @property
    def task(self) -> int:
        return self.trial.number - 1


@dataclass(frozen=True)
class ArraySweep:
    """A submitted sweep: the parent run, its trials, the array job."""

    parent: Run
    experiment_id: str
    job_id: str
    trials: tuple[ArrayTrial, ...]
    folder: Path

    def task_job(self, trial: ArrayTrial) -> str:
        """The array task's job id as Slurm names it: ``JOB_TASK``."""
        return f"{self.job_id}_{trial.task}"


def submit_array_sweep(
    plan: SweepPlan,
    config: SlurmConfig,
    *,
    client: TrackingClient,
    feedback: Feedback | None = None,
    detach: bool = False,
) -> ArraySweep:
    """Create the parent and trial runs SCHEDULED and submit the array; an error
    after the parent exists ends it and its trials FAILED (KILLED on Ctrl-C).
    ``detach``: also submit the job that ends the sweep once the array has ended
    (``--dependency=afterany``), which then owns the parent."""
    feedback = feedback or SilentFeedback()
    planned = plan.sampler.planned()
    if planned is None:
        raise ValueError("an adaptive sweep has no plan to submit as an array")
    run_plan = _without_parameters(plan.run_plan)
    store = store_for_jobs(client)
    spec = _array_spec(plan, config, store, Path.cwd() / PLAN_FILE, "mlcli", Path.cwd())
    jobs.check_submission(job_script(spec))
    parent = create_parent(plan, client)
    parent_id, experiment_id = parent.run_id, parent.info.experiment_id
    # A local store or a bucket keeps run ids chosen here, so that the plan and the
    # held array exist before the trial runs, each then created owned by its task. A
    # team server chooses ids itself (and keeps no owners): its runs come first.
    served = client.store.location.startswith(("http://", "https://"))
    trials: list[ArrayTrial] = []
    created: list[str] = []
    job_id = end_job = None
    try:
        common = {**project_tags(run_plan), system_tags.BACKEND: BACKEND}
        maker = _TrialRuns(client, parent, experiment_id, common)
        for trial in planned:
            run_id = maker.create(trial, None) if served else uuid.uuid4().hex
            trials.append(ArrayTrial(trial, run_id))
            if served:
                created.append(run_id)
        folder = output_folder(client, config, parent_id)
        folder.mkdir(parents=True, exist_ok=True)
        document = plan_document(run_plan, trials)
        (folder / PLAN_FILE).write_text(json.dumps(document))
        script = job_script(
            _array_spec(plan, config, store, folder / PLAN_FILE, parent.info.run_name, folder)
        )
        job_id = jobs.submit(script, ["--hold"])
        cluster = jobs.cluster_name()
        where = {system_tags.SLURM_CLUSTER: cluster} if cluster else {}
        for item in trials:
            task_job = SlurmJobOwner(f"{job_id}_{item.task}", cluster)
            if served:
                tags = {system_tags.SLURM_JOB_ID: task_job.job_id, **where}
                client.log_batch(item.run_id, tags=tags)
            else:
                created.append(maker.create(item.trial, task_job, item.run_id))
        client.log_batch(
            parent_id, tags={system_tags.SLURM_JOB_ID: job_id, ARRAY_TAG: job_id, **where}
        )
        client.log_dict(parent_id, document, PLAN_ARTIFACT)
        client.log_text(parent_id, script, JOB_SCRIPT_ARTIFACT)
        if detach:
            end_script = job_script(_end_spec(config, store, parent, folder))
            end_job = jobs.submit(end_script, [f"--dependency=afterany:{job_id}"])
            client.store.runs.set_status(
                parent_id, RunStatus.SCHEDULED, owner=SlurmJobOwner(end_job, cluster)
            )
        jobs.release(job_id)
    except BaseException as exc:
        for submitted in (job_id, end_job):
            if submitted is not None:
                jobs.cancel(submitted)
        abandon(client, parent_id, created, exc)
        raise
    feedback.info(
        f"Sweep {parent_id} ({parent.info.run_name}): {len(trials)} trial(s) submitted as "
        f"Slurm job array {job_id}, {plan.request.parallel} at a time"
    )
    return ArraySweep(client.get_run(parent_id), experiment_id, job_id, tuple(trials), folder)


class _TrialRuns:
    """Creates trial runs through the store's own ``create``: the client's would read
    each new run back, and a read asks Slurm (scontrol) about every live run a job
    owns (10 ms a run)."""

    def __init__(
        self, client: TrackingClient, parent: Run, experiment_id: str, tags: dict[str, str]
    ) -> None:
        self.client = client
        self.runs = client.writable_store().runs
        self.user = current_user()
        self.parent = parent
        self.experiment_id = experiment_id
        self.tags = tags

    def create(self, trial: Trial, job: SlurmJobOwner | None, run_id: str | None = None) -> str:
        """A SCHEDULED trial run (owned by ``job``, tagged with it); its id."""
        tags = {**self.tags, TRIAL_TAG: str(trial.number)}
        if job is not None:
            tags[system_tags.SLURM_JOB_ID] = job.job_id
            if job.cluster:
                tags[system_tags.SLURM_CLUSTER] = job.cluster
        info = self.runs.create(
            experiment_id=self.experiment_id,
            run_name=f"{self.parent.info.run_name}-{trial.number}",
            user_id=self.user,
            tags=tags,
            parent_run_id=self.parent.run_id,
            run_id=run_id,
            owner=job,
            status=RunStatus.SCHEDULED,
        )
        self.client.log_batch(info.run_id, params=trial.params)
        return info.run_id


def create_parent(plan: SweepPlan, client: TrackingClient) -> Run:
    """The sweep's parent run, SCHEDULED and owned by this process (the coordinator)."""
    request = plan.run_plan.request
    return client.create_run(
        experiment_id=run_experiment_id(client, request.experiment),
        run_name=request.run_name,
        tags={**parent_tags(plan), system_tags.BACKEND: BACKEND},
        parent_run_id=parent_run_id(client, request),
        owner=this_process(),
        status=RunStatus.SCHEDULED,
    )


def plan_document(run_plan: RunPlan, trials: Sequence[ArrayTrial]) -> dict[str, object]:
    """``sweep/plan.json``: per array task, the trial's number, run, parameters and
    the ``mlcli`` arguments that run it."""
    return {
        "trials": [
            {
                "task": item.task,
                "trial": item.trial.number,
                "run_id": item.run_id,
                "params": item.trial.params,
                "arguments": _trial_arguments(run_plan, item),
            }
            for item in trials
        ]
    }


def abandon(client: TrackingClient, parent_id: str, run_ids: list[str], exc: BaseException) -> None:
    """End a sweep that could not be submitted: its runs FAILED with the reason, or
    KILLED when the submission was interrupted (Ctrl-C)."""
    if isinstance(exc, KeyboardInterrupt):
        status, reason = RunStatus.KILLED, "the submission was interrupted"
    else:
        status = RunStatus.FAILED
        reason = exc.message if isinstance(exc, MlcliError) else f"{type(exc).__name__}: {exc}"
    for run_id in [*run_ids, parent_id]:
        client.log_batch(run_id, tags={system_tags.PROJECT_FAILURE_REASON: reason[:8000]})
        client.set_terminated(run_id, status)
    if isinstance(exc, MlcliError):
        exc.message = f"{exc.message} (sweep {parent_id} ended {status})"


def _without_parameters(run_plan: RunPlan) -> RunPlan:
    """The sweep's run plan with no parameters of its own (each trial brings its)."""
    return replace(run_plan, request=replace(run_plan.request, parameters={}))


def _trial_arguments(run_plan: RunPlan, item: ArrayTrial) -> list[str]:
    arguments = job_arguments(run_plan, item.run_id)
    position = arguments.index("--run-id") + 2
    params = [word for name, value in item.trial.params.items() for word in _param(name, value)]
    return arguments[:position] + params + arguments[position:]


def _param(name: str, value: str) -> list[str]:
    from mlcli.sweeps.quoting import quote_literal

    return ["--param", f"{name}={quote_literal(value)}"]


def _end_spec(config: SlurmConfig, store: str, parent: Run, folder: Path) -> JobSpec:
    """The small job that ends a detached sweep (no GPUs, memory or CPUs asked)."""
    python = config.python or sys.executable
    command = [python, "-m", "mlcli.clusters.slurm_sweep_end", parent.run_id]
    return JobSpec(
        name=f"{parent.info.run_name}-end",
        config=replace(config, gpus=None, mem=None, cpus_per_task=None),
        output=str(folder / "end.out"),
        error=str(folder / "end.err"),
        command=shell_command([*command, str(folder / PLAN_FILE)]),
        environment={"MLCLI_STORE": store, "MLCLI_RUN_ID": None},
    )


def _array_spec(
    plan: SweepPlan, config: SlurmConfig, store: str, plan_file: Path, name: str, folder: Path
) -> JobSpec:
    python = config.python or sys.executable
    run_plan = plan.run_plan
    remote = run_plan.source.remote
    total = plan.total
    return JobSpec(
        name=name,
        config=config,
        output=str(folder / "trial-%a.out"),
        error=str(folder / "trial-%a.err"),
        command=shell_command([python, "-m", "mlcli.cli.slurm_task", str(plan_file)]),
        environment={
            "MLCLI_STORE": store,
            "MLCLI_RUN_ID": None,
            "MLCLI_EXPERIMENT_ID": None,
            "MLCLI_EXPERIMENT_NAME": None,
        },
        workdir=None if remote else str(Path(run_plan.project.directory).resolve()),
        array=range(total),
        array_parallel=plan.request.parallel if plan.request.parallel < total else None,
    )
