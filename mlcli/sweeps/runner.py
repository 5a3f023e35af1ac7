"""``run_sweep``: a parent run, and one child ``mlcli run`` per trial.

After ``plan_sweep`` has checked everything, the parent run is created with the
project's and the sweep's tags, the environment is prepared once (so that parallel
trials find it made), and the trials run, each a normal ``mlcli run`` of the entry
point in a process of its own, with ``mlcli.parentRunId`` set and its number in
``mlcli.sweep.trial``. When they have all ended, trial runs left RUNNING (a trial
killed outright) are ended, the best trial is recorded, the trials' summary is saved
as the artifact ``sweep/trials.json``, and the parent ends FINISHED when every trial
did, FAILED when one did not, KILLED when the sweep was interrupted (Ctrl-C,
SIGTERM, SIGHUP: forwarded to the running trials, which end KILLED too).
"""

from __future__ import annotations

import queue
from dataclasses import dataclass, replace
from typing import IO, Any

from mlcli import system_tags
from mlcli.errors import MlcliError
from mlcli.projects.execution import Interruptions, RunInterrupted, exit_code_for_signal
from mlcli.projects.feedback import Feedback, SilentFeedback
from mlcli.projects.runner import RunPlan, parent_run_id, run_experiment_id
from mlcli.store import Run, RunStatus, json_number, this_process
from mlcli.sweeps.command import mlcli_command, trial_arguments, trial_environment
from mlcli.sweeps.objective import Objective
from mlcli.sweeps.parent import (
    BestTrial,
    end_stragglers,
    find_trial_run,
    parent_tags,
    record_best,
)
from mlcli.sweeps.planning import SweepPlan, SweepRequest, plan_sweep
from mlcli.sweeps.process import OutputRelay, TrialGroup, TrialOutcome, TrialProcess
from mlcli.sweeps.samplers import Trial
from mlcli.sweeps.scheduler import Scheduler
from mlcli.sweeps.tags import TRIALS_ARTIFACT
from mlcli.tracking import TrackingClient


@dataclass(frozen=True)
class SweepResult:
    """How a sweep ended. ``exit_code``: 0 when every trial finished, 1 when one did
    not, 128 + the signal number when interrupted."""

    run_id: str
    run_name: str
    experiment_id: str
    status: str
    exit_code: int
    sampler: str
    seed: int | None
    total: int
    objective: Objective | None
    best: BestTrial | None
    trials: tuple[TrialOutcome, ...]

    def to_dict(self) -> dict[str, Any]:
        """The stable JSON shape of ``mlcli run --json`` for a sweep."""
        best = self.best
        return {
            "run_id": self.run_id,
            "run_name": self.run_name,
            "experiment_id": self.experiment_id,
            "status": self.status,
            "exit_code": self.exit_code,
            "sampler": self.sampler,
            "seed": self.seed,
            "objective": self.objective.metric if self.objective else None,
            "direction": self.objective.direction if self.objective else None,
            "best_run_id": best.run_id if best else None,
            "best_trial": best.trial if best else None,
            "best_value": json_number(best.value) if best else None,
            "trials": [trial_record(o) for o in sorted(self.trials, key=_number)],
        }


def trial_record(outcome: TrialOutcome) -> dict[str, Any]:
    return {
        "trial": outcome.trial.number,
        "run_id": outcome.run_id,
        "status": outcome.status,
        "exit_code": outcome.exit_code,
        "params": dict(outcome.trial.params),
        "value": None if outcome.value is None else json_number(outcome.value),
        "seconds": round(outcome.seconds, 3),
    }


