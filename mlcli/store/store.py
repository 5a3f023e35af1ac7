"""One ``.mlruns`` store: experiment and run files, artifacts, and the index over them."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlcli.errors import InvalidInputError, MlcliError, NotFoundError, StoreError
from mlcli.files.fileio import write_bytes_atomic
from mlcli.store.artifacts import ArtifactRepository
from mlcli.store.entities import (
    LifecycleStage,
    Run,
    RunData,
    RunStatus,
)
from mlcli.store.experiments import ExperimentFiles
from mlcli.store.index import RunIndex
from mlcli.store.layout import ARTIFACTS_DIR, FORMAT_VERSION, StoreLayout
from mlcli.store.locate import (
    StoreAnnouncer,
    default_store_root,
    ensure_gitignored,
    find_store_root,
    named_store,
)
from mlcli.store.logged_models import LoggedModelFiles
from mlcli.store.runs import RunFiles, run_info_from_doc

if TYPE_CHECKING:
    from mlcli.store.backend import TrackingStore
    from mlcli.store.upkeep import LeftOut


class Store:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.layout = StoreLayout(root)
        self.experiments = ExperimentFiles(self.layout)
        self.runs = RunFiles(self.layout)
        self.logged_models = LoggedModelFiles(self.layout)
        self._index: RunIndex | None = None
        #: Given to the index when it opens: told (runs read, runs to read) while a
        #: query reads many runs new to it (``mlcli`` draws a progress bar with it).
        self.index_progress: Callable[[int, int], None] | None = None
        self._runs_uri: str | None = None

    # -- opening ----------------------------------------------------------------------------

    @classmethod
    def open(cls, root: Path) -> Store:
        """An existing store; StoreError when ``root`` holds none or a newer format."""
        version_file = StoreLayout(root).version_file
        try:
            text = version_file.read_text().strip()
        except (FileNotFoundError, NotADirectoryError):
            raise StoreError(
                f"no mlcli store at {root} (run 'mlcli init', or set MLCLI_STORE)"
            ) from None
        if not text.isdigit():
            raise StoreError(f"{version_file} is damaged: expected a format number")
        if int(text) > FORMAT_VERSION:
            raise StoreError(
                f"the store at {root} has format {text}, newer than this mlcli reads "
                f"({FORMAT_VERSION}); upgrade mlcli"
            )
        return cls(root)

    @classmethod
    def initialize(cls, root: Path) -> tuple[Store, bool]:
        """Create the store at ``root`` if needed; returns it and whether it was created.
        Safe when several processes do it at once."""
        layout = StoreLayout(root)
        created = not layout.version_file.is_file()
        root.mkdir(parents=True, exist_ok=True)
        layout.runs_dir.mkdir(exist_ok=True)
        layout.experiments_dir.mkdir(exist_ok=True)
        store = cls(root)
        store.experiments.ensure_default()
        if created:
            write_bytes_atomic(layout.version_file, f"{FORMAT_VERSION}\n".encode())
        return cls.open(root), created

    # -- parts ------------------------------------------------------------------------------

    @property
    def location(self) -> str:
        return str(self.root)

    @property
    def index(self) -> RunIndex:
        if self._index is None:
            self._index = RunIndex.open(self.layout)
            self._index.progress = self.index_progress
        return self._index

    def artifacts(self, run_id: str) -> ArtifactRepository:
        """A run's artifacts; a write through it notes the run in the change journal,
        so that ``mlcli push`` finds artifacts added to a finished run."""
        return ArtifactRepository(
            self.layout.artifacts_dir(run_id), lambda: self.runs.journal.note(run_id)
        )

    def close(self) -> None:
        if self._index is not None:
            self._index.close()
            self._index = None

    # -- reading runs -----------------------------------------------------------------------

    def get_run(self, run_id: str) -> Run:
        """A run with its params, tags and latest metrics (from the refreshed index)."""
        self.runs.info(run_id)  # raises NotFoundError
        self.index.refresh_runs([run_id])
        runs = self.runs_by_id([run_id])
        if not runs:  # the index could not read it: fall back to the files themselves
            return self._run_from_files(run_id)
        return replace(runs[0], inputs=self.runs.read_inputs(run_id))

    def get_runs(self, run_ids: Sequence[str]) -> dict[str, Run]:
        """:meth:`get_run` for many runs at once: one refresh and one index query, not one
        per run. Ids that name no run (or a run that cannot be read) are left out."""
        present = []
        for run_id in dict.fromkeys(run_ids):
            try:
                self.runs.info(run_id)
            except MlcliError:
                continue
            present.append(run_id)
        self.index.refresh_runs(present)
        runs = {
            run.info.run_id: replace(run, inputs=self.runs.read_inputs(run.info.run_id))
            for run in self.runs_by_id(present)
        }
        for run_id in (r for r in present if r not in runs):  # as get_run: from the files
            try:
                runs[run_id] = self._run_from_files(run_id)
            except MlcliError:
                continue
        return runs

    def left_out(self) -> list[LeftOut]:
        """The experiments, then the runs, that listings leave out: damaged documents."""
        from mlcli.store.upkeep import left_out

        return left_out(self)

    def runs_by_id(self, run_ids: Sequence[str]) -> list[Run]:
        """Runs from the index, in the order given; ids the index lacks are left out."""
        rows = self.index.run_rows(run_ids)
        return [self._run_from_row(rows[r]) for r in run_ids if r in rows]

    def run_ids_of_experiments(self, experiment_ids: Sequence[str]) -> list[str]:
        """The ids of every run (any lifecycle stage) of these experiments."""
        self.index.refresh()
        marks = ",".join("?" * len(experiment_ids)) or "NULL"
        rows = self.index.query(
            f"SELECT run_id FROM runs WHERE experiment_id IN ({marks})", list(experiment_ids)
        )
        return [row[0] for row in rows]

    def count_runs(self) -> dict[str, int]:
        """Active runs per experiment id."""
        self.index.refresh()
        return dict(
            self.index.query(
                "SELECT experiment_id, count(*) FROM runs WHERE lifecycle_stage = ? "
                "GROUP BY experiment_id",
                [LifecycleStage.ACTIVE],
            )
        )

    def experiment_activity(self) -> dict[str, tuple[int, int | None]]:
        """(active runs, last activity in ms) per experiment id: the latest start or end
        of a run, or metric logged by a live run."""
        self.index.refresh()
        activity: dict[str, tuple[int, int | None]] = {
            experiment_id: (count, last)
            for experiment_id, count, last in self.index.query(
                "SELECT experiment_id, count(*), max(max(start_time, coalesce(end_time, 0))) "
                "FROM runs WHERE lifecycle_stage = ? GROUP BY experiment_id",
                [LifecycleStage.ACTIVE],
            )
        }
        for experiment_id, last in self.index.query(
            "SELECT r.experiment_id, max(m.timestamp) FROM runs r JOIN latest_metrics m "
            "USING (run_id) WHERE r.lifecycle_stage = ? AND r.status IN (?, ?) "
            "GROUP BY r.experiment_id",
            [LifecycleStage.ACTIVE, *sorted(RunStatus.LIVE)],
        ):
            count, previous = activity.get(experiment_id, (0, None))
            activity[experiment_id] = (count, max(previous or 0, last or 0) or None)
        return activity

    def run_keys(self, experiment_ids: Sequence[str]) -> dict[str, list[str]]:
        """The param, metric and tag keys that active runs of these experiments have."""
        self.index.refresh()
        marks = ",".join("?" * len(experiment_ids)) or "NULL"
        scope = f"SELECT run_id FROM runs WHERE experiment_id IN ({marks}) AND lifecycle_stage = ?"
        args = [*experiment_ids, LifecycleStage.ACTIVE]
        return {
            kind: [
                row[0]
                for row in self.index.query(
                    f"SELECT DISTINCT key FROM {table} WHERE run_id IN ({scope}) ORDER BY key",
                    args,
                )
            ]
            for kind, table in (
                ("params", "params"),
                ("metrics", "latest_metrics"),
                ("tags", "tags"),
            )
        }

    def _run_from_row(self, row: dict[str, Any]) -> Run:
        run_id = row["run_id"]
        if not (run_id.isascii() and run_id.isalnum()):  # a name that may need %-encoding
            uri = self.layout.artifacts_dir(run_id).as_uri()
        else:  # as_uri() per run costs more than the rest of building the run
            if self._runs_uri is None:
                self._runs_uri = self.layout.runs_dir.as_uri()
            uri = f"{self._runs_uri}/{run_id}/{ARTIFACTS_DIR}"
        info = run_info_from_doc(row, uri)
        data = RunData(params=row["params"], latest_metrics=row["metrics"], tags=row["tags"])
        return Run(info=info, data=data, experiment_name=row["experiment_name"])

    def _run_from_files(self, run_id: str) -> Run:
        info = self.runs.info(run_id)
        data = RunData(
            params=self.runs.read_params(run_id),
            latest_metrics=self.runs.read_latest_metrics(run_id),
            tags=self.runs.read_tags(run_id),
        )
        try:
            name: str | None = self.experiments.get(info.experiment_id).name
        except NotFoundError:
            name = None
        inputs = self.runs.read_inputs(run_id)
        return Run(info=info, data=data, experiment_name=name, inputs=inputs)


def open_store(
    explicit: str | os.PathLike[str] | None = None,
    *,
    create: bool = False,
    cwd: Path | None = None,
    announce: StoreAnnouncer | None = None,
) -> TrackingStore:
    """The store the user means. With ``create``, a missing store is created (and
    ``announce`` told where, once); without, a missing store is a StoreError. A
    remote (``s3://...``, a remote's name) is opened as a local mirror of it; a team
    server (``http(s)://...``) through its REST API."""
    named = explicit or named_store()
    if named and str(named).startswith(("http://", "https://")):
        from mlcli.store.rest.store import ServerStore

        return ServerStore.open_url(str(named))
    if named:
        from mlcli.store.mirror import MirrorStore, remote_url

        url = remote_url(str(named), cwd)
        if url is not None:
            return MirrorStore.open_url(url)
    root = find_store_root(explicit, cwd)
    if root is not None and (root / "VERSION").is_file():
        return Store.open(root)
    if not create:
        where = root or (cwd or Path.cwd()).resolve()
        raise StoreError(
            f"no mlcli store found at {where} or any parent directory "
            "(run 'mlcli init' here, or set MLCLI_STORE)"
        )
    root = root or default_store_root(cwd)
    store, created = Store.initialize(root)
    if created:
        ensure_gitignored(root)
        if announce is not None:
            announce(root)
    return store


def file_store(store: TrackingStore, command: str) -> Store:
    """``store`` as the local file store, for the commands that work on the files
    themselves (``mlcli gc``, ``fsck``, ``index rebuild``); InvalidInputError for any
    other kind of store."""
    if isinstance(store, Store):
        return store
    where = store.location
    if where.startswith(("http://", "https://")):
        raise InvalidInputError(
            f"'{command}' works on a store directory; {where} is a team server: "
            "run it on the server's host"
        )
    raise InvalidInputError(f"'{command}' works on a store directory; {where} is not one")


if TYPE_CHECKING:  # mypy checks that the file store implements the facade
    _FILE_STORE_CONFORMS: type[TrackingStore] = Store
