"""An experiment's last activity: one definition for ``experiments list``, the UI's
experiments page and the server's ``last_update_time``.

The last activity is the latest of the experiment's own update (created, renamed,
tagged, deleted or restored) and its active runs' latest activity (a run started or
ended, or a metric logged by a live run).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace

from mlcli.store import Experiment, TrackingStore


@dataclass(frozen=True)
class ExperimentActivity:
    run_count: int
    last_activity: int | None


def last_activity(experiment_time: int | None, runs_time: int | None) -> int | None:
    """The later of the two times (None when neither is known)."""
    return max(experiment_time or 0, runs_time or 0) or None


def experiments_activity(
    store: TrackingStore, experiments: Iterable[Experiment]
) -> dict[str, ExperimentActivity]:
    """Active run count and last activity of each experiment, by id."""
    runs = store.experiment_activity()
    found: dict[str, ExperimentActivity] = {}
    for experiment in experiments:
        count, runs_time = runs.get(experiment.experiment_id, (0, None))
        found[experiment.experiment_id] = ExperimentActivity(
            count, last_activity(experiment.last_update_time, runs_time)
        )
    return found


def with_last_activity(store: TrackingStore, experiments: Iterable[Experiment]) -> list[Experiment]:
    """The experiments with ``last_update_time`` set to their last activity (the server's
    view, where MLflow clients read that field)."""
    chosen = list(experiments)
    activity = experiments_activity(store, chosen)
    return [
        replace(e, last_update_time=activity[e.experiment_id].last_activity or 0) for e in chosen
    ]
