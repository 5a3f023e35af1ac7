"""``--sweep optuna --backend slurm``: Optuna stays in this process, the coordinator.

It asks Optuna for a trial while fewer than ``--parallel`` jobs are in flight,
submits ONE job for it (``slurm_submit.submit_run``: the trial's run SCHEDULED, a
child of the parent, with its number), and tells Optuna the objective value when the
job has ended. The jobs never touch an Optuna storage: they only log to the store.
Ctrl-C (or the parent ended by ``mlcli runs cancel``) cancels the jobs in flight and
asks for no more trials.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from mlcli.clusters.slurm_config import SlurmConfig
from mlcli.clusters.slurm_follow import POLL_SECONDS, Cancellation, finish_run
from mlcli.clusters.slurm_submit import BACKEND, submit_run
from mlcli.clusters.sweep_ending import (
    SweepFacts,
    announce,
    finish_sweep,
    parent_running,
    valued,
)
from mlcli.clusters.sweep_runs import create_parent
from mlcli.projects.feedback import Feedback, SilentFeedback
from mlcli.slurm import jobs
from mlcli.slurm.commands import SlurmError
from mlcli.store import RunStatus
from mlcli.sweeps.planning import SweepPlan
from mlcli.sweeps.process import TrialOutcome
from mlcli.sweeps.runner import SweepResult
from mlcli.sweeps.samplers import Trial
from mlcli.sweeps.tags import TRIAL_TAG
from mlcli.tracking.client import TrackingClient


@dataclass(frozen=True)
class _InFlight:
    trial: Trial
    run_id: str
    job_id: str


def coordinate_sweep(
    plan: SweepPlan,
    config: SlurmConfig,
    *,
    client: TrackingClient,
    feedback: Feedback | None = None,
    poll: float = POLL_SECONDS,
) -> SweepResult:
    """Run the adaptive sweep ``plan``, one Slurm job per trial, at most ``--parallel``
    at once; this process asks and tells the sampler."""
    feedback = feedback or SilentFeedback()
    parent = create_parent(plan, client, BACKEND)
    parent_id, experiment_id = parent.run_id, parent.info.experiment_id
    feedback.info(
        f"Sweep {parent_id} ({parent.info.run_name}): {plan.sampler.name}, {plan.total} "
        f"trial(s), one Slurm job each, {plan.request.parallel} at a time"
    )
    facts = SweepFacts.from_plan(plan)
    flying: dict[int, _InFlight] = {}
    outcomes: list[TrialOutcome] = []
    cancellation = Cancellation()
    stopping = False
    try:
        with cancellation.installed():
            while True:
                if not stopping and _stop_asked(client, parent_id, cancellation, plan, outcomes):
                    stopping = True
                    for item in flying.values():
                        jobs.cancel(item.job_id)
                while not stopping and len(flying) < plan.request.parallel:
                    trial = plan.sampler.ask()
                    if trial is None:
                        break
                    item = _submit(plan, config, client, parent_id, trial)
                    flying[trial.number] = item
                    parent_running(client, parent_id)
                if not flying:
                    break
                for number, item in list(flying.items()):
                    try:
                        state = jobs.job_state(item.job_id)
                    except SlurmError:
                        continue
                    if state is not None and not state.finished:
                        continue
                    ended = finish_run(client, item.run_id, item.job_id, state)
                    outcome = TrialOutcome(item.trial, ended.status, ended.exit_code, item.run_id)
                    outcome = valued(client, outcome, plan.objective)
                    plan.sampler.tell(item.trial, outcome.value)
                    outcomes.append(outcome)
                    del flying[number]
                    announce(feedback, outcome, facts)
                if flying:
                    cancellation.pause(poll)
    except BaseException:
        for item in flying.values():
            jobs.cancel(item.job_id)
        if client.get_run(parent_id).info.status in RunStatus.LIVE:
            client.set_terminated(parent_id, RunStatus.FAILED)
        raise
    cancelled = cancellation.requested
    return finish_sweep(client, parent, experiment_id, facts, outcomes, cancelled, feedback)


def _stop_asked(
    client: TrackingClient,
    parent_id: str,
    cancellation: Cancellation,
    plan: SweepPlan,
    outcomes: list[TrialOutcome],
) -> bool:
    """Ctrl-C, the parent ended elsewhere, or a failed trial with --fail-fast."""
    if cancellation.requested:
        return True
    if plan.request.fail_fast and any(o.status != RunStatus.FINISHED for o in outcomes):
        return True
    return client.get_run(parent_id).info.status not in RunStatus.LIVE


def _submit(
    plan: SweepPlan, config: SlurmConfig, client: TrackingClient, parent_id: str, trial: Trial
) -> _InFlight:
    parent_name = client.get_run(parent_id).info.run_name
    request = replace(
        plan.run_plan.request,
        parameters=trial.params,
        parent_run_id=parent_id,
        run_name=f"{parent_name}-{trial.number}",
        tags={TRIAL_TAG: str(trial.number)},
    )
    job = submit_run(request, config, client=client)
    return _InFlight(trial, job.run_id, job.job_id)
