"""The fluent API: ``with mlcli.start_run(): mlcli.log_metric(...)``.

Named like MLflow's so that tutorial code needs only its import changed. The
process keeps a stack of active runs (``nested=True`` pushes a child). Inside a
process started by ``mlcli run``, ``MLCLI_RUN_ID`` makes ``start_run()`` attach to
the run ``mlcli run`` created; that run is ended by its owner, not by the child.
MLflow's ``MLFLOW_RUN_ID`` (when ``MLCLI_RUN_ID`` is not set) works as in MLflow: the
first ``start_run()`` resumes that run, this process ends it, and the variable is
used up. ``set_experiment`` naming another experiment than that run's is an error, as
in MLflow: the run and its nested runs would otherwise be split between experiments.

Reads (``get_run``, ``list_artifacts``, ``get_artifact_uri``, ``search_runs``,
``last_active_run``, ...) never start a run: without an active run they read the run
the environment names, or say that there is none.

A run left open is ended at interpreter exit: FINISHED, or FAILED after an uncaught
exception, KILLED after Ctrl-C or SIGTERM, so that no run stays RUNNING because its
process ended. A run this process creates or resumes records it as its owner, so
that after a SIGKILL the next reader ends it FAILED (``mlcli.store.ownership``).
"""

from __future__ import annotations

import atexit
import io
import os
import signal
import sys
import threading
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

from mlcli import system_tags
from mlcli.clock import now_ms
from mlcli.errors import InvalidInputError, NotFoundError, StoreError
from mlcli.store import (
    DEFAULT_EXPERIMENT_ID,
    MAX_INT64,
    Experiment,
    FileInfo,
    LifecycleStage,
    Metric,
    Run,
    RunInfo,
    RunStatus,
    ViewType,
    named_store,
    store_location,
    this_process,
    validate_key,
    validate_metric_value,
    validate_step,
    validate_timestamp,
)
from mlcli.tracking.background import background_work
from mlcli.tracking.client import TrackingClient, view_type_of
from mlcli.tracking.context import script_source_tags
from mlcli.tracking.environment import attached_run
from mlcli.tracking.metric_buffer import metric_buffer


class ActiveRun:
    """A run started by :func:`start_run`; use it as a context manager."""

    def __init__(self, run: Run, attached: bool) -> None:
        self._run = run
        self.attached = attached
        self.from_environment: str | None = None  # the variable that named it, if one did

    @property
    def info(self) -> RunInfo:
        return self._run.info

    @property
    def data(self) -> Any:
        return self._run.data

    @property
    def run_id(self) -> str:
        return self._run.info.run_id

    def __enter__(self) -> ActiveRun:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            status = RunStatus.FINISHED
        elif issubclass(exc_type, KeyboardInterrupt):
            status = RunStatus.KILLED
        else:
            status = RunStatus.FAILED
        _session.end_run(status, run_id=self.run_id)

    def __repr__(self) -> str:
        return f"<ActiveRun {self.run_id} {self.info.run_name!r}>"


