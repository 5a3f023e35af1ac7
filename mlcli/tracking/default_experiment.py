"""Which experiment a run goes to when the caller names none: one rule for the Python
API (``start_run``) and for ``mlcli run`` (projects and sweeps)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mlcli.tracking.environment import chosen_experiment

if TYPE_CHECKING:
    from mlcli.tracking.client import TrackingClient

EXPERIMENT_NAME_VARIABLE = "MLCLI_EXPERIMENT_NAME"
EXPERIMENT_ID_VARIABLE = "MLCLI_EXPERIMENT_ID"


def environment_experiment_id(client: TrackingClient) -> str | None:
    """``MLCLI_EXPERIMENT_NAME`` (by name, created if missing), else
    ``MLCLI_EXPERIMENT_ID`` (which must exist: NotFoundError), else MLflow's
    ``MLFLOW_EXPERIMENT_NAME`` and ``MLFLOW_EXPERIMENT_ID`` in the same way, else None:
    the store's Default experiment."""
    chosen = chosen_experiment()
    if chosen is None:
        return None
    kind, value, _ = chosen
    if kind == "name":
        return client.get_or_create_experiment(value).experiment_id
    return client.writable_store().experiments.get(value).experiment_id
