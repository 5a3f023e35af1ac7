"""``/runs/...`` and ``/metrics/get-history``: runs and what is logged to them.

Every write goes through :class:`~mlcli.tracking.client.TrackingClient`, which checks
keys and values (MLflow's limits) and appends to the run's logs; MLflow's system tags
are stored under their ``mlcli.`` names (see ``tags.py``), so a nested run's parent,
a run's name and its user are the ones mlcli's own commands show.

mlcli's own clients also send who owns a live run (``mlcli_owner`` on runs/create and
runs/update: a process, a Slurm job, a Kubernetes Job) and its heartbeat
(``mlcli_heartbeat``: ``{"every": seconds}``, stamped with this server's clock when it
arrives). The store records them as it records a local owner, and this server's reads
end a run whose owner is gone (``mlcli.store.ownership``): a process on this host by
looking at it, one elsewhere once its heartbeat is stale, a job by asking its
scheduler where this host can. MLflow's clients send neither: their runs have no owner.
"""

from __future__ import annotations

import hashlib
import json
import sys
from itertools import islice
from typing import Any

from mlcli.clock import now_ms
from mlcli.errors import InvalidInputError, NotFoundError
from mlcli.store import (
    Dataset,
    DatasetInput,
    Metric,
    ModelInput,
    Owner,
    RunInputs,
    RunOwner,
    RunRecords,
    RunStatus,
    heartbeat_change,
    parse_owner,
    validate_run_name,
)
from mlcli.system_tags import PARENT_RUN_ID, RUN_NAME, USER
from mlcli.tracking.client import make_metric
from mlcli.tracking_server import shapes
from mlcli.tracking_server.backend import Backend, Endpoint, run_id_of
from mlcli.tracking_server.experiments import view_type
from mlcli.tracking_server.fields import DOUBLE, OBJECTS, Fields
from mlcli.tracking_server.logged_models import log_model_metrics
from mlcli.tracking_server.paging import decode_token, encode_token, max_results
from mlcli.tracking_server.tags import (
    filter_to_store,
    order_by_to_store,
    tags_to_store,
    to_store,
)

# MLflow's limits on one log-batch request (its REST API's LogBatch).
MAX_BATCH_METRICS = 1000
MAX_BATCH_PARAMS = 100
MAX_BATCH_TAGS = 100
MAX_BATCH_TOTAL = 1000
# mlcli's fields (see the module's docstring); MLflow's clients never send them
OWNER = "mlcli_owner"
HEARTBEAT = "mlcli_heartbeat"


def create(backend: Backend, fields: Fields) -> dict[str, Any]:
    tags = tags_to_store(dict(fields.key_values("tags")))
    owner, every = _owner(fields), _heartbeat_period(fields)
    run = backend.client.create_run(
        fields.string("experiment_id") or None,
        run_name=fields.string("run_name") or tags.get(RUN_NAME) or None,
        tags=tags,
        parent_run_id=tags.get(PARENT_RUN_ID) or None,
        start_time=fields.time("start_time"),
        user_id=fields.string("user_id") or tags.get(USER) or None,
        owner=owner,
    )
    if every is not None and isinstance(owner, Owner):  # the owner's period, not ours
        backend.store.runs.update(run.run_id, **heartbeat_change(every))
    return {"run": shapes.run(run)}


def get(backend: Backend, fields: Fields) -> dict[str, Any]:
    run = backend.client.get_run(run_id_of(fields))
    return {"run": shapes.run(run, backend.logged_models.of_run(run.run_id))}


def update(backend: Backend, fields: Fields) -> dict[str, Any]:
    """Everything is checked before the first write, so a refused update changes nothing."""
    client = backend.client
    run_id = client.resolve_run_id(run_id_of(fields))
    status = (fields.string("status") or "").upper()
    name = fields.string("run_name") or None
    end_time = fields.time("end_time")
    if status and status not in RunStatus.ALL:
        raise InvalidInputError(
            f"invalid status {status!r}: expected one of {', '.join(RunStatus.ALL)}"
        )
    if end_time is not None and status not in RunStatus.TERMINAL:
        raise InvalidInputError(
            "end_time is the time a run ended: send it with status FINISHED, FAILED or KILLED"
        )
    if name is not None:
        validate_run_name(name)
    owner, every = _owner(fields), _heartbeat_period(fields)
    if owner is not None and status not in RunStatus.LIVE:
        raise InvalidInputError(
            f"{OWNER} names who owns a live run: send it with status RUNNING or SCHEDULED"
        )
    if status in RunStatus.TERMINAL:
        client.set_terminated(run_id, status, end_time)
    elif status:  # a live status without an owner: nobody watches the run any more
        client.store.runs.set_status(run_id, status, owner=owner)
    if every is not None and client.store.runs.info(run_id).status in RunStatus.LIVE:
        client.store.runs.update(run_id, **heartbeat_change(every))
    run = client.update_run(run_id, name=name)
    return {"run_info": shapes.run_info(run.info)}


def delete(backend: Backend, fields: Fields) -> dict[str, Any]:
    backend.client.delete_run(run_id_of(fields))
    return {}