class _Session:
    """The process's fluent state: the client, the active-run stack, the experiment."""

    def __init__(self) -> None:
        self.client: TrackingClient | None = None
        self.client_key: tuple[str | None, str] | None = None
        self.stack: list[ActiveRun] = []
        self.experiment_id: str | None = None
        self.lock = threading.RLock()
        self.failed = False  # an uncaught exception is on its way out
        self.signal_installed = False
        self.samplers: dict[str, Any] = {}  # run id -> its system-metrics sampler
        self.last_run_id: str | None = None  # the last run this process ended

    def get_client(self) -> TrackingClient:
        """The client for the store this process means now. Between top-level runs the
        store is looked up again, since the working directory or MLCLI_STORE may have
        changed; the chosen experiment and the last run belong to the old store and are
        forgotten."""
        key = (named_store(), os.getcwd())
        if self.client is None or (not self.stack and key != self.client_key):
            self.client = TrackingClient(announce=_announce_store)
            self.client_key = key
            self.experiment_id = None
            self.last_run_id = None
        return self.client

    def start_run(
        self,
        run_id: str | None,
        experiment: str | None,
        experiment_id: str | None,
        run_name: str | None,
        nested: bool,
        tags: Mapping[str, Any] | None,
        description: str | None,
        parent_run_id: str | None = None,
    ) -> ActiveRun:
        client = self.get_client()
        with self.lock:
            if self.stack and not nested:
                raise InvalidInputError(
                    f"run {self.stack[-1].run_id} is already active; end it first with "
                    "mlcli.end_run(), or start a nested run with start_run(nested=True)"
                )
            from_environment = None if self.stack or run_id else attached_run()
            if from_environment is not None:
                env_run_id, variable = from_environment
                mlflow_way = variable != "MLCLI_RUN_ID"  # resumed and ended here, once
                self._check_experiment(client, env_run_id, experiment, experiment_id, variable)
                active = self._resume(client, env_run_id, attached=not mlflow_way)
                active.from_environment = variable
                if mlflow_way:
                    os.environ.pop(variable, None)
            elif run_id:
                active = self._resume(client, run_id, attached=False)
            else:
                active = self._create(
                    client, experiment, experiment_id, run_name, tags, description, parent_run_id
                )
            self.stack.append(active)
            self._install_handlers()
            return active

    def _resume(self, client: TrackingClient, run_id: str, attached: bool) -> ActiveRun:
        run = client.get_run(run_id)
        if run.info.lifecycle_stage == LifecycleStage.DELETED:
            raise InvalidInputError(f"cannot start run {run.info.run_id}: it is deleted")
        if not attached:  # this process ends it now, so it owns it
            client.store.runs.set_status(run.info.run_id, RunStatus.RUNNING, owner=this_process())
            run = client.get_run(run.info.run_id)
        return ActiveRun(run, attached=attached)

    def _create(
        self,
        client: TrackingClient,
        experiment: str | None,
        experiment_id: str | None,
        run_name: str | None,
        tags: Mapping[str, Any] | None,
        description: str | None,
        parent_run_id: str | None = None,
    ) -> ActiveRun:
        parent = self.stack[-1].run_id if self.stack else None
        if parent_run_id:  # MLflow's start_run(parent_run_id=...): the active run's, if any
            wanted = client.resolve_run_id(parent_run_id)
            if parent is not None and wanted != parent:
                raise InvalidInputError(
                    f"parent_run_id {parent_run_id} is not the active run {parent}: end the "
                    "active run first, or start the nested run without parent_run_id"
                )
            parent = wanted
        all_tags = {**script_source_tags(), **(tags or {})}
        if description:
            all_tags[system_tags.NOTE_CONTENT] = description
        run = client.create_run(
            experiment_id=self.resolve_experiment(client, experiment, experiment_id),
            run_name=run_name,
            tags=all_tags,
            parent_run_id=parent,
            owner=this_process(),
        )
        return ActiveRun(run, attached=False)

    def _check_experiment(
        self,
        client: TrackingClient,
        run_id: str,
        name: str | None,
        experiment_id: str | None,
        variable: str,
    ) -> None:
        """The experiment this process chose (``set_experiment``, or start_run's own
        arguments) must be the one of the run the environment names: otherwise the run
        would stay in one experiment while its nested runs go to another."""
        if name:
            chosen = _find_experiment(client, str(name))
            wanted = str(name)
        elif experiment_id or self.experiment_id:
            wanted = str(experiment_id or self.experiment_id)
            chosen = client.get_experiment(wanted)
        else:
            return
        run_experiment = client.get_run(run_id).info.experiment_id
        if chosen is None or chosen.experiment_id != run_experiment:
            raise InvalidInputError(experiment_mismatch(client, run_id, wanted, variable))

    def env_run_id(self) -> tuple[str, str] | None:
        """The run the environment names and this process logs to (or will, at its next
        start_run): from the stack if attached, else the variable."""
        for active in self.stack:
            if active.from_environment:
                return active.run_id, active.from_environment
        return attached_run()

    def read_run_id(self, client: TrackingClient, run_id: str | None, what: str) -> str:
        """The run a read means: ``run_id``, else the active run, else the run the
        environment names; never a new run."""
        if run_id:
            return client.resolve_run_id(run_id)
        if self.stack:
            return self.stack[-1].run_id
        named = attached_run()
        if named is not None:
            return client.resolve_run_id(named[0])
        raise InvalidInputError(
            f"{what}: no active run; pass run_id=..., or start a run with mlcli.start_run()"
        )

    def resolve_experiment(
        self, client: TrackingClient, name: str | None, experiment_id: str | None
    ) -> str | None:
        if name is not None and str(name):
            found = _find_experiment(client, str(name))
            if found is not None:
                return found.experiment_id
            return client.get_or_create_experiment(str(name)).experiment_id
        if experiment_id:
            return _experiment_by_id(client, str(experiment_id)).experiment_id
        if self.experiment_id:
            return self.experiment_id
        from mlcli.tracking.default_experiment import environment_experiment_id

        return environment_experiment_id(client)

    def end_run(self, status: str, run_id: str | None = None, wait: bool = True) -> None:
        """End the active run (or ``run_id`` and its children left open). With
        ``wait=False`` (autologging's own runs) a run with logging still under way in
        the background leaves the stack now and is ended by that thread after it."""
        with self.lock:
            if not self.stack:
                return
            if run_id is not None and self.stack[-1].run_id != run_id:
                if run_id not in [a.run_id for a in self.stack]:
                    return
                while self.stack[-1].run_id != run_id:  # end children left open first
                    self._finish(self.stack.pop(), status)
            self._finish(self.stack.pop(), status, wait)

    def end_all(self, status: str) -> None:
        with self.lock:
            while self.stack:
                self._finish(self.stack.pop(), status)

    def _finish(self, active: ActiveRun, status: str, wait: bool = True) -> None:
        client = self.get_client()
        sampler = self.samplers.pop(active.run_id, None)
        if sampler is not None:
            sampler.stop()
        metric_buffer().flush(active.run_id)
        self.last_run_id = active.run_id
        work = background_work()
        if not wait and not active.attached and work.pending(active.run_id):
            work.end_run_after(
                active.run_id,
                lambda own: own.store.runs.set_status(active.run_id, status, now_ms()),
                client.store.root,
            )
            return
        work.finish(active.run_id)  # the model autologging logs on a thread is in place
        if not active.attached:
            client.store.runs.set_status(active.run_id, status, now_ms())

    def active(self, autostart: bool = True) -> ActiveRun:
        if not self.stack and autostart:
            self.start_run(None, None, None, None, False, None, None)
        return self.stack[-1]

    def _install_handlers(self) -> None:
        if self.signal_installed:
            return
        self.signal_installed = True
        previous_hook = sys.excepthook

        def excepthook(exc_type: Any, exc: Any, tb: Any) -> None:
            self.failed = True
            self.end_all(
                RunStatus.KILLED if issubclass(exc_type, KeyboardInterrupt) else RunStatus.FAILED
            )
            previous_hook(exc_type, exc, tb)

        sys.excepthook = excepthook
        if (
            threading.current_thread() is threading.main_thread()
            and signal.getsignal(signal.SIGTERM) == signal.SIG_DFL
        ):
            signal.signal(signal.SIGTERM, self._on_sigterm)

    def _on_sigterm(self, signum: int, frame: Any) -> None:
        try:
            self.end_all(RunStatus.KILLED)
        finally:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            os.kill(os.getpid(), signal.SIGTERM)

    def at_exit(self) -> None:
        if self.stack:
            self.end_all(RunStatus.FAILED if self.failed else RunStatus.FINISHED)


