"""A store on a team server (``--store http(s)://host``): the ``TrackingStore`` facade
over the server's REST API.

Everything goes through MLflow's REST API as ``mlcli server`` serves it, plus mlcli's
own endpoints (``/api/2.0/mlcli/...``) where MLflow's has no call. Unlike a store on
object storage (``mirror.py``), nothing is mirrored: every read asks the server, so
every client sees every acknowledged write at once, and the server checks each call
against the user's permissions. Searches run on the server (``ServerStore.search_runs``):
the server compiles mlcli's filter language over its own index, with the same
semantics as a local query.

Local files are a cache only (``cache.py``). The parts: ``experiments.py``,
``runs.py``, ``artifacts.py``, ``logged_models.py``; ``connection.py`` talks to the
server, ``convert.py`` reads its shapes back into mlcli's entities.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlcli.errors import MlcliError, NotFoundError, StoreError
from mlcli.store.entities import Experiment, Run, ViewType
from mlcli.store.rest import convert
from mlcli.store.rest.cache import cache_root, private_cache
from mlcli.store.rest.connection import MLCLI_API, ServerConnection
from mlcli.store.rest.experiments import PAGE, ServerExperiments
from mlcli.store.rest.runs import ServerRuns

if TYPE_CHECKING:
    from mlcli.store.backend import TrackingStore
    from mlcli.store.rest.artifacts import ServerArtifacts
    from mlcli.store.rest.logged_models import ServerLoggedModels
    from mlcli.store.upkeep import LeftOut

_FULL_RUN_ID = re.compile(r"[0-9a-f]{32}")


class ServerStore:
    """The store served at ``url`` (see the module doc)."""

    def __init__(self, url: str, connection: ServerConnection | None = None) -> None:
        self.connection = connection or ServerConnection(url)
        self.url = self.connection.url  # no user:password@, which is never shown
        self._root = cache_root(self.url)
        self._cache_checked = False
        self.experiments = ServerExperiments(self)
        self.runs = ServerRuns(self)
        self.index = ServerIndex(self)
        self._logged_models: ServerLoggedModels | None = None
        self._names: dict[str, str] = {}  # experiment id -> name, for runs' experiment_name
        self._lock = threading.Lock()

    @classmethod
    def open_url(cls, url: str) -> ServerStore:
        store = cls(url)
        store.check()
        return store

    def check(self) -> None:
        """That a server answers at the URL and accepts the credentials: one cheap call."""
        self.connection.post("/experiments/search", {"max_results": 1})

    @property
    def location(self) -> str:
        return self.url

    @property
    def root(self) -> Path:
        """The cache folder, made on first use and private to this Unix user."""
        if not self._cache_checked:
            private_cache(self._root)
            self._cache_checked = True
        return self._root

    @property
    def logged_models(self) -> ServerLoggedModels:
        if self._logged_models is None:
            from mlcli.store.rest.logged_models import ServerLoggedModels

            self._logged_models = ServerLoggedModels(self.connection)
        return self._logged_models

    def artifacts(self, run_id: str) -> ServerArtifacts:
        from mlcli.store.rest.artifacts import ServerArtifacts

        info = self.runs.info(run_id)
        if not _FULL_RUN_ID.fullmatch(info.run_id):  # it names a folder of the cache
            raise StoreError(
                f"the server at {self.url} answered run id {info.run_id[:100]!r} for run "
                f"{run_id[:100]!r}: not a run id"
            )
        cache = self.root / "runs" / info.run_id / "artifacts"
        return ServerArtifacts(self.connection, info.run_id, info.experiment_id, cache)

    # -- runs with their data --------------------------------------------------------------

    def get_run(self, run_id: str) -> Run:
        self.runs._try_resend(run_id)  # a read sees this process's writes
        doc = self.connection.get("/runs/get", run_id=run_id)["run"]
        return self._run(doc)

    def get_runs(self, run_ids: Sequence[str]) -> dict[str, Run]:
        found: dict[str, Run] = {}
        for run_id in dict.fromkeys(run_ids):
            try:
                found[run_id] = self.get_run(run_id)
            except NotFoundError:
                continue
        return found

    def runs_by_id(self, run_ids: Sequence[str]) -> list[Run]:
        runs = self.get_runs(run_ids)
        return [runs[r] for r in run_ids if r in runs]

    def run_ids_of_experiments(self, experiment_ids: Sequence[str]) -> list[str]:
        if not experiment_ids:
            return []
        runs = self.search_runs(list(experiment_ids), view=ViewType.ALL)
        return [run.info.run_id for run in runs]

    def count_runs(self) -> dict[str, int]:
        return {key: count for key, (count, _) in self.experiment_activity().items()}

    def experiment_activity(self) -> dict[str, tuple[int, int | None]]:
        reply = self.connection.get("/experiments/activity", api=MLCLI_API)
        return {
            str(item["experiment_id"]): (int(item["run_count"]), item.get("last_run_time"))
            for item in reply.get("experiments", [])
        }

    def run_keys(self, experiment_ids: Sequence[str]) -> dict[str, list[str]]:
        keys: dict[str, set[str]] = {"params": set(), "metrics": set(), "tags": set()}
        for run in self.search_runs(list(experiment_ids)) if experiment_ids else []:
            keys["params"].update(run.data.params)
            keys["metrics"].update(run.data.latest_metrics)
            keys["tags"].update(run.data.tags)
        return {kind: sorted(found) for kind, found in keys.items()}

    def left_out(self) -> list[LeftOut]:
        """None that a client can act on: listings on the server leave damaged documents
        out, and ``mlcli damage`` on the server's host lists them."""
        return []

    def close(self) -> None:
        self.runs._resend_at_exit()
        self.connection.close()

    # -- search, on the server -------------------------------------------------------------

    def search_runs(
        self,
        experiment_ids: Sequence[str] | None = None,
        filter_string: str | None = None,
        order_by: Sequence[str] | None = None,
        max_results: int | None = None,
        view: str = ViewType.ACTIVE_ONLY,
        offset: int = 0,
    ) -> list[Run]:
        """What :func:`mlcli.search.search_runs` finds, found by the server: mlcli's
        filter language, the same order, pages fetched until ``max_results``."""
        wanted = None if max_results is None else offset + max_results
        body: dict[str, Any] = {"run_view_type": convert.view_type(view)}
        if experiment_ids is not None:
            body["experiment_ids"] = list(experiment_ids)
            if not body["experiment_ids"]:
                return []
        if filter_string:
            body["filter"] = filter_string
        if order_by:
            body["order_by"] = list(order_by)
        docs: list[dict[str, Any]] = []
        token: str | None = None
        while wanted is None or len(docs) < wanted:
            size = PAGE if wanted is None else max(1, min(PAGE, wanted - len(docs)))
            page = self.connection.post(
                "/runs/search",
                {**body, "max_results": size, **({"page_token": token} if token else {})},
            )
            docs.extend(page.get("runs", []))
            token = page.get("next_page_token")
            if not token:
                break
        return [self._run(doc) for doc in docs[offset:wanted]]

    def count_matching_runs(
        self,
        experiment_ids: Sequence[str] | None = None,
        filter_string: str | None = None,
        view: str = ViewType.ACTIVE_ONLY,
    ) -> int:
        return len(self.search_runs(experiment_ids, filter_string, None, None, view))

    # -- internals ---------------------------------------------------------------------------

    def _run(self, doc: dict[str, Any]) -> Run:
        experiment_id = str(doc["info"]["experiment_id"])
        return convert.run(doc, self._experiment_name(experiment_id))

    def _experiment_name(self, experiment_id: str) -> str | None:
        with self._lock:
            name = self._names.get(experiment_id)
        if name is None:
            try:
                name = self.experiments.get(experiment_id).name
            except MlcliError:
                return None
        return name

    def _remember(self, experiment: Experiment) -> Experiment:
        with self._lock:
            self._names[experiment.experiment_id] = experiment.name
        return experiment


class ServerIndex:
    """Searches run on the server (``ServerStore.search_runs``): there is no local index."""

    sql_dialect = "sqlite"  # never queried (``query`` refuses)

    def __init__(self, store: ServerStore) -> None:
        self._store = store

    def refresh(self) -> None:
        return None

    def refresh_runs(self, run_ids: Iterable[str]) -> None:
        return None

    def query(self, sql: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        raise StoreError(
            f"the store at {self._store.url} is a team server: its index is queried "
            "through the server's search, not locally"
        )


if TYPE_CHECKING:
    _conforms: TrackingStore = ServerStore("http://127.0.0.1")
