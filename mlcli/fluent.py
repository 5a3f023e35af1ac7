"""The fluent API: ``with mlcli.start_run(): mlcli.log_metric(...)``.

Named like MLflow's so that tutorial code needs only its import changed. The
process keeps a stack of active runs (``nested=True`` pushes a child). Inside a
process started by ``mlcli run``, ``MLCLI_RUN_ID`` makes ``start_run()`` attach to
the run ``mlcli run`` created; that run is ended by its owner, not by the child.

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
from mlcli.errors import InvalidInputError
from mlcli.store import (
    MAX_INT64,
    Experiment,
    FileInfo,
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
from mlcli.tracking.client import TrackingClient
from mlcli.tracking.context import script_source_tags
from mlcli.tracking.metric_buffer import metric_buffer


class ActiveRun:
    """A run started by :func:`start_run`; use it as a context manager."""

    def __init__(self, run: Run, attached: bool) -> None:
        self._run = run
        self.attached = attached

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

    def get_client(self) -> TrackingClient:
        """The client for the store this process means now. Between top-level runs the
        store is looked up again, since the working directory or MLCLI_STORE may have
        changed; the chosen experiment belongs to the old store and is forgotten."""
        key = (named_store(), os.getcwd())
        if self.client is None or (not self.stack and key != self.client_key):
            self.client = TrackingClient(announce=_announce_store)
            self.client_key = key
            self.experiment_id = None
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
    ) -> ActiveRun:
        client = self.get_client()
        with self.lock:
            if self.stack and not nested:
                raise InvalidInputError(
                    f"run {self.stack[-1].run_id} is already active; end it first with "
                    "mlcli.end_run(), or start a nested run with start_run(nested=True)"
                )
            attached_id = os.environ.get("MLCLI_RUN_ID") if not self.stack else None
            resumed_id = run_id or attached_id
            if resumed_id:
                active = self._resume(client, resumed_id, attached=not run_id)
            else:
                active = self._create(
                    client, experiment, experiment_id, run_name, tags, description
                )
            self.stack.append(active)
            self._install_handlers()
            return active

    def _resume(self, client: TrackingClient, run_id: str, attached: bool) -> ActiveRun:
        run = client.get_run(run_id)
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
    ) -> ActiveRun:
        parent = self.stack[-1].run_id if self.stack else None
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

    def resolve_experiment(
        self, client: TrackingClient, name: str | None, experiment_id: str | None
    ) -> str | None:
        if name:
            return client.get_or_create_experiment(name).experiment_id
        if experiment_id:
            return client.get_experiment(experiment_id).experiment_id
        if self.experiment_id:
            return self.experiment_id
        from mlcli.tracking.default_experiment import environment_experiment_id

        return environment_experiment_id(client)

    def end_run(self, status: str, run_id: str | None = None) -> None:
        with self.lock:
            if not self.stack:
                return
            if run_id is not None and self.stack[-1].run_id != run_id:
                if run_id not in [a.run_id for a in self.stack]:
                    return
                while self.stack[-1].run_id != run_id:  # end children left open first
                    self._finish(self.stack.pop(), status)
            self._finish(self.stack.pop(), status)

    def end_all(self, status: str) -> None:
        with self.lock:
            while self.stack:
                self._finish(self.stack.pop(), status)

    def _finish(self, active: ActiveRun, status: str) -> None:
        client = self.get_client()
        sampler = self.samplers.pop(active.run_id, None)
        if sampler is not None:
            sampler.stop()
        metric_buffer().flush(active.run_id)
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


def _announce_store(root: Path) -> None:
    sys.stderr.write(f"mlcli: created a new store at {root}\n")


# -- runs ----------------------------------------------------------------------------------


def start_run(
    run_id: str | None = None,
    experiment: str | None = None,
    run_name: str | None = None,
    nested: bool = False,
    tags: Mapping[str, Any] | None = None,
    description: str | None = None,
    experiment_id: str | None = None,
    log_system_metrics: bool | None = None,
) -> ActiveRun:
    """Start a run (or resume ``run_id``) and make it the active run.

    ``experiment`` names the experiment (created if missing); without it the run goes
    to the experiment chosen by :func:`set_experiment`, ``MLCLI_EXPERIMENT_NAME``,
    ``MLCLI_EXPERIMENT_ID``, or Default. Use it as a context manager::

        with mlcli.start_run(run_name="baseline"):
            mlcli.log_param("lr", 0.1)
            mlcli.log_metric("loss", 0.5, step=1)

    ``log_system_metrics=True`` (default: ``MLCLI_ENABLE_SYSTEM_METRICS_LOGGING``)
    samples this process and its children into ``system/...`` metrics every
    ``MLCLI_SYSTEM_METRICS_INTERVAL`` seconds (10) until the run ends; not for the run
    ``mlcli run`` created, which samples it itself (docs/capture.md).
    """
    active = _session.start_run(
        run_id, experiment, experiment_id, run_name, nested, tags, description
    )
    if log_system_metrics is None:
        log_system_metrics = os.environ.get("MLCLI_ENABLE_SYSTEM_METRICS_LOGGING", "").lower() in (
            "1",
            "true",
        )
    if log_system_metrics and not active.attached and active.run_id not in _session.samplers:
        from mlcli.capture.system_metrics import sample_this_process

        sampler = sample_this_process(_session.get_client(), active.run_id)
        if sampler is not None:
            _session.samplers[active.run_id] = sampler
    return active


def end_run(status: str = RunStatus.FINISHED) -> None:
    """End the active run with ``status`` (FINISHED, FAILED or KILLED)."""
    if status.upper() not in RunStatus.TERMINAL:
        raise InvalidInputError(f"invalid final status {status!r}")
    _session.end_run(status.upper())


def active_run() -> ActiveRun | None:
    """The active run, or None."""
    return _session.stack[-1] if _session.stack else None


def last_active_run_id() -> str | None:
    return _session.stack[-1].run_id if _session.stack else None


def set_experiment(
    experiment_name: str | None = None, experiment_id: str | None = None
) -> Experiment:
    """Make later runs go to this experiment, creating it by name if needed."""
    client = _session.get_client()
    if experiment_name:
        experiment = client.get_or_create_experiment(experiment_name)
    elif experiment_id:
        experiment = client.get_experiment(experiment_id)
    else:
        raise InvalidInputError("set_experiment needs an experiment name or id")
    _session.experiment_id = experiment.experiment_id
    return experiment


def set_tracking_uri(uri: str | os.PathLike[str]) -> None:
    """Use this store from now on, in this process and the processes it starts: a
    ``.mlruns`` path, ``s3://bucket/prefix`` or a remote's name, as ``--store`` takes
    (it sets ``MLCLI_STORE``). Runs already active keep their store."""
    text = os.fspath(uri)
    if not text.strip():
        raise InvalidInputError("set_tracking_uri needs a store: a path, s3://... or a remote")
    os.environ["MLCLI_STORE"] = text


def get_tracking_uri() -> str:
    """The store later runs go to: what ``set_tracking_uri`` or the environment named,
    else the nearest ``.mlruns`` (or where a first run would create it)."""
    return store_location()


def get_run(run_id: str) -> Run:
    return _session.get_client().get_run(run_id)


def search_runs(
    experiments: list[str] | str | None = None,
    filter: str | None = None,
    order_by: list[str] | str | None = None,
    max_results: int = 100_000,
    include_deleted: bool = False,
    output_format: str = "list",
) -> Any:
    """Runs of the named experiments (names or ids; all active ones when None): a list
    of Run objects, or with ``output_format="pandas"`` a DataFrame with MLflow's
    columns (run_id, ..., ``metrics.*``, ``params.*``, ``tags.*``; see
    ``mlcli/compare/frame.py``)."""
    if output_format not in ("list", "pandas"):
        raise InvalidInputError(
            f"invalid output_format {output_format!r}: expected 'list' or 'pandas'"
        )
    client = _session.get_client()
    names = [experiments] if isinstance(experiments, str) else experiments
    ids = None if names is None else [client.resolve_experiment(n).experiment_id for n in names]
    orders = [order_by] if isinstance(order_by, str) else order_by
    view = ViewType.ALL if include_deleted else ViewType.ACTIVE_ONLY
    runs = client.search_runs(ids, filter, orders, max_results, view)
    if output_format == "pandas":
        from mlcli.compare.frame import runs_frame

        return runs_frame(runs)
    return runs


# -- logging ---------------------------------------------------------------------------------

_valid_metric_keys: set[str] = set()


def log_metric(
    key: str, value: float, step: int | None = None, timestamp: int | None = None
) -> None:
    """Log a metric point to the active run (buffered; see ``metric_buffer``)."""
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


def log_metrics(
    metrics: Mapping[str, float], step: int | None = None, timestamp: int | None = None
) -> None:
    timestamp = now_ms() if timestamp is None else timestamp
    for key, value in metrics.items():
        log_metric(key, value, step, timestamp)


def log_param(key: str, value: Any) -> Any:
    """Log a param (immutable: the same value again is fine, a different one an error)."""
    _session.get_client().log_param(_session.active().run_id, key, value)
    return value


def log_params(params: Mapping[str, Any]) -> None:
    _session.get_client().log_batch(_session.active().run_id, params=params)


def set_tag(key: str, value: Any) -> None:
    _session.get_client().set_tag(_session.active().run_id, key, value)


def set_tags(tags: Mapping[str, Any]) -> None:
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
    from mlcli.store import DATASET_CONTEXT_TAG, DatasetInput
    from mlcli.store.inputs import as_dataset

    datasets = []
    if dataset is not None:
        input_tags = {str(k): str(v) for k, v in (tags or {}).items()}
        if context is not None:
            input_tags[DATASET_CONTEXT_TAG] = context
        datasets.append(DatasetInput(as_dataset(dataset), input_tags))
    models = [] if model is None else [model]
    _session.get_client().log_inputs(_session.active().run_id, datasets, models)


def log_artifact(local_path: str | os.PathLike[str], artifact_path: str | None = None) -> None:
    _session.get_client().log_artifact(_session.active().run_id, local_path, artifact_path)


def log_artifacts(local_dir: str | os.PathLike[str], artifact_path: str | None = None) -> None:
    _session.get_client().log_artifacts(_session.active().run_id, local_dir, artifact_path)


def log_text(text: str, artifact_file: str) -> None:
    _session.get_client().log_text(_session.active().run_id, text, artifact_file)


def log_dict(dictionary: Any, artifact_file: str) -> None:
    """Log a dict as JSON, or as YAML when ``artifact_file`` ends in .yaml/.yml."""
    _session.get_client().log_dict(_session.active().run_id, dictionary, artifact_file)


def log_figure(figure: Any, artifact_file: str) -> None:
    """Log a matplotlib figure (any format ``savefig`` writes) or a plotly figure
    (``.html``, or an image format through ``write_image``)."""
    buffer = io.BytesIO()
    extension = Path(artifact_file).suffix.lstrip(".").lower() or "png"
    if hasattr(figure, "savefig"):
        figure.savefig(buffer, format=extension)
    elif hasattr(figure, "write_html") and extension == "html":
        buffer.write(figure.to_html().encode())
    elif hasattr(figure, "write_image"):
        figure.write_image(buffer, format=extension)
    else:
        raise InvalidInputError(
            f"cannot log {type(figure).__name__}: expected a matplotlib or plotly figure"
        )
    client = _session.get_client()
    client.store.artifacts(_session.active().run_id).write_bytes(artifact_file, buffer.getvalue())


def list_artifacts(path: str | None = None) -> list[FileInfo]:
    return _session.get_client().list_artifacts(_session.active().run_id, path)


def get_metric_history(run_id: str, key: str) -> list[Metric]:
    return _session.get_client().get_metric_history(run_id, key)


def flush() -> None:
    """Write buffered metric points now (they are also written at least every second)."""
    metric_buffer().flush()