_session = _Session()
atexit.register(_session.at_exit)


def _find_experiment(client: TrackingClient, ref: str) -> Experiment | None:
    """The active experiment named ``ref``, else numbered ``ref`` (as every command
    takes one; MLflow's second argument of start_run is an id); None when neither."""
    try:
        return client.writable_store().experiments.resolve(ref)
    except NotFoundError:
        return None


def _experiment_by_id(client: TrackingClient, ref: str) -> Experiment:
    """The experiment numbered ``ref``, else (mlcli's older positional use of
    start_run's second argument) the active experiment named ``ref``; never created."""
    try:
        return client.get_experiment(ref)
    except NotFoundError:
        found = client.get_experiment_by_name(ref) if _store_exists(client) else None
        if found is None:
            raise
        return found


def _announce_store(root: Path) -> None:
    sys.stderr.write(f"mlcli: created a new store at {root}\n")


# -- runs ----------------------------------------------------------------------------------


def start_run(
    run_id: str | None = None,
    experiment_id: str | None = None,
    run_name: str | None = None,
    nested: bool = False,
    parent_run_id: str | None = None,
    tags: Mapping[str, Any] | None = None,
    description: str | None = None,
    log_system_metrics: bool | None = None,
    *,
    experiment: str | None = None,
) -> ActiveRun:
    """Start a run (or resume ``run_id``) and make it the active run; the arguments
    are MLflow's, in its order.

    ``experiment_id`` is an experiment's id (or the name of an existing one), as
    MLflow's; mlcli's keyword ``experiment=`` names it by name or id, as every command
    takes one, and creates it by name if neither exists. Without either the run goes
    to the experiment chosen by
    :func:`set_experiment`, ``MLCLI_EXPERIMENT_NAME``, ``MLCLI_EXPERIMENT_ID``,
    MLflow's ``MLFLOW_EXPERIMENT_NAME``/``_ID``, or Default. ``parent_run_id`` makes
    the new run a child of that run (it must be the active run, if one is active), as
    in MLflow. Use it as a context manager::

        with mlcli.start_run(run_name="baseline"):
            mlcli.log_param("lr", 0.1)
            mlcli.log_metric("loss", 0.5, step=1)

    ``log_system_metrics=True`` (default: ``MLCLI_ENABLE_SYSTEM_METRICS_LOGGING``)
    samples this process and its children into ``system/...`` metrics every
    ``MLCLI_SYSTEM_METRICS_INTERVAL`` seconds (10) until the run ends; not for the run
    ``mlcli run`` created, which samples it itself (docs/capture.md).
    """
    active = _session.start_run(
        run_id, experiment, experiment_id, run_name, nested, tags, description, parent_run_id
    )
    if log_system_metrics is None:
        log_system_metrics = _system_metrics_by_default()
    if log_system_metrics and not active.attached and active.run_id not in _session.samplers:
        from mlcli.capture.system_metrics import sample_this_process

        sampler = sample_this_process(_session.get_client(), active.run_id)
        if sampler is not None:
            _session.samplers[active.run_id] = sampler
    return active


