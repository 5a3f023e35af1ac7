"""The experiments list: each active experiment with its run count and last activity."""

from __future__ import annotations

from typing import Any

from mlcli.tracking import TrackingClient


def experiments_list(client: TrackingClient) -> dict[str, Any]:
    """Active experiments, the most recently active first (empty ones last, by name)."""
    activity = client.store.experiment_activity()
    rows = []
    for experiment in client.search_experiments():
        count, last = activity.get(experiment.experiment_id, (0, None))
        rows.append(
            {
                "experiment_id": experiment.experiment_id,
                "name": experiment.name,
                "run_count": count,
                "last_activity": max(last or 0, experiment.last_update_time or 0) or None,
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
