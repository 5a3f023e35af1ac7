"""``TrackingClient``: every tracking operation, explicitly by run id.

The fluent API (``mlcli.log_metric`` and friends), the CLI and the servers all go
through this class; it validates input at the edge and leaves storage to the store.
"""

from __future__ import annotations

import json
import os
import posixpath
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from mlcli import system_tags
from mlcli.clock import now_ms
from mlcli.errors import ConflictError, InvalidInputError, NotFoundError
from mlcli.store import (
    DEFAULT_EXPERIMENT_ID,
    MAX_BATCH_ITEMS,
    MAX_INT64,
    Artifacts,
    Experiment,
    FileInfo,
    LifecycleStage,
    Metric,
    Run,
    RunData,
    RunOwner,
    RunStatus,
    StoreAnnouncer,
    TrackingStore,
    ViewType,
    open_store,
    validate_key,
    validate_metric_value,
    validate_param_value,
    validate_run_name,
    validate_step,
    validate_tag_value,
    validate_timestamp,
)
from mlcli.tracking.background import background_work
from mlcli.tracking.context import current_user
from mlcli.tracking.names import generate_run_name

_FULL_RUN_ID = re.compile(r"[0-9a-f]{32}")

MetricLike = Metric | tuple[str, Any] | tuple[str, Any, Any] | tuple[str, Any, Any, Any]