def _system_metrics_by_default() -> bool:
    """``MLCLI_ENABLE_SYSTEM_METRICS_LOGGING``, else MLflow's
    ``MLFLOW_ENABLE_SYSTEM_METRICS_LOGGING``: true for ``1`` or ``true``."""
    for name in ("MLCLI_ENABLE_SYSTEM_METRICS_LOGGING", "MLFLOW_ENABLE_SYSTEM_METRICS_LOGGING"):
        value = os.environ.get(name, "").strip().lower()
        if value:
            return value in ("1", "true")
    return False


def end_run(status: str = RunStatus.FINISHED) -> None:
    """End the active run with ``status`` (FINISHED, FAILED or KILLED)."""
    if status.upper() not in RunStatus.TERMINAL:
        raise InvalidInputError(f"invalid final status {status!r}")
    _session.end_run(status.upper())


def active_run() -> ActiveRun | None:
    """The active run, or None."""
    return _session.stack[-1] if _session.stack else None


def last_active_run_id() -> str | None:
    """The active run's id, else the id of the last run this process ended, else None."""
    if _session.stack:
        return _session.stack[-1].run_id
    _session.get_client()  # forgets the last run when the store changed
    return _session.last_run_id


def last_active_run() -> Run | None:
    """As MLflow's: the active run (read afresh, as a Run), else the last run this
    process ended, else None. Never starts a run."""
    run_id = last_active_run_id()
    return None if run_id is None else _session.get_client().get_run(run_id)


def set_experiment(
    experiment_name: str | None = None,
    experiment_id: str | None = None,
    trace_location: Any = None,
) -> Experiment:
    """Make later runs go to this experiment, creating it by name if needed.

    In a process that logs to a run the environment names (``MLCLI_RUN_ID`` from
    ``mlcli run``, or ``MLFLOW_RUN_ID``), another experiment than that run's is an
    error (InvalidInputError), before anything is created: the run would stay where
    it is while its nested runs went to the new experiment. Choose the experiment
    where the run is made instead (``mlcli run --experiment NAME``)."""
    _no_trace_location("set_experiment", trace_location)
    client = _session.get_client()
    if not experiment_name and not experiment_id:
        raise InvalidInputError("set_experiment needs an experiment name or id")
    named = _session.env_run_id()
    if named is not None:
        run_experiment = client.get_run(named[0]).info.experiment_id
        found = (
            client.get_experiment_by_name(experiment_name)
            if experiment_name
            else client.get_experiment(str(experiment_id))
        )
        if found is None or found.experiment_id != run_experiment:
            wanted = experiment_name or str(experiment_id)
            raise InvalidInputError(experiment_mismatch(client, named[0], wanted, named[1]))
    if experiment_name:
        experiment = client.get_or_create_experiment(experiment_name)
    else:
        experiment = client.get_experiment(str(experiment_id))
    _session.experiment_id = experiment.experiment_id
    return experiment


def experiment_mismatch(client: TrackingClient, run_id: str, wanted: str, variable: str) -> str:
    """The error for an experiment chosen in a process whose run is another's."""
    run = client.get_run(run_id)
    how = (
        f"'mlcli run --experiment {wanted}' (or MLCLI_EXPERIMENT_NAME)"
        if variable == "MLCLI_RUN_ID"
        else f"'--experiment-name {wanted}' where the run is created"
    )
    return (
        f"experiment {wanted!r} is not the experiment of run {run_id[:8]} "
        f"({(run.experiment_name or run.info.experiment_id)!r}), which {variable} names and "
        f"this process logs to: its nested runs would land apart from it; choose the "
        f"experiment with {how}, or remove the set_experiment call"
    )


def create_experiment(
    name: str,
    artifact_location: str | None = None,
    tags: Mapping[str, Any] | None = None,
    trace_location: Any = None,
) -> str:
    """Create an experiment and return its id, as MLflow's ``create_experiment``. A
    run's artifacts live in the store with the run, so ``artifact_location`` is
    refused (InvalidInputError) rather than ignored; so is MLflow's
    ``trace_location`` (Databricks Unity Catalog)."""
    _no_trace_location("create_experiment", trace_location)
    return _session.get_client().create_experiment(name, artifact_location, tags)


def _no_trace_location(what: str, trace_location: Any) -> None:
    if trace_location is not None:
        raise InvalidInputError(
            f"{what}: trace_location is not supported (mlcli keeps no traces in Unity Catalog)"
        )


def get_experiment(experiment_id: str) -> Experiment:
    """The experiment with this id (NotFoundError if none)."""
    return _session.get_client().get_experiment(str(experiment_id))


def get_experiment_by_name(name: str) -> Experiment | None:
    """The active experiment with this name, or None (None too when there is no store)."""
    client = _session.get_client()
    return client.get_experiment_by_name(name) if _store_exists(client) else None


