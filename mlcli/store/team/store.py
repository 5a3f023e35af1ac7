"""``TeamStore``: the ``TrackingStore`` facade over PostgreSQL and a bucket (see the
package doc), and the searches that run on its index in PostgreSQL."""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import json
import os
import threading
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlcli.clock import now_ms
from mlcli.errors import NotFoundError, StoreError
from mlcli.store.entities import LifecycleStage, Metric, Run, RunData, RunStatus
from mlcli.store.runs import run_info_from_doc
from mlcli.store.sync import keys
from mlcli.store.team import schema
from mlcli.store.team.database import Database
from mlcli.store.team.experiments import TeamExperiments
from mlcli.store.team.flush import Flusher, SegmentCache
from mlcli.store.team.orphans import OrphanSweeper
from mlcli.store.team.runs import TeamRuns

if TYPE_CHECKING:
    from mlcli.objects.base import ObjectStore
    from mlcli.store.backend import TrackingStore
    from mlcli.store.upkeep import LeftOut

_journal_sequence = itertools.count()


class TeamStore:
    """The store in the bucket ``objects`` with its index in ``database``."""

    def __init__(self, objects: ObjectStore, database: Database) -> None:
        self.objects = objects
        self.database = database
        _claim(objects)
        self.writer = schema.ensure(database, objects.url)
        # every server process journals under a name of its own: one key, one writer
        self._journal_name = self.writer + uuid.uuid4().hex[:8]
        self.experiments = TeamExperiments(self)
        self.runs = TeamRuns(self)
        self.index = TeamIndex(self)
        self.segments = SegmentCache(self)
        self.flusher = Flusher(self)
        self.orphans = OrphanSweeper(self)
        self._logged_models: Any = None
        self._cache_root: Path | None = None
        self._lock = threading.Lock()
        self.experiments.ensure_default()

    @classmethod
    def open(cls, store_url: str, index_url: str) -> TeamStore:
        from mlcli.objects import open_objects

        return cls(open_objects(store_url), Database(index_url))

    # -- the facade --------------------------------------------------------------------------

    @property
    def location(self) -> str:
        return self.objects.url

    @property
    def root(self) -> Path:
        """A private local cache (artifacts opened as files): never the store's state."""
        with self._lock:
            if self._cache_root is None:
                from mlcli.store.rest.cache import private_cache

                base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
                digest = hashlib.sha256(self.objects.url.encode()).hexdigest()[:16]
                root = Path(base).expanduser() / "mlcli" / "team" / digest
                private_cache(root)
                self._cache_root = root
            return self._cache_root

    @property
    def logged_models(self) -> Any:
        with self._lock:
            if self._logged_models is None:
                from mlcli.store.team.logged_models import TeamLoggedModels

                self._logged_models = TeamLoggedModels(self.database, self.objects)
            return self._logged_models

    def artifacts(self, run_id: str) -> Any:
        from mlcli.store.team.artifacts import TeamArtifacts
        from mlcli.store.team.runs import mark_dirty

        self.runs.read_doc(run_id)  # NotFoundError

        def written() -> None:  # the next flush lists the file in the run's manifest
            self.database.run(lambda connection: mark_dirty(connection, run_id))

        return TeamArtifacts(self.objects, run_id, self.root / "artifacts", on_write=written)

    def artifact_uri(self, run_id: str) -> str:
        return f"{self.objects.url.rstrip('/')}/{keys.run_artifact_key(run_id, '').rstrip('/')}"

    def get_run(self, run_id: str) -> Run:
        self.index.refresh_runs([run_id])  # a live run whose owner is gone ends first
        runs = self.runs_by_id([run_id])
        if not runs:
            self.runs.read_doc(run_id)  # NotFoundError
            raise StoreError(f"run {run_id} vanished while it was read")
        return replace(runs[0], inputs=self.runs.read_inputs(run_id))

    def get_runs(self, run_ids: Sequence[str]) -> dict[str, Run]:
        ids = list(dict.fromkeys(run_ids))
        self.index.refresh_runs(ids)
        runs = {}
        for run in self.runs_by_id(ids):
            with contextlib.suppress(NotFoundError):  # purged meanwhile
                runs[run.info.run_id] = replace(run, inputs=self.runs.read_inputs(run.run_id))
        return runs

    def runs_by_id(self, run_ids: Sequence[str]) -> list[Run]:
        """Runs with their data, in the order given; unknown ids are left out."""
        ids = list(run_ids)
        if not ids:
            return []

        def work(connection: Any) -> tuple[list[Any], list[Any], list[Any]]:
            connection.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            docs = connection.execute(
                "SELECT r.run_id, r.doc, e.name FROM runs r LEFT JOIN experiments e "
                "USING (experiment_id) WHERE r.run_id = ANY(%s)",
                (ids,),
            ).fetchall()
            values = connection.execute(
                "SELECT 'p', run_id, key, value FROM params WHERE run_id = ANY(%s) UNION ALL "
                "SELECT 't', run_id, key, value FROM tags WHERE run_id = ANY(%s)",
                (ids, ids),
            ).fetchall()
            metrics = connection.execute(
                "SELECT run_id, key, value, is_nan, step, timestamp FROM latest_metrics "
                "WHERE run_id = ANY(%s)",
                (ids,),
            ).fetchall()
            return docs, values, metrics

        docs, values, metric_rows = self.database.run(work)
        data = {run_id: RunData() for run_id, _, _ in docs}
        for kind, run_id, key, value in values:
            target = data[run_id].params if kind == "p" else data[run_id].tags
            target[key] = value
        for run_id, latest in _latest(metric_rows).items():
            data[run_id].latest_metrics.update(latest)
        runs = {
            run_id: Run(
                info=run_info_from_doc(dict(doc), self.artifact_uri(run_id)),
                data=data[run_id],
                experiment_name=name,
            )
            for run_id, doc, name in docs
        }
        return [runs[r] for r in ids if r in runs]

    def latest_metrics(self, run_ids: Sequence[str]) -> dict[str, dict[str, Metric]]:
        rows = self.database.query(
            "SELECT run_id, key, value, is_nan, step, timestamp FROM latest_metrics "
            "WHERE run_id = ANY(%s)",
            (list(run_ids),),
        )
        return _latest(rows)

    def run_ids_of_experiments(self, experiment_ids: Sequence[str]) -> list[str]:
        rows = self.database.query(
            "SELECT run_id FROM runs WHERE experiment_id = ANY(%s)", (list(experiment_ids),)
        )
        return [row[0] for row in rows]

    def count_runs(self) -> dict[str, int]:
        return {key: count for key, (count, _) in self.experiment_activity().items()}

    def experiment_activity(self) -> dict[str, tuple[int, int | None]]:
        activity: dict[str, tuple[int, int | None]] = {
            experiment_id: (int(count), last)
            for experiment_id, count, last in self.database.query(
                "SELECT experiment_id, count(*), max(greatest(start_time, coalesce(end_time, 0))) "
                "FROM runs WHERE lifecycle_stage = %s GROUP BY experiment_id",
                (LifecycleStage.ACTIVE,),
            )
        }
        for experiment_id, last in self.database.query(
            "SELECT r.experiment_id, max(m.timestamp) FROM runs r JOIN latest_metrics m "
            "USING (run_id) WHERE r.lifecycle_stage = %s AND r.status = ANY(%s) "
            "GROUP BY r.experiment_id",
            (LifecycleStage.ACTIVE, sorted(RunStatus.LIVE)),
        ):
            count, previous = activity.get(experiment_id, (0, None))
            activity[experiment_id] = (count, max(previous or 0, last or 0) or None)
        return activity

    def run_keys(self, experiment_ids: Sequence[str]) -> dict[str, list[str]]:
        scope = "SELECT run_id FROM runs WHERE experiment_id = ANY(%s) AND lifecycle_stage = %s"
        args = (list(experiment_ids), LifecycleStage.ACTIVE)
        return {
            kind: [
                row[0]
                for row in self.database.query(
                    f"SELECT DISTINCT key FROM {table} WHERE run_id IN ({scope}) "
                    'ORDER BY key COLLATE "C"',
                    args,
                )
            ]
            for kind, table in (
                ("params", "params"),
                ("metrics", "latest_metrics"),
                ("tags", "tags"),
            )
        }

    def left_out(self) -> list[LeftOut]:
        return []  # rows in PostgreSQL are never half written

    def close(self) -> None:
        """Flush what is buffered (graceful shutdown), then let go of PostgreSQL."""
        self.flusher.close()
        self.database.close()

    # -- the bucket's journal -----------------------------------------------------------------

    def journal(
        self, runs: Iterable[str] = (), experiments: Iterable[str] = (), models: Iterable[str] = ()
    ) -> None:
        """Name what changed in the bucket's journal, so that ``mlcli pull`` finds it."""
        entry = {"runs": sorted(runs), "experiments": sorted(experiments), "models": sorted(models)}
        key = keys.journal_key(now_ms(), self._journal_name, next(_journal_sequence) % 1_000_000)
        self.objects.put(key, json.dumps(entry, sort_keys=True).encode())