def restore(backend: Backend, fields: Fields) -> dict[str, Any]:
    backend.client.restore_run(run_id_of(fields))
    return {}


def log_metric(backend: Backend, fields: Fields) -> dict[str, Any]:
    run_id = backend.writable_run(run_id_of(fields))
    metric = _metric(fields)
    model_id = fields.string("model_id")
    if model_id:
        log_model_metrics(backend, run_id, [(model_id, metric)])
    else:
        backend.store.runs.append_metrics(run_id, [metric])
    return {}


def log_param(backend: Backend, fields: Fields) -> dict[str, Any]:
    run_id = backend.writable_run(run_id_of(fields))
    backend.client.log_param(run_id, fields.required("key"), fields.string("value", default=""))
    return {}


def set_tag(backend: Backend, fields: Fields) -> dict[str, Any]:
    run_id = backend.writable_run(run_id_of(fields))
    _set_tags(backend, run_id, [(fields.required("key"), fields.string("value", default=""))])
    return {}


def delete_tag(backend: Backend, fields: Fields) -> dict[str, Any]:
    backend.client.delete_tag(run_id_of(fields), to_store(fields.required("key")))
    return {}


def log_batch(backend: Backend, fields: Fields) -> dict[str, Any]:
    """Everything is checked first (models and parent included); the run's params, tags
    and metrics are then written as one batch, which readers see whole or not at all."""
    run_id = backend.writable_run(run_id_of(fields))
    items = fields.objects("metrics")
    params = fields.key_values("params")
    tags = tags_to_store(dict(fields.key_values("tags")))
    _check_batch_size(len(items), len(params), len(tags))
    metrics = [_metric(item) for item in items]
    linked = [(item.string("model_id"), m) for item, m in zip(items, metrics, strict=True)]
    for model_id in {model_id for model_id, _ in linked if model_id}:
        backend.logged_models.get(model_id)  # NotFoundError before anything is written
    parent = _parent_of(backend, tags)
    plain = [m for model_id, m in linked if not model_id]
    batch_id = fields.string("mlcli_batch_id") or (_content_id(run_id, fields) if plain else None)
    backend.client.log_batch(run_id, metrics=plain, params=params, tags=tags, batch_id=batch_id)
    if parent:
        backend.store.runs.update(run_id, parent_run_id=parent)
    log_model_metrics(backend, run_id, [(mid, m) for mid, m in linked if mid])
    return {}


def log_inputs(backend: Backend, fields: Fields) -> dict[str, Any]:
    """Datasets (and MLflow 3's logged models) a run read; those it already has are
    kept as they are, as MLflow's stores do. A model must exist."""
    run_id = backend.writable_run(run_id_of(fields))
    datasets = [_dataset_input(item) for item in fields.objects("datasets")]
    models = [ModelInput(item.required("model_id")) for item in fields.objects("models")]
    for model in {m.model_id for m in models}:
        backend.logged_models.get(model)  # NotFoundError before anything is written
    backend.store.runs.log_inputs(run_id, datasets, models)
    return {}