def search_experiments(
    view_type: Any = None,
    max_results: int | None = None,
    filter_string: str | None = None,
    order_by: list[str] | None = None,
) -> list[Experiment]:
    """The experiments (active ones unless ``view_type`` says otherwise) in MLflow's
    order, newest first (then by id); ``max_results`` keeps the first so many.
    ``filter_string`` and ``order_by`` as MLflow's (``"name LIKE 'a%'"``,
    ``"tags.team = 'x'"``, ``["name ASC"]``); see ``TrackingClient.search_experiments``."""
    view = view_type_of(view_type) if view_type is not None else ViewType.ACTIVE_ONLY
    client = _session.get_client()
    if not _store_exists(client):
        return []
    if order_by:
        return list(client.search_experiments(view, max_results, filter_string, order_by))
    found = list(client.search_experiments(view, None, filter_string))
    found.sort(key=lambda e: (-e.creation_time, len(e.experiment_id), e.experiment_id))
    return found if max_results is None else found[:max_results]


def delete_experiment(experiment_id: str) -> None:
    """Delete the experiment; its runs are marked deleted with it, as in MLflow."""
    _session.get_client().delete_experiment(str(experiment_id))


def set_experiment_tag(key: str, value: Any) -> None:
    """Tag the current experiment: the one :func:`set_experiment` chose, else the
    active run's, else the one a new run would go to."""
    client = _session.get_client()
    if _session.experiment_id:
        experiment_id: str | None = _session.experiment_id
    elif _session.stack:
        experiment_id = _session.stack[-1].info.experiment_id
    else:
        experiment_id = _session.resolve_experiment(client, None, None)
    client.set_experiment_tag(experiment_id or DEFAULT_EXPERIMENT_ID, key, str(value))


def set_experiment_tags(tags: Mapping[str, Any]) -> None:
    for key, value in tags.items():
        set_experiment_tag(key, value)


def set_tracking_uri(uri: str | os.PathLike[str]) -> None:
    """Use this store from now on, in this process and the processes it starts: a
    ``.mlruns`` path, ``s3://bucket/prefix`` or a remote's name, as ``--store`` takes
    (it sets ``MLCLI_STORE``). Runs already active keep their store.

    MLflow's URIs mean what they mean to MLflow: ``file:`` is the folder it names, a
    server's ``http(s)://`` URL is that server. A database (``sqlite:///mlflow.db``),
    Databricks or a folder of MLflow's own file store is a StoreError at once."""
    from mlcli.store import store_of_mlflow_uri

    text = os.fspath(uri)
    if not text.strip():
        raise InvalidInputError("set_tracking_uri needs a store: a path, s3://... or a remote")
    os.environ["MLCLI_STORE"] = store_of_mlflow_uri(
        text,
        said=f"set_tracking_uri({text.strip()!r})",
        fix="give a folder for mlcli's store, s3://bucket/prefix or a server's http(s)://",
    )


def get_tracking_uri() -> str:
    """The store later runs go to: what ``set_tracking_uri`` or the environment named,
    else the nearest ``.mlruns`` (or where a first run would create it)."""
    return store_location()


def set_registry_uri(uri: str) -> None:
    """MLflow's: mlcli keeps the registry in the tracking store, so the only registry
    URI is the tracking URI (accepted, and nothing changes); another is refused."""
    from mlcli.store import store_of_mlflow_uri

    text, tracking = os.fspath(uri), get_tracking_uri()
    try:
        same = text == tracking or (
            os.path.abspath(store_of_mlflow_uri(text, said="", fix="")) == os.path.abspath(tracking)
        )
    except (InvalidInputError, StoreError):
        same = False
    if not same:
        raise InvalidInputError(
            f"set_registry_uri({uri!r}): mlcli keeps the registry in the tracking store "
            f"({get_tracking_uri()}); use set_tracking_uri to change both"
        )


def get_registry_uri() -> str:
    """The registry's URI: the tracking store's (mlcli keeps the registry there)."""
    return get_tracking_uri()


def get_run(run_id: str) -> Run:
    return _session.get_client().get_run(run_id)


def get_parent_run(run_id: str) -> Run | None:
    """The run's parent run, or None (MLflow's)."""
    client = _session.get_client()
    parent = client.get_run(run_id).info.parent_run_id
    return client.get_run(parent) if parent else None


def delete_run(run_id: str) -> None:
    """Mark the run deleted (MLflow's; ``mlcli runs restore`` brings it back)."""
    _session.get_client().delete_run(run_id)


