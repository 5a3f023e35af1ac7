"""Which experiment a run goes to when the caller names none: one rule for the Python
API (``start_run``) and for ``mlcli run`` (projects and sweeps)."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mlcli.tracking.client import TrackingClient

EXPERIMENT_NAME_VARIABLE = "MLCLI_EXPERIMENT_NAME"
EXPERIMENT_ID_VARIABLE = "MLCLI_EXPERIMENT_ID"


def environment_experiment_id(client: TrackingClient) -> str | None:
    """``MLCLI_EXPERIMENT_NAME`` (by name, created if missing), else
    ``MLCLI_EXPERIMENT_ID`` (which must exist: NotFoundError), else None: the store's
    Default experiment."""
    name = os.environ.get(EXPERIMENT_NAME_VARIABLE)
    if name:
        return client.get_or_create_experiment(name).experiment_id
    experiment_id = os.environ.get(EXPERIMENT_ID_VARIABLE)
    if experiment_id:
        return client.writable_store().experiments.get(experiment_id).experiment_id
    return None