def get_history(backend: Backend, fields: Fields) -> dict[str, Any]:
    run_id = run_id_of(fields)
    key = fields.required("metric_key")
    limit = max_results(fields.integer("max_results"), 25_000)
    offset = min(decode_token(fields.string("page_token")), sys.maxsize // 2)  # for islice
    points = backend.client.iter_metric_history(run_id, key)
    chosen = list(islice(points, offset, offset + limit + 1))  # one more: is there a next?
    reply: dict[str, Any] = {"metrics": [shapes.metric(m) for m in chosen[:limit]]}
    if len(chosen) > limit:
        reply["next_page_token"] = encode_token(offset + limit)
    return reply


def search(backend: Backend, fields: Fields) -> dict[str, Any]:
    limit = max_results(fields.integer("max_results"), 1000)
    offset = decode_token(fields.string("page_token"))
    experiment_ids = fields.strings("experiment_ids")
    runs = backend.client.search_runs(
        experiment_ids or None,
        filter_to_store(fields.string("filter")),
        order_by=order_by_to_store(fields.strings("order_by")),
        max_results=limit + 1,
        run_view_type=view_type(fields, "run_view_type"),
        offset=offset,
    )
    models, records = backend.logged_models, backend.store.runs
    reply: dict[str, Any] = {
        "runs": [
            shapes.run(run, models.of_run(run.run_id), _inputs_of(records, run.run_id))
            for run in runs[:limit]
        ]
    }
    if len(runs) > limit:
        reply["next_page_token"] = encode_token(offset + limit)
    return reply


def list_artifacts(backend: Backend, fields: Fields) -> dict[str, Any]:
    run = backend.client.get_run(run_id_of(fields))
    path = fields.string("path") or None
    files = backend.client.list_artifacts(run.run_id, path)
    return {
        "root_uri": shapes.run_artifact_uri(run.info.experiment_id, run.run_id),
        "files": [_file(f.path, f.is_dir, f.file_size) for f in files],
    }


# -- internals ---------------------------------------------------------------------------------


def _owner(fields: Fields) -> RunOwner | None:
    value = fields.values.get(OWNER)
    return None if value is None else parse_owner(value, OWNER)


def _heartbeat_period(fields: Fields) -> float | None:
    """The owner's heartbeat period in seconds (``{"every": s}``); None when not sent."""
    value = fields.values.get(HEARTBEAT)
    if value is None:
        return None
    every = value.get("every") if isinstance(value, dict) else None
    if (
        not isinstance(value, dict)
        or set(value) != {"every"}
        or not isinstance(every, int | float)
        or isinstance(every, bool)
        or not 0 < every < 1e9
    ):
        raise InvalidInputError(f'invalid {HEARTBEAT}: expected {{"every": <seconds above 0>}}')
    return float(every)


def _metric(fields: Fields) -> Metric:
    key = fields.required("key")
    value = fields.number("value")
    if value is None:
        raise InvalidInputError(f"missing value for metric {key!r}")
    timestamp = fields.time("timestamp")
    return make_metric(
        key, value, fields.integer("step"), now_ms() if timestamp is None else timestamp
    )


def _inputs_of(records: RunRecords, run_id: str) -> RunInputs:
    try:
        return records.read_inputs(run_id)
    except NotFoundError:  # purged since the search: a page is not refused for it
        return RunInputs()


def _dataset_input(item: Fields) -> DatasetInput:
    """``{"tags": [{"key", "value"}], "dataset": {...}}`` of MLflow's LogInputs."""
    shape = item.values.get("dataset")
    if not isinstance(shape, dict):
        raise InvalidInputError("a dataset input needs its 'dataset': an object")
    dataset = Fields(shape)
    fields = ("name", "digest", "source_type", "source")
    values = {name: dataset.string(name) for name in (*fields, "schema", "profile")}
    for name in fields:
        if values[name] is None or (name != "source" and not values[name]):
            raise InvalidInputError(f"missing value for required parameter 'dataset.{name}'")
    tags = dict(item.key_values("tags"))
    return DatasetInput(Dataset(**values), tags)


def _content_id(run_id: str, fields: Fields) -> str:
    """The name of a log-batch that carries metrics and no name of its own (MLflow's
    clients): its content. A client that lost the answer and sends the same batch again
    (MLflow's retry after a 502 from a balancer whose replica died) has it written once;
    a batch that means new points differs in at least a timestamp, step or value, and
    MLflow's own database keeps one copy of identical points too. (mlcli's client names
    its batches itself: ``mlcli_batch_id``.)"""
    content = {name: fields.values.get(name) for name in ("metrics", "params", "tags")}
    text = json.dumps([run_id, content], sort_keys=True, separators=(",", ":"))
    return "m" + hashlib.sha256(text.encode()).hexdigest()[:31]


def _set_tags(backend: Backend, run_id: str, pairs: list[tuple[str, str]]) -> None:
    tags = tags_to_store(dict(pairs))
    parent = _parent_of(backend, tags)
    backend.client.log_batch(run_id, tags=tags)
    if parent:
        backend.store.runs.update(run_id, parent_run_id=parent)


def _parent_of(backend: Backend, tags: dict[str, str]) -> str | None:
    """The full id of the parent a tag names: a parent set after the run was created
    goes into the run document too."""
    parent = tags.get(PARENT_RUN_ID)
    return backend.client.resolve_run_id(parent) if parent else None


def _check_batch_size(metrics: int, params: int, tags: int) -> None:
    limits = (
        (metrics, MAX_BATCH_METRICS, "metrics"),
        (params, MAX_BATCH_PARAMS, "params"),
        (tags, MAX_BATCH_TAGS, "tags"),
        (metrics + params + tags, MAX_BATCH_TOTAL, "metrics, params and tags together"),
    )
    for count, limit, what in limits:
        if count > limit:
            raise InvalidInputError(
                f"a batch may log at most {limit} {what}; this one has {count}: split it"
            )


def _file(path: str, is_dir: bool, size: int | None) -> dict[str, Any]:
    shape: dict[str, Any] = {"path": path, "is_dir": is_dir}
    if size is not None:
        shape["file_size"] = size
    return shape


ENDPOINTS = [
    Endpoint("POST", "/runs/create", create),
    Endpoint("GET", "/runs/get", get),
    Endpoint("POST", "/runs/update", update),
    Endpoint("POST", "/runs/delete", delete),
    Endpoint("POST", "/runs/restore", restore),
    Endpoint("POST", "/runs/log-metric", log_metric, {"value": DOUBLE}, points=lambda _: 1),
    Endpoint("POST", "/runs/log-parameter", log_param),
    Endpoint("POST", "/runs/set-tag", set_tag),
    Endpoint("POST", "/runs/delete-tag", delete_tag),
    Endpoint("POST", "/runs/log-batch", log_batch, points=lambda f: len(f.objects("metrics"))),
    Endpoint("POST", "/runs/log-inputs", log_inputs, {"datasets": OBJECTS}),
    Endpoint("POST", "/runs/search", search),
    Endpoint("GET", "/metrics/get-history", get_history),
    Endpoint("GET", "/artifacts/list", list_artifacts),
]