def search_runs(
    experiment_ids: list[str] | str | None = None,
    filter_string: str | None = None,
    run_view_type: Any = None,
    max_results: int = 100_000,
    order_by: list[str] | str | None = None,
    output_format: str = "pandas",
    search_all_experiments: bool = False,
    experiment_names: list[str] | None = None,
    *,
    experiments: list[str] | str | None = None,
    filter: str | None = None,
    include_deleted: bool = False,
) -> Any:
    """Runs of the experiments (all active ones when none is named), as MLflow's
    ``search_runs``, with its arguments in its order: by default a pandas DataFrame
    with MLflow's columns (``run_id``, ``experiment_id``, ``status``,
    ``artifact_uri``, ``start_time``, ``end_time``, ``metrics.*``, ``params.*``,
    ``tags.*``, system tags under MLflow's names: ``tags.mlflow.runName``);
    ``output_format="list"`` gives Run objects. Without pandas installed, the default
    is an error saying to install it or to pass ``output_format="list"``.

    ``experiment_ids`` are ids (or names of existing experiments), ``experiment_names``
    names; ``run_view_type`` is ``ViewType.ALL``, ``"deleted_only"``, or MLflow's
    numbers 1-3; ``search_all_experiments`` changes nothing (mlcli searches every
    active experiment when none is named). mlcli's own keywords still work:
    ``experiments=`` (names or ids), ``filter=``, ``include_deleted=``. A read: no
    store, no run and no experiment is created; a store that does not exist yet has
    no runs."""
    if output_format not in ("list", "pandas"):
        raise InvalidInputError(
            f"invalid output_format {output_format!r}: expected 'list' or 'pandas'"
        )
    if output_format == "pandas":
        _require_pandas()
    client = _session.get_client()
    if filter is not None and filter_string is not None and filter != filter_string:
        raise InvalidInputError("search_runs: give filter or filter_string, not both")
    text = filter if filter is not None else filter_string
    named: list[str] | None = None  # names, or ids (mlcli's experiments=)
    for given in (experiments, experiment_names):
        if given is not None:
            named = (named or []) + ([given] if isinstance(given, str) else list(given))
    numbered = [experiment_ids] if isinstance(experiment_ids, (str, int)) else experiment_ids
    orders = [order_by] if isinstance(order_by, str) else order_by
    if run_view_type is not None:
        view = view_type_of(run_view_type, "run_view_type")
    else:
        view = ViewType.ALL if include_deleted else ViewType.ACTIVE_ONLY
    if not _store_exists(client):
        runs: list[Run] = []
        if named or numbered:
            raise NotFoundError(f"no experiment {(named or numbered or [''])[0]!r}: no store yet")
    else:
        ids = None
        if named is not None or numbered is not None:
            ids = [client.resolve_experiment(str(n)).experiment_id for n in named or []]
            ids += [_experiment_by_id(client, str(n)).experiment_id for n in numbered or []]
        runs = list(
            client.search_runs(ids, text or None, view, max_results=max_results, order_by=orders)
        )
    if output_format == "pandas":
        from mlcli.compare.frame import runs_frame

        return runs_frame(runs, mlflow_names=True)
    return runs


def _require_pandas() -> None:
    try:
        import pandas  # noqa: F401
    except ImportError:
        raise InvalidInputError(
            "search_runs returns a pandas DataFrame by default, and pandas is not "
            "installed: pip install pandas, or pass output_format='list' for a list of runs"
        ) from None


# -- logging ---------------------------------------------------------------------------------

_valid_metric_keys: set[str] = set()


def log_metric(
    key: str,
    value: float,
    step: int | None = None,
    synchronous: bool | None = None,
    timestamp: int | None = None,
    run_id: str | None = None,
    model_id: str | None = None,
    dataset: Any = None,
) -> None:
    """Log a metric point to the active run (buffered, written within a second; see
    ``metric_buffer``), with MLflow's arguments in its order. ``synchronous=True``
    writes it before returning; ``run_id`` logs to that run instead (at once).
    MLflow's links of a point to a logged model or a dataset (``model_id``,
    ``dataset``) are refused: mlcli keeps a point with its run only."""
    _no_metric_links(model_id, dataset)
    if synchronous is not None and not isinstance(synchronous, bool):
        raise InvalidInputError(
            f"log_metric: synchronous must be True or False, not {synchronous!r} (MLflow's "
            "fourth argument; give a timestamp as timestamp=...)"
        )
    if run_id is not None:
        _session.get_client().log_metric(run_id, key, value, timestamp, step)
        return
    active = _session.stack[-1] if _session.stack else _session.active()
    if key not in _valid_metric_keys:
        validate_key(key, "metric key")
        _valid_metric_keys.add(key)
    if type(value) is not float:
        value = validate_metric_value(key, value)
    if step is None:
        step = 0
    elif type(step) is not int or not -MAX_INT64 <= step <= MAX_INT64:
        step = validate_step(step)
    if timestamp is None:
        timestamp = now_ms()
    elif type(timestamp) is not int or not 0 <= timestamp <= MAX_INT64:
        timestamp = validate_timestamp(timestamp)
    metric_buffer().add(_session.client.store.runs, active.run_id, key, value, step, timestamp)  # type: ignore[union-attr]
    if synchronous:
        metric_buffer().flush(active.run_id)