def _claim(objects: ObjectStore) -> None:
    """Mark the bucket as served (``mlcli push`` then refuses to write into it: its runs
    would not be in the servers' index); refuse a bucket that already holds a pushed
    store, whose runs are not in the index either."""
    marker = {"format": keys.FORMAT, "kind": "mlcli-remote", keys.SERVED: True}
    if objects.create(keys.FORMAT_KEY, json.dumps(marker).encode()) is not None:
        return
    found = objects.get_if_present(keys.FORMAT_KEY)
    try:
        held = json.loads(found[0]) if found else {}
        version = int(held.get("format", 0))
    except (ValueError, AttributeError):
        raise StoreError(f"{objects.url}: {keys.FORMAT_KEY} is damaged") from None
    if version > keys.FORMAT:
        raise StoreError(
            f"{objects.url} has remote format {version}, newer than this mlcli reads "
            f"({keys.FORMAT}); upgrade mlcli"
        )
    if not held.get(keys.SERVED):
        raise StoreError(
            f"{objects.url} already holds a store sent with 'mlcli push': serve a bucket or "
            "prefix of its own, and log to the server (its URL) from then on"
        )


def _latest(rows: Iterable[tuple[Any, ...]]) -> dict[str, dict[str, Metric]]:
    found: dict[str, dict[str, Metric]] = {}
    for run_id, key, value, is_nan, step, timestamp in rows:
        number = float("nan") if is_nan else float(value or 0.0)
        found.setdefault(run_id, {})[key] = Metric(key, number, int(step), int(timestamp))
    return found


class TeamIndex:
    """The index is PostgreSQL's tables, written with each change: a refresh only ends
    the live runs whose owner is gone (``orphans.py``), as a local store's does.
    ``mlcli.search`` compiles its queries for PostgreSQL (``sql_dialect``)."""

    sql_dialect = "postgresql"

    def __init__(self, store: TeamStore) -> None:
        self._store = store

    def refresh(self) -> None:
        self._store.orphans.sweep()

    def refresh_runs(self, run_ids: Iterable[str]) -> None:
        self._store.orphans.sweep(list(run_ids))

    def query(self, sql: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return self._store.database.query(sql, list(args))


if TYPE_CHECKING:

    def _conforms(store: TeamStore) -> TrackingStore:
        return store
