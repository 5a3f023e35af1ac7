"""Creating and abandoning the runs of a sweep that a scheduler (Slurm, Kubernetes)
runs: the parent, owned by the coordinator, and one SCHEDULED run per trial."""

from __future__ import annotations

from mlcli import system_tags
from mlcli.errors import MlcliError
from mlcli.projects.runner import parent_run_id, run_experiment_id
from mlcli.store import Run, RunOwner, RunStatus, this_process
from mlcli.sweeps.parent import parent_tags
from mlcli.sweeps.planning import SweepPlan
from mlcli.sweeps.samplers import Trial
from mlcli.sweeps.tags import TRIAL_TAG
from mlcli.tracking.client import TrackingClient
from mlcli.tracking.context import current_user


def create_parent(plan: SweepPlan, client: TrackingClient, backend: str) -> Run:
    """The sweep's parent run, SCHEDULED and owned by this process (the coordinator)."""
    request = plan.run_plan.request
    return client.create_run(
        experiment_id=run_experiment_id(client, request.experiment),
        run_name=request.run_name,
        tags={**parent_tags(plan), system_tags.BACKEND: backend},
        parent_run_id=parent_run_id(client, request),
        owner=this_process(),
        status=RunStatus.SCHEDULED,
    )


class TrialRuns:
    """Creates a sweep's trial runs SCHEDULED through the store's own ``create``: the
    client's would read each new run back, and a read asks the scheduler about every
    live run a job owns (10 ms a run)."""

    def __init__(
        self, client: TrackingClient, parent: Run, experiment_id: str, tags: dict[str, str]
    ) -> None:
        self.client = client
        self.runs = client.writable_store().runs
        self.user = current_user()
        self.parent = parent
        self.experiment_id = experiment_id
        self.tags = tags

    def create(
        self,
        trial: Trial,
        owner: RunOwner | None,
        run_id: str | None = None,
        tags: dict[str, str] | None = None,
    ) -> str:
        """A SCHEDULED trial run owned by ``owner`` with ``tags`` (those naming its
        job); its id."""
        tags = {**self.tags, **(tags or {}), TRIAL_TAG: str(trial.number)}
        info = self.runs.create(
            experiment_id=self.experiment_id,
            run_name=f"{self.parent.info.run_name}-{trial.number}",
            user_id=self.user,
            tags=tags,
            parent_run_id=self.parent.run_id,
            run_id=run_id,
            owner=owner,
            status=RunStatus.SCHEDULED,
        )
        self.client.log_batch(info.run_id, params=trial.params)
        return info.run_id


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