def _no_metric_links(model_id: str | None, dataset: Any) -> None:
    if model_id is not None or dataset is not None:
        raise InvalidInputError(
            "log_metric: model_id and dataset are not supported (mlcli keeps a metric "
            "point with its run only); log the dataset with mlcli.log_input"
        )


def log_metrics(
    metrics: Mapping[str, float],
    step: int | None = None,
    synchronous: bool | None = None,
    run_id: str | None = None,
    timestamp: int | None = None,
    model_id: str | None = None,
    dataset: Any = None,
) -> None:
    """Log several metrics at one step and time, with MLflow's arguments (see
    :func:`log_metric`)."""
    _no_metric_links(model_id, dataset)
    timestamp = now_ms() if timestamp is None else timestamp
    if run_id is not None:
        points = [(key, value, step, timestamp) for key, value in metrics.items()]
        _session.get_client().log_batch(run_id, metrics=points)
        return
    for key, value in metrics.items():
        log_metric(key, value, step, timestamp=timestamp)
    if synchronous:
        flush()


def log_param(key: str, value: Any, synchronous: bool | None = None) -> Any:
    """Log a param (immutable: the same value again is fine, a different one an error).
    Every write but metric points is synchronous, whatever ``synchronous`` says."""
    _session.get_client().log_param(_session.active().run_id, key, value)
    return value


def log_params(
    params: Mapping[str, Any], synchronous: bool | None = None, run_id: str | None = None
) -> None:
    """Log params to the active run (or to ``run_id``), in one batch."""
    _session.get_client().log_batch(run_id or _session.active().run_id, params=params)


def set_tag(key: str, value: Any, synchronous: bool | None = None) -> None:
    _session.get_client().set_tag(_session.active().run_id, key, value)


def set_tags(tags: Mapping[str, Any], synchronous: bool | None = None) -> None:
    _session.get_client().log_batch(_session.active().run_id, tags=tags)


def delete_tag(key: str) -> None:
    _session.get_client().delete_tag(_session.active().run_id, key)


def log_input(
    dataset: Any = None,
    context: str | None = None,
    tags: Mapping[str, str] | None = None,
    model: Any = None,
) -> None:
    """Record a dataset the active run read (mlcli's ``Dataset`` or an MLflow dataset,
    such as ``mlflow.data.from_pandas(...)``), ``context`` saying what for (MLflow's
    ``mlflow.data.context`` tag: ``training``, ``eval``), and/or a logged model
    (its id, or anything with a ``model_id``). A dataset the run has already (the
    same name and digest) is kept as first logged."""
    from mlcli.store import DATASET_CONTEXT_TAG, DatasetInput, as_dataset

    datasets = []
    if dataset is not None:
        input_tags = {str(k): str(v) for k, v in (tags or {}).items()}
        if context is not None:
            input_tags[DATASET_CONTEXT_TAG] = context
        datasets.append(DatasetInput(as_dataset(dataset), input_tags))
    models = [] if model is None else [model]
    _session.get_client().log_inputs(_session.active().run_id, datasets, models)


def log_artifact(
    local_path: str | os.PathLike[str],
    artifact_path: str | None = None,
    run_id: str | None = None,
) -> None:
    """Copy a file into the active run's artifacts (or ``run_id``'s)."""
    client = _session.get_client()
    client.log_artifact(run_id or _session.active().run_id, local_path, artifact_path)


def log_artifacts(
    local_dir: str | os.PathLike[str],
    artifact_path: str | None = None,
    run_id: str | None = None,
) -> None:
    """Copy a folder's files into the active run's artifacts (or ``run_id``'s)."""
    client = _session.get_client()
    client.log_artifacts(run_id or _session.active().run_id, local_dir, artifact_path)


def log_text(text: str, artifact_file: str, run_id: str | None = None) -> None:
    _session.get_client().log_text(run_id or _session.active().run_id, text, artifact_file)


def log_dict(dictionary: Any, artifact_file: str, run_id: str | None = None) -> None:
    """Log a dict as JSON, or as YAML when ``artifact_file`` ends in .yaml/.yml."""
    client = _session.get_client()
    client.log_dict(run_id or _session.active().run_id, dictionary, artifact_file)


def log_table(data: Any, artifact_file: str, run_id: str | None = None) -> None:
    """A DataFrame or a dict of columns as MLflow's table artifact (JSON
    ``{"columns": [...], "data": [...]}``, or Parquet); logged again to the same
    file, the rows are appended."""
    _session.get_client().log_table(run_id or _session.active().run_id, data, artifact_file)


def log_image(
    image: Any,
    artifact_file: str | None = None,
    key: str | None = None,
    step: int | None = None,
    timestamp: int | None = None,
    synchronous: bool | None = False,
) -> None:
    """A numpy array or a PIL image saved to ``artifact_file`` in its extension's
    format (MLflow's; its image series, ``key=`` and ``step=``, are refused)."""
    _session.get_client().log_image(
        _session.active().run_id, image, artifact_file, key, step, timestamp
    )


