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
from typing import TYPE_CHECKING, Any

from mlcli.client import MlcliClient
from mlcli.errors import InvalidInputError
from mlcli.store import LifecycleStage, Store, TrackingStore
from mlcli.tracking_server.fields import Fields

if TYPE_CHECKING:
    from mlcli.objects.s3 import S3Objects
    from mlcli.store import TeamStore


class Backend:
    """A local store directory (``store_root``), or a team store (``team``: files in a
    bucket, the index in PostgreSQL) that several server processes share."""

    def __init__(self, store_root: Path | None = None, team: TeamStore | None = None) -> None:
        assert (store_root is None) != (team is None)
        self.store_root = store_root
        self.team = team
        self.logged_models = self.open_store().logged_models
        self._local = threading.local()

    @classmethod
    def for_config(cls, store: str, index: str | None) -> Backend:
        if index is None:
            return cls(Path(store))
        from mlcli.store import TeamStore

        return cls(team=TeamStore.open(store, index))

    @property
    def bucket(self) -> S3Objects | None:
        """The bucket the store's files live in, when artifacts go straight to it."""
        from mlcli.objects.s3 import S3Objects

        objects = None if self.team is None else self.team.objects
        return objects if isinstance(objects, S3Objects) else None

    def open_store(self) -> TrackingStore:
        """The store for one thread: the team store is shared, a directory's is opened
        per thread (each holds its own connection to the SQLite index)."""
        if self.team is not None:
            return self.team
        assert self.store_root is not None
        return Store.open(self.store_root)

    @property
    def client(self) -> MlcliClient:
        client = getattr(self._local, "client", None)
        if client is None:
            client = self._local.client = MlcliClient(self.open_store())
        return client

    def close(self) -> None:
        """Graceful shutdown: a team store flushes its buffered lines to the bucket."""
        if self.team is not None:
            self.team.close()

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