def run_sweep(
    request: SweepRequest,
    *,
    client: TrackingClient | None = None,
    feedback: Feedback | None = None,
    echo: IO[bytes] | None = None,
) -> SweepResult:
    """Run the sweep ``request`` asks for. The trials' output is copied to ``echo``
    (each line prefixed with ``[N]``, the trial's number) when given.

    Errors before the parent run exists are raised as they are; an error after it
    stops the running trials, ends the parent FAILED and is raised again with the
    parent's id in its message."""
    plan = plan_sweep(request)
    client = client or TrackingClient()
    run_plan = plan.run_plan
    experiment_id = run_experiment_id(client, run_plan.request.experiment)
    parent = client.create_run(
        experiment_id=experiment_id,
        run_name=run_plan.request.run_name,
        tags=parent_tags(plan),
        parent_run_id=parent_run_id(client, run_plan.request),
        owner=this_process(),
    )
    sweep = _Sweep(plan, client, feedback or SilentFeedback(), echo, parent, experiment_id)
    return sweep.run()


class _Sweep:
    def __init__(
        self,
        plan: SweepPlan,
        client: TrackingClient,
        feedback: Feedback,
        echo: IO[bytes] | None,
        parent: Run,
        experiment_id: str,
    ) -> None:
        self.plan = plan
        self.client = client
        self.feedback = feedback
        self.relay = OutputRelay(echo)
        self.parent = parent
        self.experiment_id = experiment_id

    def run(self) -> SweepResult:
        plan, parent = self.plan, self.parent
        run_plan = plan.run_plan
        self.feedback.info(
            f"Sweep {parent.run_id} ({parent.info.run_name}) of {run_plan.entry_point.name!r} "
            f"in experiment {parent.experiment_name or self.experiment_id!r}: "
            f"{plan.sampler.name}, {plan.total} trial(s), {plan.request.parallel} at a time, "
            f"environment {run_plan.env_manager.name}"
        )
        if run_plan.mlflow_compat.notice:  # once for the sweep: its trials are quiet
            self.feedback.info(run_plan.mlflow_compat.notice)
        interruptions = Interruptions()
        group = TrialGroup()
        outcomes: list[TrialOutcome] = []
        try:
            with interruptions.installed():
                try:
                    self._prepare_environment(run_plan)
                    with interruptions.starting():
                        interruptions.attach(group)
                except RunInterrupted:
                    pass
                else:
                    scheduler = self._scheduler(group)
                    outcomes = scheduler.run(lambda: interruptions.signum is not None)
        except MlcliError as exc:
            self._abandon(exc.message)
            exc.message = f"{exc.message} (sweep {parent.run_id} ended FAILED)"
            raise
        except BaseException as exc:
            self._abandon(f"{type(exc).__name__}: {exc}")
            raise
        return self._finish(outcomes, interruptions.signum)

    def _prepare_environment(self, run_plan: RunPlan) -> None:
        """Make (or find) the environment once, before trials race to make it."""
        run_plan.env_manager.prepare(run_plan.project, self.feedback).close()

    def _scheduler(self, group: TrialGroup) -> Scheduler:
        store = self.client.store
        environ = trial_environment(store.root, store.location, self.experiment_id)
        prefix = mlcli_command()

        def launch(trial: Trial, done: queue.Queue[TrialOutcome]) -> TrialProcess:
            argv = [*prefix, *trial_arguments(self.plan, self.parent, trial)]
            return TrialProcess(trial, argv, environ, self.relay, done)

        return Scheduler(
            sampler=self.plan.sampler,
            launch=launch,
            finish=self._complete,
            group=group,
            parallel=self.plan.request.parallel,
            fail_fast=self.plan.request.fail_fast,
            started=self._started,
            ended=self._ended,
        )

    def _complete(self, outcome: TrialOutcome) -> TrialOutcome:
        """The outcome with its run id and objective value, read from its run."""
        run: Run | None
        if outcome.run_id is not None:
            run = self.client.get_run(outcome.run_id)
        else:
            run = find_trial_run(self.client, self.parent.run_id, outcome.trial.number)
        if run is None:
            return outcome
        objective = self.plan.objective
        finished = outcome.status == RunStatus.FINISHED
        value = objective.value(run) if objective is not None and finished else None
        return replace(outcome, run_id=run.run_id, value=value)

    def _started(self, trial: Trial) -> None:
        shown = " ".join(f"{k}={trial.params[k]}" for k in self.plan.request.spec.swept)
        self.feedback.info(f"Trial {trial.number}/{self.plan.total}: {shown}")

    def _ended(self, outcome: TrialOutcome) -> None:
        parts = [f"{outcome.seconds:.1f} s"]
        if outcome.exit_code and outcome.status != RunStatus.FINISHED:
            parts.append(f"exit code {outcome.exit_code}")
        if outcome.run_id:
            parts.append(f"run {outcome.run_id}")
        objective = self.plan.objective
        if objective is not None and outcome.value is not None:
            parts.append(f"{objective.metric}={outcome.value:g}")
        if outcome.error and not outcome.run_id:
            parts.append(outcome.error)
        self.feedback.info(
            f"Trial {outcome.trial.number}/{self.plan.total} {outcome.status}: {', '.join(parts)}"
        )

    def _finish(self, outcomes: list[TrialOutcome], signum: int | None) -> SweepResult:
        parent_id = self.parent.run_id
        client, plan = self.client, self.plan
        end_stragglers(client, parent_id, RunStatus.KILLED if signum else RunStatus.FAILED)
        best = None
        if plan.objective is not None:
            best = record_best(client, parent_id, plan.objective)
            self._announce_best(plan.objective, best)
        else:
            self.feedback.info(
                "No --objective: no best trial recorded; rank the trials with "
                f"mlcli compare --parent {parent_id} --order-by 'metrics.KEY DESC'"
            )
        ordered = sorted(outcomes, key=_number)
        client.log_dict(parent_id, [trial_record(o) for o in ordered], TRIALS_ARTIFACT)
        complete = len(outcomes) == plan.total
        if signum is not None:
            status, code = RunStatus.KILLED, exit_code_for_signal(signum)
        elif complete and all(o.status == RunStatus.FINISHED for o in outcomes):
            status, code = RunStatus.FINISHED, 0
        else:
            status, code = RunStatus.FAILED, 1
        client.set_terminated(parent_id, status)
        counts = _counts(outcomes, plan.total)
        self.feedback.info(f"Sweep {parent_id} {status}: {counts}")
        return SweepResult(
            run_id=parent_id,
            run_name=self.parent.info.run_name,
            experiment_id=self.experiment_id,
            status=status,
            exit_code=code,
            sampler=plan.sampler.name,
            seed=plan.sampler.seed,
            total=plan.total,
            objective=plan.objective,
            best=best,
            trials=tuple(ordered),
        )

    def _announce_best(self, objective: Objective, best: BestTrial | None) -> None:
        if best is None:
            self.feedback.info(
                f"No finished trial logged {objective.metric!r}: no best trial recorded"
            )
            return
        self.feedback.info(
            f"Best trial: {best.trial} (run {best.run_id}), {objective.metric}={best.value:g}"
        )

    def _abandon(self, reason: str) -> None:
        """After an error: trial runs left RUNNING and the parent end FAILED."""
        parent_id = self.parent.run_id
        end_stragglers(self.client, parent_id, RunStatus.FAILED)
        self.client.log_batch(parent_id, tags={system_tags.PROJECT_FAILURE_REASON: reason[:8000]})
        self.client.set_terminated(parent_id, RunStatus.FAILED)
        self.feedback.info(f"Sweep {parent_id} FAILED")


def _number(outcome: TrialOutcome) -> int:
    return outcome.trial.number


def _counts(outcomes: list[TrialOutcome], total: int) -> str:
    counted: dict[str, int] = {}
    for outcome in outcomes:
        counted[outcome.status] = counted.get(outcome.status, 0) + 1
    parts = [f"{n} {status}" for status, n in sorted(counted.items())]
    if len(outcomes) < total:
        parts.append(f"{total - len(outcomes)} not started")
    return ", ".join(parts) or "no trial ran"