def log_figure(
    figure: Any, artifact_file: str, *, save_kwargs: Mapping[str, Any] | None = None
) -> None:
    """Log a matplotlib figure (any format ``savefig`` writes) or a plotly figure
    (``.html``, or an image format through ``write_image``); ``save_kwargs`` go to
    ``savefig`` or ``write_image`` as in MLflow."""
    buffer = io.BytesIO()
    extension = Path(artifact_file).suffix.lstrip(".").lower() or "png"
    extra = dict(save_kwargs or {})
    if hasattr(figure, "savefig"):
        figure.savefig(buffer, format=extension, **extra)
    elif hasattr(figure, "write_html") and extension == "html":
        buffer.write(figure.to_html(**extra).encode())
    elif hasattr(figure, "write_image"):
        figure.write_image(buffer, format=extension, **extra)
    else:
        raise InvalidInputError(
            f"cannot log {type(figure).__name__}: expected a matplotlib or plotly figure"
        )
    client = _session.get_client()
    client.store.artifacts(_session.active().run_id).write_bytes(artifact_file, buffer.getvalue())


def list_artifacts(
    run_id: str | None = None,
    path: str | None = None,
    *,
    artifact_path: str | None = None,
    artifact_uri: str | None = None,
) -> list[FileInfo]:
    """The artifacts directly under ``path`` of a run, as ``MlflowClient.list_artifacts
    (run_id, path)`` and ``mlflow.artifacts.list_artifacts(artifact_uri=, run_id=,
    artifact_path=)`` take them: ``run_id`` (or a ``runs:/<run_id>/<path>`` URI) names
    the run; without one, the active run, else the run the environment names. A read:
    it never starts a run (InvalidInputError when there is none to read).

    A first argument that names no run but a folder of the active run, as
    ``list_artifacts("plots")`` did before mlcli took MLflow's order, still lists it."""
    client = _session.get_client()
    if artifact_path is not None and path is not None and artifact_path != path:
        raise InvalidInputError("list_artifacts: give path or artifact_path, not both")
    path = path if path is not None else artifact_path
    if artifact_uri is not None or (run_id or "").startswith("runs:/"):
        if artifact_uri is not None and run_id is not None:
            raise InvalidInputError("list_artifacts: give run_id or artifact_uri, not both")
        if path is not None:
            raise InvalidInputError("list_artifacts: artifact_path cannot go with a URI")
        run_id, path = _runs_uri(str(artifact_uri or run_id))
    elif (
        run_id is not None
        and path is None
        and (_session.stack or attached_run() is not None)
        and not _names_run(client, run_id)
    ):
        run_id, path = None, run_id  # the old call: a folder of the active run
    target = _session.read_run_id(client, run_id, "list_artifacts")
    return client.list_artifacts(target, path or None)


def get_artifact_uri(artifact_path: str | None = None, run_id: str | None = None) -> str:
    """The URI of the active run's artifacts (of ``artifact_path`` in them), as MLflow's
    ``get_artifact_uri``; ``run_id`` reads another run's. Unlike MLflow, it never
    starts a run: without an active run (or one the environment names) it is an
    InvalidInputError."""
    client = _session.get_client()
    target = _session.read_run_id(client, run_id, "get_artifact_uri")
    root = client.get_run(target).info.artifact_uri.rstrip("/")
    if not artifact_path:
        return root
    return f"{root}/{artifact_path.strip('/')}"


def _names_run(client: TrackingClient, ref: str) -> bool:
    """Whether ``ref`` is a full run id of this store (a read; no run is created)."""
    if len(ref) != 32 or not _store_exists(client):
        return False
    try:
        client.resolve_run_id(ref)
    except NotFoundError:
        return False
    return True


def _runs_uri(uri: str) -> tuple[str, str | None]:
    """(run id, path) of ``runs:/<run_id>[/<path>]``."""
    rest = uri[len("runs:/") :].lstrip("/") if uri.startswith("runs:/") else ""
    run_id, _, path = rest.partition("/")
    if not run_id:
        raise InvalidInputError(f"{uri!r}: expected runs:/<run_id>/<path>")
    return run_id, path.strip("/") or None


def _store_exists(client: TrackingClient) -> bool:
    """Whether the store is there to read; a store the environment names that cannot
    be opened is an error, not an empty store."""
    try:
        client.store  # noqa: B018 - opening it is the check
    except StoreError:
        if named_store() is not None:
            raise
        return False
    return True


def get_metric_history(run_id: str, key: str) -> list[Metric]:
    return _session.get_client().get_metric_history(run_id, key)


def flush() -> None:
    """Write buffered metric points now (they are also written at least every second),
    and wait for what is being logged in the background (an autologged model)."""
    metric_buffer().flush()
    background_work().wait()
