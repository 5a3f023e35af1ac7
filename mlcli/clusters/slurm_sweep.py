"""``mlcli run ... -P 'lr=[...]' --backend slurm --parallel P``: a grid or random
sweep as ONE Slurm job array (``sbatch --array=0-N%P``).

Everything is checked first (``plan_sweep``, the config, ``sbatch --test-only`` of
the array's script), with nothing created. Then the parent run and every trial run
are created SCHEDULED (each trial with its number, parameters and parent, so that
``mlcli runs list`` shows them at once); the plan (each trial's parameters, run id
and ``mlcli`` arguments) is saved as the parent's artifact ``sweep/plan.json`` and
as ``plan.json`` next to the job's output, which the nodes read. The array is
submitted held, task ``i`` recorded as the owner of trial ``i + 1``'s run
(``JOB_i``), and released. Each task runs ``python -m mlcli.clusters.slurm_task
PLAN``: the trial's ``mlcli run <project> --run-id <its run>``.
"""

from __future__ import annotations

import json
import sys
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

PLAN_ARTIFACT = "sweep/plan.json"
PLAN_FILE = "plan.json"
#: On the parent: the job array that runs its trials (``mlcli.slurm.jobId`` too).
ARRAY_TAG = "mlcli.slurm.arrayJobId"


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
) -> ArraySweep:
    """Create the parent and trial runs SCHEDULED and submit the array; an error
    after the parent exists ends it and its trials FAILED (KILLED on Ctrl-C)."""
    feedback = feedback or SilentFeedback()
    planned = plan.sampler.planned()
    if planned is None:
        raise ValueError("an adaptive sweep has no plan to submit as an array")
    run_plan = _without_parameters(plan.run_plan)
    store = store_for_jobs(client)
    spec = _array_spec(plan, config, store, Path.cwd() / PLAN_FILE, "mlcli", Path.cwd())
    jobs.check_submission(job_script(spec))
    request = plan.run_plan.request
    experiment_id = run_experiment_id(client, request.experiment)
    parent = client.create_run(
        experiment_id=experiment_id,
        run_name=request.run_name,
        tags={**parent_tags(plan), system_tags.BACKEND: BACKEND},
        parent_run_id=parent_run_id(client, request),
        owner=this_process(),
        status=RunStatus.SCHEDULED,
    )
    parent_id = parent.run_id
    trials: list[ArrayTrial] = []
    job_id: str | None = None
    try:
        common = {**project_tags(run_plan), system_tags.BACKEND: BACKEND}
        for trial in planned:
            run = client.create_run(
                experiment_id=experiment_id,
                run_name=f"{parent.info.run_name}-{trial.number}",
                tags={**common, TRIAL_TAG: str(trial.number)},
                parent_run_id=parent_id,
                owner=this_process(),
                status=RunStatus.SCHEDULED,
            )
            client.log_batch(run.run_id, params=trial.params)
            trials.append(ArrayTrial(trial, run.run_id))
        folder = output_folder(client, config, parent_id)
        folder.mkdir(parents=True, exist_ok=True)
        document = plan_document(run_plan, trials)
        (folder / PLAN_FILE).write_text(json.dumps(document))
        client.log_dict(parent_id, document, PLAN_ARTIFACT)
        script = job_script(
            _array_spec(plan, config, store, folder / PLAN_FILE, parent.info.run_name, folder)
        )
        client.log_text(parent_id, script, JOB_SCRIPT_ARTIFACT)
        job_id = jobs.submit(script, ["--hold"])
        cluster = jobs.cluster_name()
        where = {system_tags.SLURM_CLUSTER: cluster} if cluster else {}
        client.log_batch(
            parent_id, tags={system_tags.SLURM_JOB_ID: job_id, ARRAY_TAG: job_id, **where}
        )
        for item in trials:
            task_job = f"{job_id}_{item.task}"
            client.log_batch(item.run_id, tags={system_tags.SLURM_JOB_ID: task_job, **where})
            client.store.runs.set_status(
                item.run_id, RunStatus.SCHEDULED, owner=SlurmJobOwner(task_job, cluster)
            )
        jobs.release(job_id)
    except BaseException as exc:
        if job_id is not None:
            jobs.cancel(job_id)
        abandon(client, parent_id, [t.run_id for t in trials], exc)
        raise
    feedback.info(
        f"Sweep {parent_id} ({parent.info.run_name}): {len(trials)} trial(s) submitted as "
        f"Slurm job array {job_id}, {plan.request.parallel} at a time"
    )
    return ArraySweep(client.get_run(parent_id), experiment_id, job_id, tuple(trials), folder)


def plan_document(run_plan: RunPlan, trials: list[ArrayTrial]) -> dict[str, object]:
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
        command=shell_command([python, "-m", "mlcli.clusters.slurm_task", str(plan_file)]),
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
