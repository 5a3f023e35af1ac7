"""The store facade: what every part of mlcli above the storage layer may ask of a store.

``TrackingStore`` is the one interface between mlcli and where its runs live. The local
file store (:class:`mlcli.store.store.Store`, a ``.mlruns`` directory) implements it
today; a store on object storage or a team server implements the same protocol, and
nothing above ``store/`` changes. It is grouped the way the data is:

    store.experiments    ExperimentRecords   create, get, list, rename, delete, ...
    store.runs           RunRecords          create, status, params, tags, metric logs
    store.artifacts(id)  Artifacts           a run's files
    store.logged_models  LoggedModelRecords  MLflow 3's logged models
    store.index          RunIndexView        the local SQLite cache that search reads
    store.get_run(...)   runs with their data, summaries per experiment

The index stays a local cache whatever the backend (DESIGN.md section 8.1): a backend
keeps it fresh from its own change journal, and ``mlcli.search`` compiles filters to
SQL over it. Search sits on top of this interface, never inside it. The one exception
is a team server (``SearchesOnServer``): it searches its own index with the same
compiler, and a client sends it the filter.

Conformance of the file store is checked by mypy (``store.py`` assigns a ``Store`` to a
``TrackingStore``).
"""

from __future__ import annotations

import builtins
import os
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from mlcli.store.entities import (
        DatasetInput,
        Experiment,
        FileInfo,
        Metric,
        ModelInput,
        Run,
        RunInfo,
        RunInputs,
    )
    from mlcli.store.logged_models import LoggedModel
    from mlcli.store.ownership import RunOwner
    from mlcli.store.upkeep import LeftOut


class ExperimentRecords(Protocol):
    def get(self, experiment_id: str) -> Experiment: ...
    def list(self, view: str = ...) -> list[Experiment]: ...
    def find_by_name(self, name: str, view: str = ...) -> Experiment | None: ...
    def resolve(self, ref: str, view: str = ...) -> Experiment: ...
    def ensure_default(self) -> None: ...
    def create(
        self,
        name: str,
        tags: dict[str, str] | None = None,
        *,
        creation_time: int | None = None,
        last_update_time: int | None = None,
    ) -> Experiment: ...
    def get_or_create(self, name: str) -> Experiment: ...
    def rename(self, experiment_id: str, new_name: str) -> Experiment: ...
    def delete(self, experiment_id: str) -> Experiment: ...
    def restore(self, experiment_id: str) -> Experiment: ...
    def set_tag(self, experiment_id: str, key: str, value: str) -> Experiment: ...
    def delete_tag(self, experiment_id: str, key: str) -> Experiment: ...
    def purge(self, experiment_id: str) -> None: ...
    def deleted_time(self, experiment_id: str) -> int | None: ...


class RunRecords(Protocol):
    def list_ids(self) -> list[str]: ...
    def exists(self, run_id: str) -> bool: ...
    def resolve(self, ref: str) -> str: ...
    def create(
        self,
        *,
        experiment_id: str,
        run_name: str,
        user_id: str,
        tags: dict[str, str],
        parent_run_id: str | None = None,
        start_time: int | None = None,
        status: str = ...,
        run_id: str | None = None,
        owner: RunOwner | None = None,
    ) -> RunInfo: ...
    def read_doc(self, run_id: str) -> dict[str, Any]: ...
    def info(self, run_id: str) -> RunInfo: ...
    def update(self, run_id: str, **changes: Any) -> RunInfo: ...
    def set_status(
        self, run_id: str, status: str, end_time: int | None = None, owner: RunOwner | None = None
    ) -> RunInfo: ...
    def set_lifecycle(self, run_id: str, stage: str) -> RunInfo: ...
    def purge(self, run_id: str) -> None: ...
    def log_params(self, run_id: str, params: dict[str, str]) -> None: ...
    def set_tags(self, run_id: str, tags: dict[str, str | None]) -> None: ...
    def log_batch(
        self,
        run_id: str,
        *,
        params: dict[str, str] | None = None,
        tags: dict[str, str | None] | None = None,
        metrics: list[Metric] | None = None,
        batch_id: str | None = None,
    ) -> None: ...
    def append_metrics(self, run_id: str, metrics: list[Metric]) -> None: ...
    def append_metric_lines(self, run_id: str, data: bytes) -> None:
        """Append encoded metric lines; may raise ``PartlyWritten`` when only the first
        lines were written (a store that writes in several requests)."""
        ...

    def log_inputs(
        self,
        run_id: str,
        datasets: list[DatasetInput] | None = None,
        models: list[ModelInput] | None = None,
    ) -> None: ...
    def read_inputs(self, run_id: str) -> RunInputs: ...
    def read_params(self, run_id: str) -> dict[str, str]: ...
    def read_tags(self, run_id: str) -> dict[str, str]: ...
    def read_latest_metrics(self, run_id: str) -> dict[str, Metric]: ...
    def read_metric_history(self, run_id: str, key: str | None = None) -> list[Metric]: ...
    def iter_metric_history(
        self, run_id: str, key: str | None = None, chunk_size: int = ...
    ) -> Iterator[Metric]: ...


