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
from mlcli.clusters.sweep_runs import TrialRuns, abandon, create_parent
from mlcli.projects.feedback import Feedback, SilentFeedback
from mlcli.projects.runner import RunPlan, project_tags
from mlcli.slurm import jobs
from mlcli.store import Run, RunStatus, SlurmJobOwner
from mlcli.sweeps.planning import SweepPlan
from mlcli.sweeps.samplers import Trial
from mlcli.tracking.client import TrackingClient

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
    parent = create_parent(plan, client, BACKEND)
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
        maker = TrialRuns(client, parent, experiment_id, common)
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
                tags = {system_tags.SLURM_JOB_ID: task_job.job_id, **where}
                created.append(maker.create(item.trial, task_job, item.run_id, tags))
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
        environment={"MLCLI_STORE": store, "MLCLI_RUN_ID": None, "MLFLOW_RUN_ID": None},
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
            "MLFLOW_RUN_ID": None,  # MLflow's names too: they are honoured (docs/cli.md)
            "MLFLOW_EXPERIMENT_ID": None,
            "MLFLOW_EXPERIMENT_NAME": None,
        },
        workdir=None if remote else str(Path(run_plan.project.directory).resolve()),
        array=range(total),
        array_parallel=plan.request.parallel if plan.request.parallel < total else None,
    )
