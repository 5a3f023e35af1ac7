"""The experiments list: each active experiment with its run count and last activity."""

from __future__ import annotations

from typing import Any

from mlcli.tracking import TrackingClient
from mlcli.tracking.activity import experiments_activity


def experiments_list(client: TrackingClient) -> dict[str, Any]:
    """Active experiments, the most recently active first (empty ones last, by name)."""
    experiments = client.search_experiments()
    activity = experiments_activity(client.store, experiments)
    rows: list[dict[str, Any]] = []
    for experiment in experiments:
        summary = activity[experiment.experiment_id]
        rows.append(
            {
                "experiment_id": experiment.experiment_id,
                "name": experiment.name,
                "run_count": summary.run_count,
                "last_activity": summary.last_activity,
                "creation_time": experiment.creation_time,
                "tags": dict(experiment.tags),
            }
        )
    rows.sort(key=lambda row: (-(row["last_activity"] or 0), row["name"]))
    return {"experiments": rows}


def experiment_keys(client: TrackingClient, experiment_id: str) -> dict[str, Any]:
    """Every param, metric and tag key of the experiment's runs (the column chooser)."""
    experiment = client.get_experiment(experiment_id)
    return {
        "experiment": {"experiment_id": experiment.experiment_id, "name": experiment.name},
        **client.store.run_keys([experiment.experiment_id]),
    }