class Artifacts(Protocol):
    """One run's artifacts. Paths are relative to the run's artifact root."""

    @property
    def root(self) -> Path:
        """The local directory of the run's artifacts (for a remote store, its cache)."""
        ...

    def log_file(
        self, local_path: str | os.PathLike[str], artifact_path: str | None = None
    ) -> str: ...
    def log_dir(
        self,
        local_dir: str | os.PathLike[str],
        artifact_path: str | None = None,
        progress: Any = None,
    ) -> list[str]: ...
    def write_bytes(self, artifact_file: str, data: bytes) -> str: ...
    def list(self, path: str | None = None) -> list[FileInfo]: ...
    def list_all(self) -> builtins.list[FileInfo]: ...  # `list` is a method here
    def download(self, path: str, destination: str | os.PathLike[str]) -> Path: ...
    def writable(self, relative: str) -> Path: ...
    def resolve(self, relative: str, must_exist: bool = True) -> Path: ...
    def publish(self, relative: str) -> None:
        """Make what the caller wrote at ``resolve(relative, must_exist=False)`` part of
        the store (a no-op where that path is the store's own; an upload for a server)."""
        ...


class LoggedModelRecords(Protocol):
    def create(
        self,
        *,
        run_id: str,
        experiment_id: str,
        name: str,
        model_type: str | None = None,
        tags: dict[str, str] | None = None,
        params: dict[str, str] | None = None,
        model_id: str | None = None,
        status: str = ...,
        creation_timestamp: int | None = None,
    ) -> LoggedModel: ...
    def get(self, model_id: str) -> LoggedModel: ...
    def of_run(self, run_id: str) -> list[LoggedModel]: ...
    def update(self, model_id: str, **changes: Any) -> LoggedModel: ...
    def find_run(self, model_id: str) -> str | None: ...


class RunIndexView(Protocol):
    """The index over a store's runs, as search reads it: a local SQLite cache, or a
    team store's tables in PostgreSQL (``sql_dialect`` says which SQL ``query`` takes)."""

    sql_dialect: str  # "sqlite" or "postgresql"

    def refresh(self) -> Any: ...
    def refresh_runs(self, run_ids: Iterable[str]) -> None: ...
    def query(self, sql: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]: ...


@runtime_checkable
class SearchesOnServer(Protocol):
    """A store whose searches run where it lives (a team server): ``mlcli.search``
    hands it the filter instead of querying a local index."""

    def search_runs(
        self,
        experiment_ids: Sequence[str] | None = None,
        filter_string: str | None = None,
        order_by: Sequence[str] | None = None,
        max_results: int | None = None,
        view: str = ...,
        offset: int = 0,
    ) -> list[Run]: ...
    def count_matching_runs(
        self,
        experiment_ids: Sequence[str] | None = None,
        filter_string: str | None = None,
        view: str = ...,
    ) -> int: ...


class TrackingStore(Protocol):
    """A store of experiments, runs, artifacts and logged models (see the module doc)."""

    @property
    def location(self) -> str:
        """What names this store to another process (``--store``/``MLCLI_STORE``)."""
        ...

    @property
    def root(self) -> Path:
        """The local directory that holds the store (or its local cache)."""
        ...

    @property
    def experiments(self) -> ExperimentRecords: ...
    @property
    def runs(self) -> RunRecords: ...
    @property
    def logged_models(self) -> LoggedModelRecords: ...
    @property
    def index(self) -> RunIndexView: ...

    def artifacts(self, run_id: str) -> Artifacts: ...
    def get_run(self, run_id: str) -> Run: ...
    def get_runs(self, run_ids: Sequence[str]) -> dict[str, Run]: ...
    def runs_by_id(self, run_ids: Sequence[str]) -> list[Run]: ...
    def run_ids_of_experiments(self, experiment_ids: Sequence[str]) -> list[str]: ...
    def count_runs(self) -> dict[str, int]: ...
    def experiment_activity(self) -> dict[str, tuple[int, int | None]]: ...
    def run_keys(self, experiment_ids: Sequence[str]) -> dict[str, list[str]]: ...
    def left_out(self) -> list[LeftOut]: ...
    def close(self) -> None: ...