class TrackingClient:
    """Tracking operations on one store.

    ``store`` is a path to a ``.mlruns`` directory, a store (a :class:`TrackingStore`,
    such as the file store ``Store``), or None to find
    the store like git finds ``.git`` (``MLCLI_STORE``, then the nearest ``.mlruns``),
    creating one on the first write if there is none.
    """

    def __init__(
        self,
        store: str | os.PathLike[str] | TrackingStore | None = None,
        registry_uri: str | None = None,
        *,
        tracking_uri: str | None = None,
        announce: StoreAnnouncer | None = None,
        index_progress: Callable[[int, int], None] | None = None,
    ) -> None:
        """``index_progress``: told (runs read, runs to read) while a query reads many
        runs new to a local store's index (the command line draws a progress bar).

        MLflow's ``MlflowClient(tracking_uri, registry_uri)`` works too: a tracking URI
        means what it means to ``set_tracking_uri`` (``file:`` is the folder it names;
        a database is a StoreError); the registry lives in the store, so a
        ``registry_uri`` other than the tracking URI is an InvalidInputError."""
        mlflow_meaning = tracking_uri is not None
        if tracking_uri is not None:
            if store is not None and str(store) != tracking_uri:
                raise InvalidInputError("give store or tracking_uri, not both")
            store = tracking_uri
        if registry_uri is not None and (store is None or registry_uri != str(store)):
            raise InvalidInputError(
                f"registry_uri {registry_uri!r}: mlcli keeps the registry in the tracking "
                "store; give the store alone"
            )
        # A file: URI given as mlcli's store (--store, MLCLI_STORE) is a remote in the
        # remote layout (docs/remotes.md); as MLflow's tracking URI, the folder it names.
        mlcli_remote = not mlflow_meaning and str(store).lower().startswith("file:")
        if isinstance(store, str) and ":" in store and not mlcli_remote:
            from mlcli.store import store_of_mlflow_uri

            store = store_of_mlflow_uri(
                store,
                said=f"tracking URI {store!r}",
                fix="give a folder for mlcli's store, s3://bucket/prefix or a server's http(s)://",
            )
        self._index_progress = index_progress
        self._store: TrackingStore | None = None
        self._location: str | os.PathLike[str] | None = None
        if store is None or isinstance(store, (str, os.PathLike)):
            self._location = store
        else:
            self._store = store
        self._announce = announce

    # -- the store ---------------------------------------------------------------------------

    @property
    def store(self) -> TrackingStore:
        """The store, which must exist already (for reads)."""
        if self._store is None:
            self._store = self._opened(open_store(self._location))
        return self._store

    def writable_store(self) -> TrackingStore:
        """The store, created first if there is none (for writes)."""
        if self._store is None:
            store = open_store(self._location, create=True, announce=self._announce)
            self._store = self._opened(store)
        return self._store

    def _opened(self, store: TrackingStore) -> TrackingStore:
        if self._index_progress is not None and hasattr(store, "index_progress"):
            store.index_progress = self._index_progress  # a local store's index
        return store

    # -- experiments -------------------------------------------------------------------------

    def create_experiment(
        self,
        name: str,
        artifact_location: str | Mapping[str, str] | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> str:
        """A new experiment's id, as MLflow's ``create_experiment(name,
        artifact_location, tags)``. A run's artifacts live in the store with the run, so
        an ``artifact_location`` is refused (InvalidInputError), never ignored. mlcli's
        older ``create_experiment(name, tags)`` (a mapping second) still works."""
        if isinstance(artifact_location, Mapping) and tags is None:
            artifact_location, tags = None, artifact_location
        if artifact_location:
            raise InvalidInputError(
                f"create_experiment: artifact_location {artifact_location!r} is not "
                "supported: mlcli keeps a run's artifacts in its store (choose the store "
                "with set_tracking_uri or MLCLI_STORE)"
            )
        clean = {str(k): str(v) for k, v in (tags or {}).items()}
        store = self.writable_store()
        return store.experiments.create(name, system_tags.tags_to_store(clean)).experiment_id

    def get_experiment(self, experiment_id: str) -> Experiment:
        return self.store.experiments.get(str(experiment_id))

    def get_experiment_by_name(self, name: str) -> Experiment | None:
        return self.store.experiments.find_by_name(name)

    def resolve_experiment(self, ref: str, view: str = ViewType.ACTIVE_ONLY) -> Experiment:
        """An experiment by name, or else by id."""
        return self.store.experiments.resolve(ref, view)

    def search_experiments(
        self,
        view_type: Any = ViewType.ACTIVE_ONLY,
        max_results: int | None = None,
        filter_string: str | None = None,
        order_by: Sequence[str] | None = None,
        page_token: str | None = None,
    ) -> list[Experiment]:
        """The experiments (active ones unless ``view_type`` says otherwise), as
        MLflow's ``search_experiments``: ``filter_string`` on ``name``,
        ``creation_time``, ``last_update_time`` and ``tags.<key>``; ``order_by``
        clauses such as ``"name ASC"`` (default: as stored, by id; the fluent
        ``mlcli.search_experiments`` orders them as MLflow does, newest first);
        ``max_results`` and ``page_token`` page through them (the result's ``token``
        names the next page, None on the last)."""
        from mlcli.search.entity_filter import EntityFilter, Record, sort_records

        view = view_type_of(view_type)
        condition = EntityFilter(filter_string, _EXPERIMENT_ATTRIBUTES, what="experiment filter")
        found = [
            e
            for e in self.store.experiments.list(view)
            if condition.matches(
                Record(
                    {
                        "name": e.name,
                        "creation_time": e.creation_time,
                        "last_update_time": e.last_update_time,
                    },
                    e.tags,
                )
            )
        ]
        if order_by:
            found = sort_records(
                found,
                list(order_by),
                {
                    "name": lambda e: e.name,
                    "experiment_id": lambda e: (len(e.experiment_id), e.experiment_id),
                    "creation_time": lambda e: e.creation_time,
                    "last_update_time": lambda e: e.last_update_time,
                },
                default=(),
            )
        return paged(found, max_results, page_token)

    def rename_experiment(self, experiment_id: str, new_name: str) -> Experiment:
        return self.store.experiments.rename(str(experiment_id), new_name)

    def delete_experiment(self, experiment_id: str) -> Experiment:
        """Delete the experiment and, as MLflow does, mark its active runs deleted (they
        leave searches of active runs; ``mlcli gc`` purges them with it). Each run's
        ``deleted_time`` is the experiment's, which is how a restore knows them."""
        store = self.store
        experiment = store.experiments.delete(str(experiment_id))
        if not _on_a_server(store):  # a server marks its runs itself
            deleted_time = store.experiments.deleted_time(experiment.experiment_id) or now_ms()
            for run_id in store.run_ids_of_experiments([experiment.experiment_id]):
                if store.runs.info(run_id).lifecycle_stage == LifecycleStage.ACTIVE:
                    store.runs.update(
                        run_id, lifecycle_stage=LifecycleStage.DELETED, deleted_time=deleted_time
                    )
        return experiment

    def restore_experiment(self, experiment_id: str) -> Experiment:
        """Restore the experiment and the runs its deletion marked; a run deleted on its
        own before that stays deleted (MLflow restores every deleted run)."""
        store = self.store
        deleted_time = store.experiments.deleted_time(str(experiment_id))
        experiment = store.experiments.restore(str(experiment_id))
        if not _on_a_server(store) and deleted_time is not None:
            for run_id in store.run_ids_of_experiments([experiment.experiment_id]):
                info = store.runs.info(run_id)
                if info.lifecycle_stage == LifecycleStage.DELETED and (
                    info.deleted_time == deleted_time
                ):
                    store.runs.update(
                        run_id, lifecycle_stage=LifecycleStage.ACTIVE, deleted_time=None
                    )
        return experiment

    def set_experiment_tag(self, experiment_id: str, key: str, value: str) -> Experiment:
        return self.store.experiments.set_tag(str(experiment_id), system_tags.to_store(key), value)

    def delete_experiment_tag(self, experiment_id: str, key: str) -> Experiment:
        """Remove a tag of an active experiment (NotFoundError when it has none)."""
        return self.store.experiments.delete_tag(str(experiment_id), system_tags.to_store(key))

    def get_or_create_experiment(self, name: str) -> Experiment:
        return self.writable_store().experiments.get_or_create(name)

    # -- runs --------------------------------------------------------------------------------

    def create_run(
        self,
        experiment_id: str | None = None,
        start_time: int | None = None,
        tags: Mapping[str, Any] | None = None,
        run_name: str | None = None,
        parent_run_id: str | None = None,
        *,
        user_id: str | None = None,
        run_id: str | None = None,
        owner: RunOwner | None = None,
        status: str = RunStatus.RUNNING,
    ) -> Run:
        """A new run, RUNNING (or SCHEDULED: a job a scheduler will start); the
        arguments in MLflow's order (``experiment_id, start_time, tags, run_name``).
        ``user_id``
        defaults to this process's user (a server passes its client's); ``run_id``
        keeps a given id (an import's); ``owner`` is the process or job that will end
        it, if one does (``mlcli.store.ownership``)."""
        if status not in RunStatus.LIVE:
            raise InvalidInputError(f"a new run is RUNNING or SCHEDULED, not {status!r}")
        store = self.writable_store()
        experiment = store.experiments.get(str(experiment_id or DEFAULT_EXPERIMENT_ID))
        if experiment.lifecycle_stage != LifecycleStage.ACTIVE:
            raise InvalidInputError(
                f"experiment {experiment.name!r} is deleted; restore it before adding runs"
            )
        clean_tags = _validated_tags(tags or {})
        name = run_name or clean_tags.get(system_tags.RUN_NAME) or generate_run_name()
        validate_run_name(name)
        parent_run_id = parent_run_id or clean_tags.get(system_tags.PARENT_RUN_ID) or None
        if parent_run_id is not None:
            parent_run_id = store.runs.resolve(parent_run_id)
        info = store.runs.create(
            experiment_id=experiment.experiment_id,
            run_name=name,
            user_id=user_id or current_user(),
            tags=clean_tags,
            parent_run_id=parent_run_id,
            start_time=None if start_time is None else validate_timestamp(start_time),
            run_id=run_id,
            owner=owner,
            status=status,
        )
        # A new run has no params or metrics yet: its tags are all there is to read
        # (not a refresh of the index per run created).
        tags = store.runs.read_tags(info.run_id)
        return Run(info=info, data=RunData(tags=tags), experiment_name=experiment.name)

    def resolve_run_id(self, ref: str) -> str:
        """The full id of the run ``ref`` names: a full id or a unique prefix."""
        return self.store.runs.resolve(ref)

    def get_run(self, run_id: str) -> Run:
        _flush_buffered_metrics()
        run_id = self.resolve_run_id(run_id)
        background_work().wait(run_id)
        return self.store.get_run(run_id)

    def get_runs(self, run_ids: Sequence[str]) -> dict[str, Run]:
        """Runs by full id, read together; ids that name no readable run are left out."""
        _flush_buffered_metrics()
        background_work().wait()
        return self.store.get_runs(run_ids)

    def set_terminated(
        self, run_id: str, status: str = RunStatus.FINISHED, end_time: int | None = None
    ) -> Run:
        status = status.upper()
        if status not in RunStatus.TERMINAL:
            raise InvalidInputError(
                f"invalid final status {status!r}: expected FINISHED, FAILED or KILLED"
            )
        run_id = self.resolve_run_id(run_id)
        _flush_buffered_metrics()
        self.store.runs.set_status(run_id, status, end_time)
        return self.get_run(run_id)

    def update_run(self, run_id: str, status: str | None = None, name: str | None = None) -> Run:
        run_id = self.resolve_run_id(run_id)
        if status is not None:
            self.store.runs.set_status(run_id, status.upper())
        if name is not None:
            validate_run_name(name)
            self.store.runs.set_tags(run_id, {system_tags.RUN_NAME: name})
        return self.get_run(run_id)

    def delete_run(self, run_id: str) -> None:
        self.store.runs.set_lifecycle(self.resolve_run_id(run_id), LifecycleStage.DELETED)

    def restore_run(self, run_id: str) -> None:
        self.store.runs.set_lifecycle(self.resolve_run_id(run_id), LifecycleStage.ACTIVE)

    def search_runs(
        self,
        experiment_ids: Sequence[str] | str | None = None,
        filter_string: str | None = None,
        run_view_type: Any = ViewType.ACTIVE_ONLY,
        max_results: int | None = None,
        order_by: Sequence[str] | str | None = None,
        page_token: str | None = None,
        *,
        offset: int = 0,
    ) -> list[Run]:
        """Runs of the experiments (every active one when None), in MLflow's order of
        arguments; ``run_view_type`` is mlcli's or MLflow's ``ViewType`` (or its
        name). Unlike MLflow's (1000), ``max_results`` defaults to every run. The
        result is a list whose ``token`` names the next page when ``max_results`` cut
        it (give it back as ``page_token``), as MLflow's ``PagedList``."""
        if isinstance(experiment_ids, (str, int)):
            experiment_ids = [str(experiment_ids)]
        if isinstance(order_by, str):
            order_by = [order_by]
        if page_token:
            offset = _token_offset(page_token)
        _check_page(max_results, offset)
        from mlcli.search.runs import search_runs

        view = view_type_of(run_view_type, "run_view_type")
        runs = search_runs(
            self.store, experiment_ids, filter_string, order_by, max_results, view, offset
        )
        more = max_results is not None and len(runs) == max_results and max_results > 0
        return PagedList(runs, _offset_token(offset + len(runs)) if more else None)

    def iter_runs(
        self,
        experiment_ids: Sequence[str] | None = None,
        filter_string: str | None = None,
        order_by: Sequence[str] | None = None,
        max_results: int | None = None,
        run_view_type: str = ViewType.ACTIVE_ONLY,
    ) -> Iterator[Run]:
        """What :meth:`search_runs` returns, a page at a time (constant memory)."""
        _check_page(max_results, 0)
        from mlcli.search.runs import iter_runs

        return iter_runs(
            self.store, experiment_ids, filter_string, order_by, max_results, run_view_type
        )

    def iter_run_ids(
        self,
        experiment_ids: Sequence[str] | None = None,
        filter_string: str | None = None,
        order_by: Sequence[str] | None = None,
        max_results: int | None = None,
        run_view_type: str = ViewType.ACTIVE_ONLY,
    ) -> Iterator[str]:
        """The ids :meth:`iter_runs` would give, without reading the runs."""
        _check_page(max_results, 0)
        from mlcli.search.runs import iter_run_ids

        return iter_run_ids(
            self.store, experiment_ids, filter_string, order_by, max_results, run_view_type
        )

    # -- logging -------------------------------------------------------------------------------

    def log_param(self, run_id: str, key: str, value: Any, synchronous: bool | None = None) -> str:
        """Log a param (every write is synchronous, whatever ``synchronous`` says)."""
        return self.log_batch(run_id, params={key: value})["params"][key]

    def log_metric(
        self,
        run_id: str,
        key: str,
        value: Any,
        timestamp: int | None = None,
        step: int | None = None,
        synchronous: bool | None = None,
        dataset_name: str | None = None,
        dataset_digest: str | None = None,
        model_id: str | None = None,
    ) -> Metric:
        """Log one metric point (written before this returns). MLflow's links of a
        point to a dataset or a logged model are refused: mlcli keeps a point with its
        run only."""
        if dataset_name is not None or dataset_digest is not None or model_id is not None:
            raise InvalidInputError(
                "log_metric: dataset_name, dataset_digest and model_id are not supported "
                "(mlcli keeps a metric point with its run only)"
            )
        metric = make_metric(key, value, step, timestamp)
        run_id = self._writable_run(run_id)
        self.store.runs.append_metrics(run_id, [metric])
        return metric

    def set_tag(self, run_id: str, key: str, value: Any, synchronous: bool | None = None) -> None:
        self.log_batch(run_id, tags={key: value})

    def delete_tag(self, run_id: str, key: str) -> None:
        run_id = self._writable_run(run_id)
        key = system_tags.to_store(validate_key(key, "tag key"))
        if key not in self.store.runs.read_tags(run_id):
            raise NotFoundError(f"run {run_id[:8]} has no tag {key!r}")
        self.store.runs.set_tags(run_id, {key: None})

    def log_batch(
        self,
        run_id: str,
        metrics: Iterable[MetricLike] = (),
        params: Mapping[str, Any] | Iterable[tuple[str, Any]] = (),
        tags: Mapping[str, Any] | Iterable[tuple[str, Any]] = (),
        synchronous: bool | None = None,
        *,
        batch_id: str | None = None,
    ) -> dict[str, Any]:
        """Validate everything first, then write one batch that readers see whole or not
        at all, even if this process is killed half-way: a bad item writes nothing.
        ``batch_id`` makes sending it again harmless (see ``RunRecords.log_batch``)."""
        clean_metrics = [_as_metric(m) for m in metrics]
        clean_params = _validated_params(params)
        clean_tags = _validated_tags(tags)
        total = len(clean_metrics) + len(clean_params) + len(clean_tags)
        if total > MAX_BATCH_ITEMS * 100:
            raise InvalidInputError(f"a batch of {total} items is too large")
        run_id = self._writable_run(run_id)
        parent = clean_tags.get(system_tags.PARENT_RUN_ID)
        if parent:  # a parent named by its tag is the run's parent (MLflow's way to nest)
            parent = self.store.runs.resolve(parent)
            clean_tags[system_tags.PARENT_RUN_ID] = parent
        self.store.runs.log_batch(
            run_id,
            params=clean_params,
            tags=dict(clean_tags),
            metrics=clean_metrics,
            batch_id=batch_id,
        )
        if parent and parent != self.store.runs.info(run_id).parent_run_id:
            self.store.runs.update(run_id, parent_run_id=parent)
        return {"metrics": clean_metrics, "params": clean_params, "tags": clean_tags}

    def log_inputs(
        self,
        run_id: str,
        datasets: Iterable[Any] | None = None,
        models: Iterable[Any] | None = None,
    ) -> None:
        """Record datasets (mlcli's or MLflow's ``DatasetInput``) and logged models (ids,
        or anything with a ``model_id``) as inputs of the run; those it has already
        are not recorded again (see ``mlcli.store.inputs``)."""
        from mlcli.store import as_dataset_input, as_model_input

        dataset_inputs = [as_dataset_input(item) for item in datasets or ()]
        model_inputs = [as_model_input(item) for item in models or ()]
        for model in {m.model_id for m in model_inputs}:
            self.store.logged_models.get(model)  # NotFoundError before anything is written
        self.store.runs.log_inputs(self._writable_run(run_id), dataset_inputs, model_inputs)

    def get_metric_history(self, run_id: str, key: str) -> list[Metric]:
        return list(self.iter_metric_history(run_id, key))

    def iter_metric_history(self, run_id: str, key: str) -> Iterator[Metric]:
        """The points of ``key`` in MLflow's order: by timestamp, then step, then value
        (as its SQL store answers). The log is read a chunk at a time: when it is
        already in that order (the usual case) paging through a long history holds one
        page; a log written out of order is sorted in memory."""
        _flush_buffered_metrics()
        store, full_id = self.store, self.resolve_run_id(run_id)
        if _on_a_server(store):  # the server answers in that order already
            return store.runs.iter_metric_history(full_id, key)
        if _in_history_order(store.runs.iter_metric_history(full_id, key)):
            return store.runs.iter_metric_history(full_id, key)
        return iter(sorted(store.runs.iter_metric_history(full_id, key), key=history_order))

    # -- artifacts -----------------------------------------------------------------------------

    def log_artifact(
        self, run_id: str, local_path: str | os.PathLike[str], artifact_path: str | None = None
    ) -> str:
        run_id = self._writable_run(run_id)
        return self.store.artifacts(run_id).log_file(local_path, artifact_path)

    def log_artifacts(
        self,
        run_id: str,
        local_dir: str | os.PathLike[str],
        artifact_path: str | None = None,
        progress: Any = None,
    ) -> list[str]:
        run_id = self._writable_run(run_id)
        return self.store.artifacts(run_id).log_dir(local_dir, artifact_path, progress)

    def log_text(self, run_id: str, text: str, artifact_file: str) -> str:
        run_id = self._writable_run(run_id)
        return self.store.artifacts(run_id).write_bytes(artifact_file, text.encode())

    def log_dict(self, run_id: str, dictionary: Any, artifact_file: str) -> str:
        """JSON, or YAML when ``artifact_file`` ends in .yaml or .yml."""
        if artifact_file.endswith((".yaml", ".yml")):
            import yaml

            text = yaml.safe_dump(dictionary, sort_keys=False)
        else:
            text = json.dumps(dictionary, indent=2)
        return self.log_text(run_id, text, artifact_file)

    def log_table(self, run_id: str, data: Any, artifact_file: str) -> str:
        """A DataFrame (or a dict of columns) as MLflow's table artifact: JSON
        ``{"columns": [...], "data": [...]}`` or Parquet; its rows are appended to the
        table already in ``artifact_file``, as MLflow's."""
        from mlcli.tracking.media import table_bytes

        run_id = self._writable_run(run_id)
        artifacts = self.store.artifacts(run_id)
        existing = None
        folder = posixpath.dirname(posixpath.normpath(artifact_file)) or None
        try:
            present = any(f.path == artifact_file for f in artifacts.list(folder))
        except NotFoundError:  # no such folder yet
            present = False
        if present:
            import tempfile

            with tempfile.TemporaryDirectory() as scratch:
                existing = artifacts.download(artifact_file, scratch).read_bytes()
        return artifacts.write_bytes(artifact_file, table_bytes(data, artifact_file, existing))

    def log_image(
        self,
        run_id: str,
        image: Any,
        artifact_file: str | None = None,
        key: str | None = None,
        step: int | None = None,
        timestamp: int | None = None,
        synchronous: bool | None = None,
    ) -> str:
        """A numpy array or a PIL image saved to ``artifact_file`` (PNG for .png, ...),
        as MLflow's; MLflow's image series (``key=``, ``step=``) are refused."""
        from mlcli.tracking.media import image_bytes

        if key is not None or step is not None or timestamp is not None:
            raise InvalidInputError(
                "log_image: key, step and timestamp (MLflow's image series) are not "
                "supported; give artifact_file"
            )
        if not artifact_file:
            raise InvalidInputError("log_image needs artifact_file (such as 'image.png')")
        run_id = self._writable_run(run_id)
        data = image_bytes(image, artifact_file)
        return self.store.artifacts(run_id).write_bytes(artifact_file, data)

    def list_artifacts(self, run_id: str, path: str | None = None) -> list[FileInfo]:
        return self._artifacts(run_id).list(path)

    def download_artifacts(
        self, run_id: str, path: str, dst_path: str | os.PathLike[str] | None = None
    ) -> str:
        """Copy the artifact (a file or a folder) to ``dst_path`` (default: a new
        temporary folder, as MLflow's) and return its local path."""
        if dst_path is None:
            import tempfile

            dst_path = tempfile.mkdtemp(prefix="mlcli-artifacts-")
        return str(self._artifacts(run_id).download(path, dst_path))

    def artifact_path(self, run_id: str, path: str = "") -> Path:
        """The local path of a run artifact (the artifact root for "")."""
        repo = self._artifacts(run_id)
        return repo.resolve(path) if path else repo.root

    # -- internals -------------------------------------------------------------------------------

    def _artifacts(self, run_id: str) -> Artifacts:
        """A run's artifacts to read, once what this process logs to it in the
        background (autologging's model) is written."""
        run_id = self.resolve_run_id(run_id)
        background_work().wait(run_id)
        return self.store.artifacts(run_id)

    def _writable_run(self, run_id: str) -> str:
        """The full id of a run that takes writes; checked on every write, so a run
        deleted by another process refuses the next one. A full id is not resolved
        first (``info`` raises the same NotFoundError): a point costs one check."""
        if not (isinstance(run_id, str) and _FULL_RUN_ID.fullmatch(run_id)):
            run_id = self.resolve_run_id(run_id)
        info = self.store.runs.info(run_id)
        if info.lifecycle_stage != LifecycleStage.ACTIVE:
            raise InvalidInputError(
                f"run {run_id[:8]} is deleted; restore it ('mlcli runs restore') to log to it"
            )
        return run_id


class PagedList(list[Any]):
    """A page of results, as MLflow's ``PagedList``: a list, and ``token``, the page
    token of the next page (None on the last page)."""

    def __init__(self, items: Iterable[Any], token: str | None = None) -> None:
        super().__init__(items)
        self.token = token


def paged(items: list[Any], max_results: int | None, page_token: str | None) -> PagedList:
    """``items`` from ``page_token`` on, at most ``max_results``, with the next token."""
    start = _token_offset(page_token) if page_token else 0
    if max_results is not None and not 0 <= max_results <= MAX_INT64:
        raise InvalidInputError(f"invalid max_results {max_results}: must be 0 to 2**63-1")
    end = len(items) if max_results is None else start + max_results
    return PagedList(items[start:end], _offset_token(end) if end < len(items) else None)


def _offset_token(offset: int) -> str:
    import base64

    return base64.urlsafe_b64encode(json.dumps({"offset": offset}).encode()).decode()


def _token_offset(token: str) -> int:
    import base64
    import binascii

    try:
        offset = json.loads(base64.urlsafe_b64decode(token.encode()))["offset"]
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise InvalidInputError(f"invalid page_token {token!r}") from None
    if type(offset) is not int or offset < 0:
        raise InvalidInputError(f"invalid page_token {token!r}")
    return offset


_VIEWS = {
    ViewType.ACTIVE_ONLY: ViewType.ACTIVE_ONLY,  # mlcli's own values
    ViewType.DELETED_ONLY: ViewType.DELETED_ONLY,
    "active_only": ViewType.ACTIVE_ONLY,
    "deleted_only": ViewType.DELETED_ONLY,
    "all": ViewType.ALL,
    "1": ViewType.ACTIVE_ONLY,  # MLflow's ViewType numbers
    "2": ViewType.DELETED_ONLY,
    "3": ViewType.ALL,
}

_EXPERIMENT_ATTRIBUTES = {"name": "text", "creation_time": "number", "last_update_time": "number"}


def view_type_of(given: Any, what: str = "view type") -> str:
    """mlcli's view of ``given``: a name (any case), MLflow's ``ViewType`` or number."""
    view = _VIEWS.get(str(getattr(given, "value", given)).lower())
    if view is None:
        raise InvalidInputError(
            f"invalid {what} {given!r}: expected ACTIVE_ONLY, DELETED_ONLY or ALL"
        )
    return view


def make_metric(key: str, value: Any, step: Any = None, timestamp: Any = None) -> Metric:
    validate_key(key, "metric key")
    return Metric(
        key=key,
        value=validate_metric_value(key, value),
        step=validate_step(step),
        timestamp=now_ms() if timestamp is None else validate_timestamp(timestamp),
    )


def _as_metric(item: MetricLike) -> Metric:
    if isinstance(item, Metric) or all(
        hasattr(item, name) for name in ("key", "value", "step", "timestamp")
    ):  # mlcli's Metric, or MLflow's
        return make_metric(item.key, item.value, item.step, item.timestamp)  # type: ignore[union-attr]
    if isinstance(item, tuple) and 2 <= len(item) <= 4:
        return make_metric(*item)
    raise InvalidInputError(f"invalid metric {item!r}: expected a Metric or (key, value[, step])")


def _pairs(items: Mapping[str, Any] | Iterable[Any]) -> list[tuple[str, Any]]:
    """Key-value pairs from a mapping, pairs, or MLflow's ``Param``/``RunTag`` objects."""
    if isinstance(items, Mapping):
        return list(items.items())
    return [
        (item.key, item.value) if hasattr(item, "key") and hasattr(item, "value") else tuple(item)
        for item in items
    ]


def _validated_params(params: Mapping[str, Any] | Iterable[tuple[str, Any]]) -> dict[str, str]:
    clean: dict[str, str] = {}
    for key, value in _pairs(params):
        validate_key(key, "param key")
        text = validate_param_value(key, value)
        if key in clean and clean[key] != text:
            raise ConflictError(
                f"param {key!r} appears twice in one batch with different values",
                error_code="INVALID_PARAMETER_VALUE",
            )
        clean[key] = text
    return clean


def _validated_tags(tags: Mapping[str, Any] | Iterable[tuple[str, Any]]) -> dict[str, str]:
    """The tags as stored: MLflow's name of a system tag (``mlflow.runName``) is
    stored under mlcli's (``mlcli.runName``), as the tracking server stores it."""
    return {
        system_tags.to_store(validate_key(k, "tag key")): validate_tag_value(k, v)
        for k, v in _pairs(tags)
    }


def history_order(metric: Metric) -> tuple[int, int, float]:
    """MLflow's order of a metric's history: timestamp, step, value (NaN as 0, as its
    SQL store keeps it)."""
    value = metric.value
    return metric.timestamp, metric.step, 0.0 if value != value else value


def _in_history_order(points: Iterable[Metric]) -> bool:
    previous: tuple[int, int, float] | None = None
    for point in points:
        current = history_order(point)
        if previous is not None and current < previous:
            return False
        previous = current
    return True


def _on_a_server(store: TrackingStore) -> bool:
    """Whether ``store`` is a team server seen from a client (the server does the work)."""
    return store.location.startswith(("http://", "https://"))


def _flush_buffered_metrics() -> None:
    """Make metrics this process buffered (fluent ``log_metric``) visible to reads."""
    from mlcli.tracking.metric_buffer import flush_pending

    flush_pending()


def _check_page(max_results: int | None, offset: int) -> None:
    """Before a search: buffered points and background logging are in the store, and
    the page is sane."""
    _flush_buffered_metrics()
    background_work().wait()
    if max_results is not None and not 0 <= max_results <= MAX_INT64:
        raise InvalidInputError(f"invalid max_results {max_results}: must be 0 to 2**63-1")
    if not 0 <= offset <= MAX_INT64:
        raise InvalidInputError(f"invalid offset {offset}: must be 0 to 2**63-1")
