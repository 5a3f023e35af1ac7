"""What every REST handler works on: the store, through the same clients as the CLI.

Handlers run in a thread pool, so each thread gets its own :class:`MlcliClient` (and
with it its own connection to the SQLite index); the files underneath are safe for
any number of writers (docs/store.md, "Guarantees"), so nothing else is serialised.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlcli.client import MlcliClient
from mlcli.errors import InvalidInputError
from mlcli.store import LifecycleStage, Store, TrackingStore
from mlcli.tracking_server.fields import Fields


class Backend:
    def __init__(self, store_root: Path) -> None:
        self.store_root = store_root
        self.logged_models = Store.open(store_root).logged_models
        self._local = threading.local()

    @property
    def client(self) -> MlcliClient:
        client = getattr(self._local, "client", None)
        if client is None:
            client = self._local.client = MlcliClient(Store.open(self.store_root))
        return client

    @property
    def store(self) -> TrackingStore:
        return self.client.store

    def writable_run(self, run_id: str) -> str:
        """The full id of an active run (a deleted run takes no writes)."""
        run_id = self.client.resolve_run_id(run_id)
        if self.store.runs.info(run_id).lifecycle_stage != LifecycleStage.ACTIVE:
            raise InvalidInputError(
                f"run {run_id} is deleted; restore it before logging to it",
                error_code="INVALID_STATE",
            )
        return run_id


Handler = Callable[[Backend, Fields], dict[str, Any]]


@dataclass(frozen=True)
class Endpoint:
    """One REST method: ``path`` is relative to ``/api/2.0/mlflow``, or to
    ``/api/2.0/mlcli`` for mlcli's own endpoints (``api="mlcli"``: what MLflow's API has
    no call for); ``{name}`` marks a path parameter; ``kinds`` names the fields whose
    kind differs from the usual (:data:`mlcli.tracking_server.fields.KINDS`);
    ``points``, for the endpoints that log metrics, how many metric points a request
    writes (counted once it succeeds, for ``/metrics``)."""

    method: str
    path: str
    handler: Handler
    kinds: Mapping[str, str] = field(default_factory=dict)
    points: Callable[[Fields], int] | None = None
    api: str = "mlflow"


def run_id_of(fields: Fields) -> str:
    """MLflow's clients send ``run_id``, older ones ``run_uuid``."""
    run_id = fields.string("run_id") or fields.string("run_uuid")
    if not run_id:
        raise InvalidInputError("missing value for required parameter 'run_id'")
    return str(run_id)
