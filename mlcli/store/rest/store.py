"""A store on a team server (``--store http(s)://host``): the ``TrackingStore`` facade
over the server's REST API.

Everything goes through MLflow's REST API as ``mlcli server`` serves it, plus mlcli's
own endpoints (``/api/2.0/mlcli/...``) where MLflow's has no call. Unlike a store on
object storage (``mirror.py``), nothing is mirrored: every read asks the server, so
every client sees every acknowledged write at once, and the server checks each call
against the user's permissions. Searches run on the server (``ServerStore.search_runs``):
the server compiles mlcli's filter language over its own index, with the same
semantics as a local query.

Local files are a cache only (``$XDG_CACHE_HOME/mlcli/servers/<hash of the URL>/``):
downloaded artifacts and registered models, never state.
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import json
import logging
import os
import re
import threading
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlcli.errors import InvalidInputError, MlcliError, NotFoundError, PartlyWritten, StoreError
from mlcli.store.entities import (
    Experiment,
    LifecycleStage,
    Metric,
    Run,
    RunInfo,
    RunStatus,
    ViewType,
)
from mlcli.store.records import decode_metric_log
from mlcli.store.rest import convert
from mlcli.store.rest.connection import MLCLI_API, ServerConnection
from mlcli.store.validation import validate_experiment_name
from mlcli.system_tags import PARENT_RUN_ID, to_mlflow

if TYPE_CHECKING:
    from mlcli.store.backend import TrackingStore
    from mlcli.store.ownership import Owner
    from mlcli.store.rest.artifacts import ServerArtifacts
    from mlcli.store.rest.logged_models import ServerLoggedModels
    from mlcli.store.upkeep import LeftOut

_log = logging.getLogger("mlcli")
# MLflow's limits on one log-batch request, which the server enforces.
BATCH_METRICS = 1000
BATCH_PARAMS = 100
BATCH_TAGS = 100
PAGE = 1000
_FULL_RUN_ID = re.compile(r"[0-9a-f]{32}")


def cache_root(url: str) -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    digest = hashlib.sha256(url.encode()).hexdigest()[:16]
    return Path(base).expanduser() / "mlcli" / "servers" / digest


def private_cache(folder: Path) -> None:
    """Make ``folder`` (mode 0700) or check the one there: a real folder of this Unix
    user that no one else may write, since what is cached there is loaded as the
    server's (models are unpickled). Another user's, or one shared through a common
    XDG_CACHE_HOME, is a one-line StoreError; so is a cache that cannot be made."""
    import stat

    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileExistsError):
            folder.mkdir(mode=0o700)
        found = os.lstat(folder)
    except OSError as error:
        raise StoreError(
            f"cannot use the cache folder {folder}: {error.strerror or error}; "
            "set XDG_CACHE_HOME to a folder of your own"
        ) from None
    if not stat.S_ISDIR(found.st_mode):
        problem = "it is not a folder (a symbolic link?)"
    elif found.st_uid != os.geteuid():
        problem = f"it belongs to another user (uid {found.st_uid})"
    elif found.st_mode & 0o022:
        problem = "others may write in it"
    else:
        return
    raise StoreError(
        f"cannot use the cache folder {folder}: {problem}; set XDG_CACHE_HOME to a "
        "folder of your own"
    )


def _refused(what: str) -> StoreError:
    return StoreError(f"{what} works on the server's own store: run it on the server's host")


def _in_view(stage: str, view: str) -> bool:
    if view == ViewType.ACTIVE_ONLY:
        return stage == LifecycleStage.ACTIVE
    if view == ViewType.DELETED_ONLY:
        return stage == LifecycleStage.DELETED
    return True


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


class ServerExperiments:
    def __init__(self, store: ServerStore) -> None:
        self._store = store
        self._call = store.connection

    def get(self, experiment_id: str) -> Experiment:
        doc = self._call.get("/experiments/get", experiment_id=experiment_id)["experiment"]
        return self._store._remember(convert.experiment(doc))

    def list(self, view: str = ViewType.ACTIVE_ONLY) -> list[Experiment]:
        found: list[Experiment] = []
        token: str | None = None
        while True:
            body: dict[str, Any] = {"view_type": convert.view_type(view), "max_results": PAGE}
            if token:
                body["page_token"] = token
            page = self._call.post("/experiments/search", body)
            found.extend(
                self._store._remember(convert.experiment(e)) for e in page.get("experiments", [])
            )
            token = page.get("next_page_token")
            if not token:
                return sorted(found, key=lambda e: _id_order(e.experiment_id))

    def find_by_name(self, name: str, view: str = ViewType.ACTIVE_ONLY) -> Experiment | None:
        try:
            doc = self._call.get("/experiments/get-by-name", experiment_name=name)["experiment"]
        except NotFoundError:
            return None
        experiment = self._store._remember(convert.experiment(doc))
        return experiment if _in_view(experiment.lifecycle_stage, view) else None

    def resolve(self, ref: str, view: str = ViewType.ACTIVE_ONLY) -> Experiment:
        experiment = self.find_by_name(ref, view)
        if experiment is not None:
            return experiment
        try:
            experiment = self.get(ref)
        except (NotFoundError, InvalidInputError):
            experiment = None
        if experiment is not None and _in_view(experiment.lifecycle_stage, view):
            return experiment
        state = {ViewType.DELETED_ONLY: "deleted ", ViewType.ACTIVE_ONLY: ""}.get(view, "")
        raise NotFoundError(f"no {state}experiment named {ref!r} (see 'mlcli experiments list')")

    def ensure_default(self) -> None:
        """The server keeps its own Default experiment."""

    def create(self, name: str, tags: dict[str, str] | None = None) -> Experiment:
        body: dict[str, Any] = {"name": validate_experiment_name(name)}  # a local store's words
        if tags:
            body["tags"] = convert.tags_to(tags)
        reply = self._call.post("/experiments/create", body)
        return self.get(str(reply["experiment_id"]))

    def get_or_create(self, name: str) -> Experiment:
        found = self.find_by_name(name, ViewType.ALL)
        if found is not None:
            return found
        try:
            return self.create(name)
        except InvalidInputError:  # another client created it meanwhile
            found = self.find_by_name(name, ViewType.ALL)
            if found is None:
                raise
            return found

    def rename(self, experiment_id: str, new_name: str) -> Experiment:
        new_name = validate_experiment_name(new_name)
        self._call.post(
            "/experiments/update", {"experiment_id": experiment_id, "new_name": new_name}
        )
        return self.get(experiment_id)

    def delete(self, experiment_id: str) -> Experiment:
        self._call.post("/experiments/delete", {"experiment_id": experiment_id})
        return self.get(experiment_id)

    def restore(self, experiment_id: str) -> Experiment:
        self._call.post("/experiments/restore", {"experiment_id": experiment_id})
        return self.get(experiment_id)

    def set_tag(self, experiment_id: str, key: str, value: str) -> Experiment:
        body = {"experiment_id": experiment_id, "key": to_mlflow(key), "value": value}
        self._call.post("/experiments/set-experiment-tag", body)
        return self.get(experiment_id)

    def purge(self, experiment_id: str) -> None:
        raise _refused("purging an experiment ('mlcli gc')")

    def deleted_time(self, experiment_id: str) -> int | None:
        experiment = self.get(experiment_id)
        if experiment.lifecycle_stage != LifecycleStage.DELETED:
            return None
        return experiment.last_update_time


class ServerRuns:
    def __init__(self, store: ServerStore) -> None:
        self._store = store
        self._call = store.connection
        self._in_doubt: dict[str, list[tuple[str, bytes]]] = {}  # run -> (name, body)

    def list_ids(self) -> list[str]:
        return [run.info.run_id for run in self._store.search_runs(None, view=ViewType.ALL)]

    def exists(self, run_id: str) -> bool:
        try:
            self._call.get("/runs/get", run_id=run_id)
        except NotFoundError:
            return False
        return True

    def resolve(self, ref: str) -> str:
        """The full id of the run ``ref`` names (an id or a unique prefix, as the
        server resolves it)."""
        from mlcli.store.validation import validate_run_id_prefix

        prefix = validate_run_id_prefix(ref)
        if len(prefix) == 32:  # a full id: the call that uses it finds out if it exists
            return prefix
        doc = self._call.get("/runs/get", run_id=prefix)["run"]
        return str(doc["info"]["run_id"])

    def create(
        self,
        *,
        experiment_id: str,
        run_name: str,
        user_id: str,
        tags: dict[str, str],
        parent_run_id: str | None = None,
        start_time: int | None = None,
        status: str = RunStatus.RUNNING,
        run_id: str | None = None,
        owner: Owner | None = None,
    ) -> RunInfo:
        if run_id is not None:
            raise InvalidInputError(
                "a team server chooses run ids itself: a run with a given id "
                "('mlcli import-mlflow') is imported on the server's host"
            )
        tags = dict(tags)
        if parent_run_id is not None:
            tags[PARENT_RUN_ID] = parent_run_id
        body: dict[str, Any] = {
            "experiment_id": experiment_id,
            "run_name": run_name,
            "user_id": user_id,
            "tags": convert.tags_to(tags),
        }
        if start_time is not None:
            body["start_time"] = start_time
        doc = self._call.post("/runs/create", body)["run"]
        info = self._store._run(doc).info
        if status != RunStatus.RUNNING:
            return self.set_status(info.run_id, status)
        return info

    def read_doc(self, run_id: str) -> dict[str, Any]:
        raise _refused("reading a run's document")

    def info(self, run_id: str) -> RunInfo:
        return self._store.get_run(run_id).info

    def update(self, run_id: str, **changes: Any) -> RunInfo:
        body: dict[str, Any] = {"run_id": run_id}
        parent = changes.pop("parent_run_id", None)
        if "run_name" in changes:
            body["run_name"] = changes.pop("run_name")
        if "status" in changes:
            body["status"] = changes.pop("status")
        if "end_time" in changes:
            body["end_time"] = changes.pop("end_time")
        if changes:
            raise InvalidInputError(
                f"a team server cannot change {', '.join(sorted(changes))} of a run"
            )
        if parent is not None:
            self.set_tags(run_id, {PARENT_RUN_ID: parent})
        if len(body) > 1:
            self._call.post("/runs/update", body)
        return self.info(run_id)

    def set_status(
        self, run_id: str, status: str, end_time: int | None = None, owner: Owner | None = None
    ) -> RunInfo:
        self._try_resend(run_id)  # a run that ends has every point on the server
        body: dict[str, Any] = {"run_id": run_id, "status": status}
        if end_time is not None:
            body["end_time"] = end_time
        doc = self._call.post("/runs/update", body)["run_info"]
        return convert.run_info(doc, self.read_tags(run_id))

    def set_lifecycle(self, run_id: str, stage: str) -> RunInfo:
        action = "/runs/delete" if stage == LifecycleStage.DELETED else "/runs/restore"
        self._call.post(action, {"run_id": run_id})
        return self.info(run_id)

    def purge(self, run_id: str) -> None:
        raise _refused("purging a run ('mlcli gc')")

    def log_params(self, run_id: str, params: dict[str, str]) -> None:
        self.log_batch(run_id, params=params)

    def set_tags(self, run_id: str, tags: dict[str, str | None]) -> None:
        kept = {k: v for k, v in tags.items() if v is not None}
        if kept:
            self.log_batch(run_id, tags=dict(kept))
        for key in (k for k, v in tags.items() if v is None):
            self._call.post("/runs/delete-tag", {"run_id": run_id, "key": to_mlflow(key)})

    def log_batch(
        self,
        run_id: str,
        *,
        params: dict[str, str] | None = None,
        tags: dict[str, str | None] | None = None,
        metrics: list[Metric] | None = None,
        batch_id: str | None = None,
    ) -> None:
        """One log-batch request per MLflow-sized slice (1,000 metrics, 100 params, 100
        tags); a batch within those limits is one request, seen whole or not at all.
        Each request is named (``batch_id``, else from its content, and uniquely when it
        sets tags, whose last value wins), so that a request whose answer was lost is sent
        again and written once."""
        param_items = list((params or {}).items())
        tag_items = [(k, v) for k, v in (tags or {}).items() if v is not None]
        metric_items = list(metrics or ())
        for key in (k for k, v in (tags or {}).items() if v is None):
            self._call.post("/runs/delete-tag", {"run_id": run_id, "key": to_mlflow(key)})
        part = 0
        while True:
            chunk_params, param_items = param_items[:BATCH_PARAMS], param_items[BATCH_PARAMS:]
            room = BATCH_METRICS - len(chunk_params)
            take = min(BATCH_TAGS, room)
            chunk_tags, tag_items = tag_items[:take], tag_items[take:]
            take = room - len(chunk_tags)
            chunk_metrics, metric_items = metric_items[:take], metric_items[take:]
            body = json.dumps(
                {
                    "run_id": run_id,
                    "params": convert.params_to(dict(chunk_params)),
                    "tags": convert.tags_to(dict(chunk_tags)),
                    "metrics": [convert.metric_to(m) for m in chunk_metrics],
                }
            ).encode()
            if batch_id:
                name = f"{batch_id}-{part}"
            elif chunk_tags:  # a tag set again (a, b, then a) is a new write, not a resend
                name = _content_id(run_id, body + os.urandom(16))
            else:
                name = _content_id(run_id, body)
            self._send_batch(body, name)
            part += 1
            if not (param_items or tag_items or metric_items):
                return

    def append_metrics(self, run_id: str, metrics: list[Metric]) -> None:
        self.log_batch(run_id, metrics=metrics)

    def append_metric_lines(self, run_id: str, data: bytes) -> None:
        """Buffered points (``metrics.jsonl`` lines, which are MLflow's metric objects
        already) sent as log-batch requests of 1,000 without decoding them.

        A request that fails after the first ones raises ``PartlyWritten`` with the
        number of lines before it, so that the caller keeps only the rest. One whose
        answer was lost (the server may have written it) is kept here, whole and under
        its name, and sent again before anything else of the run: the server writes a
        named batch once, and the points are neither lost nor doubled."""
        self._resend_in_doubt(run_id)
        lines = data.splitlines()
        if any(b'"batch":' in line for line in lines):  # batch markers: not plain points
            self.log_batch(run_id, metrics=decode_metric_log(data))
            return
        head = b'{"run_id":' + json.dumps(run_id).encode() + b',"metrics":['
        for start in range(0, len(lines), BATCH_METRICS):
            chunk = lines[start : start + BATCH_METRICS]
            body = head + b",".join(chunk) + b"]"
            name = _content_id(run_id, body)
            try:
                self._send_batch(body + b"}", name)
            except MlcliError as error:
                written = start
                if getattr(error, "maybe_applied", False):
                    with self._store._lock:
                        if not self._in_doubt:
                            atexit.register(self._resend_at_exit)
                        self._in_doubt.setdefault(run_id, []).append((name, body + b"}"))
                    written += len(chunk)
                if not written:
                    raise
                raise PartlyWritten(str(error), written) from error

    def resend_in_doubt(self) -> None:
        """Send again every batch whose answer was lost (when the store closes)."""
        with self._store._lock:
            runs = list(self._in_doubt)
        for run_id in runs:
            self._resend_in_doubt(run_id)

    def _resend_at_exit(self) -> None:
        try:
            self.resend_in_doubt()
        except MlcliError as error:
            _log.warning(
                "mlcli: metric points sent to %s could not be confirmed: %s", self._store.url, error
            )

    def _try_resend(self, run_id: str) -> None:
        """Send again what is in doubt for the run if it can be now; if not, it stays in
        doubt (and is sent again later, at the latest at exit), and the caller goes on."""
        if run_id not in self._in_doubt:
            return
        try:
            self._resend_in_doubt(run_id)
        except MlcliError as error:
            _log.warning("mlcli: could not write metrics yet (%s); will retry", error)

    def _resend_in_doubt(self, run_id: str) -> None:
        with self._store._lock:
            waiting = self._in_doubt.pop(run_id, [])
        while waiting:
            name, body = waiting[0]
            try:
                self._send_batch(body, name)
            except MlcliError:
                with self._store._lock:
                    self._in_doubt[run_id] = waiting + self._in_doubt.get(run_id, [])
                raise
            waiting.pop(0)

    def _send_batch(self, body: bytes, name: str) -> None:
        named = body[:-1] + b',"mlcli_batch_id":' + json.dumps(name).encode() + b"}"
        self._call.post("/runs/log-batch", named, idempotent=True)

    def read_params(self, run_id: str) -> dict[str, str]:
        return self._store.get_run(run_id).data.params

    def read_tags(self, run_id: str) -> dict[str, str]:
        return self._store.get_run(run_id).data.tags

    def read_latest_metrics(self, run_id: str) -> dict[str, Metric]:
        return self._store.get_run(run_id).data.latest_metrics

    def read_metric_history(self, run_id: str, key: str | None = None) -> list[Metric]:
        return list(self.iter_metric_history(run_id, key))

    def iter_metric_history(
        self, run_id: str, key: str | None = None, chunk_size: int = 25_000
    ) -> Iterator[Metric]:
        """The points of ``key`` (of every metric, key by key, for None) a page at a time."""
        keys: Iterable[str] = [key] if key is not None else sorted(self.read_latest_metrics(run_id))
        for name in keys:
            token: str | None = None
            while True:
                page = self._call.get(
                    "/metrics/get-history",
                    run_id=run_id,
                    metric_key=name,
                    max_results=chunk_size,
                    page_token=token,
                )
                for doc in page.get("metrics", []):
                    yield convert.metric(doc)
                token = page.get("next_page_token")
                if not token:
                    break


class ServerIndex:
    """Searches run on the server (``ServerStore.search_runs``): there is no local index."""

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


def _content_id(run_id: str, body: bytes) -> str:
    """A batch's name from what it holds: the same points sent again, the same name."""
    return hashlib.sha256(run_id.encode() + b"\0" + body).hexdigest()[:32]


def _id_order(experiment_id: str) -> tuple[int, int | str]:
    return (0, int(experiment_id)) if experiment_id.isdigit() else (1, experiment_id)


if TYPE_CHECKING:
    _conforms: TrackingStore = ServerStore("http://127.0.0.1")
