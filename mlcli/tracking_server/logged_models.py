"""``/logged-models/...`` and ``/runs/outputs``: MLflow 3's logged models.

``mlflow.<flavor>.log_model`` creates a logged model, uploads its files to the
model's artifact location, links it to the run and re-logs the run's metrics with the
model's id. The server keeps the model with its run (``mlcli.store.logged_models``):
the files land in the run's artifacts under the model's name, so ``runs:/RUN/NAME``
names it for mlcli and MLflow alike. A logged model without a run is refused: mlcli
has nowhere to keep it.
"""

from __future__ import annotations

import re
from collections import defaultdict
from typing import Any

from mlcli.errors import InvalidInputError, NotFoundError
from mlcli.search.entity_filter import EntityFilter, Record, sort_records
from mlcli.store import (
    LoggedModel,
    Metric,
    json_number,
    validate_key,
    validate_param_value,
    validate_tag_value,
)
from mlcli.tracking_server import shapes
from mlcli.tracking_server.backend import Backend, Endpoint, run_id_of
from mlcli.tracking_server.fields import OBJECTS, Fields
from mlcli.tracking_server.paging import decode_token, max_results, page
from mlcli.tracking_server.tags import tags_to_store, to_store

_ATTRIBUTES = {
    "name": "text", "model_id": "text", "source_run_id": "text", "status": "text",
    "model_type": "text", "creation_timestamp": "number", "last_updated_timestamp": "number",
}  # fmt: skip
_RUN_ID = re.compile(r"^[0-9a-f]{32}\Z")
_ALIASES = {"creation_time": "creation_timestamp", "last_updated_time": "last_updated_timestamp"}
_ORDER = {
    "name": lambda m: m.name,
    "model_id": lambda m: m.model_id,
    "creation_timestamp": lambda m: m.creation_timestamp,
    "creation_time": lambda m: m.creation_timestamp,
    "last_updated_timestamp": lambda m: m.last_updated_timestamp,
}


def create(backend: Backend, fields: Fields) -> dict[str, Any]:
    source_run = fields.string("source_run_id")
    if not source_run:
        raise InvalidInputError(
            "mlcli keeps a logged model with the run that logged it: log the model inside "
            "a run (mlflow.start_run())"
        )
    run_id = backend.writable_run(source_run)
    experiment_id = backend.store.runs.info(run_id).experiment_id
    given = fields.string("experiment_id")
    if given and given != experiment_id:
        raise InvalidInputError(f"run {run_id} belongs to experiment {experiment_id}, not {given}")
    model = backend.logged_models.create(
        run_id=run_id,
        experiment_id=experiment_id,
        name=fields.required("name"),
        model_type=fields.string("model_type") or None,
        tags=_tags(fields),
        params=_params(fields),
    )
    return {"model": shapes.logged_model(model)}


def get(backend: Backend, fields: Fields) -> dict[str, Any]:
    return {"model": shapes.logged_model(_model(backend, fields))}


def finalize(backend: Backend, fields: Fields) -> dict[str, Any]:
    model = _model(backend, fields)
    status = shapes.logged_model_status(fields.required("status"))
    return {
        "model": shapes.logged_model(backend.logged_models.update(model.model_id, status=status))
    }


def delete(backend: Backend, fields: Fields) -> dict[str, Any]:
    backend.logged_models.update(_model(backend, fields).model_id, deleted=True)
    return {}


def set_tags(backend: Backend, fields: Fields) -> dict[str, Any]:
    model = backend.logged_models.update(_model(backend, fields).model_id, tags=_tags(fields))
    return {"model": shapes.logged_model(model)}


def delete_tag(backend: Backend, fields: Fields) -> dict[str, Any]:
    model = _model(backend, fields)
    key = to_store(fields.required("tag_key"))
    if key not in model.tags:
        raise NotFoundError(
            f"logged model {model.model_id} has no tag {fields.required('tag_key')!r}"
        )
    backend.logged_models.update(model.model_id, tags={key: None})
    return {}


def log_params(backend: Backend, fields: Fields) -> dict[str, Any]:
    backend.logged_models.update(_model(backend, fields).model_id, params=_params(fields))
    return {}


def list_artifacts(backend: Backend, fields: Fields) -> dict[str, Any]:
    model = _model(backend, fields)
    sub = fields.string("artifact_directory_path") or ""
    path = f"{model.artifact_path}/{sub}".rstrip("/") if sub else model.artifact_path
    files = backend.store.artifacts(model.run_id).list(path)
    prefix = model.artifact_path + "/"
    return {
        "root_uri": shapes.run_artifact_uri(model.experiment_id, model.run_id, model.artifact_path),
        "files": [
            {"path": f.path.removeprefix(prefix), "is_dir": f.is_dir}
            | ({} if f.file_size is None else {"file_size": f.file_size})
            for f in files
        ],
    }


def search(backend: Backend, fields: Fields) -> dict[str, Any]:
    limit = max_results(fields.integer("max_results"), 100)
    offset = decode_token(fields.string("page_token"))
    condition = EntityFilter(
        fields.string("filter"),
        _ATTRIBUTES,
        aliases=_ALIASES,
        kinds=("attribute", "tag", "param"),
        what="logged model filter",
    )
    run_ids = _candidate_runs(backend, fields.strings("experiment_ids"), condition)
    found = [
        model
        for run_id in run_ids
        for model in backend.logged_models.of_run(run_id)
        if not model.deleted and condition.matches(_record(model))
    ]
    clauses = [_order_clause(item) for item in fields.objects("order_by")]
    ordered = sort_records(found, clauses, _ORDER, default=("creation_timestamp DESC",))
    chosen, token = page(ordered, offset, limit)
    reply: dict[str, Any] = {"models": [shapes.logged_model(m) for m in chosen]}
    if token:
        reply["next_page_token"] = token
    return reply


def log_outputs(backend: Backend, fields: Fields) -> dict[str, Any]:
    """Links models to a run's outputs. A model is always an output of the run that
    logged it (at the step given here); links to other runs are not kept."""
    run_id = backend.writable_run(run_id_of(fields))
    for item in fields.objects("models"):
        model = backend.logged_models.get(item.required("model_id"))
        if model.run_id == run_id:
            backend.logged_models.update(model.model_id, step=item.integer("step", default=0))
    return {}


def log_model_metrics(backend: Backend, run_id: str, linked: list[tuple[str, Metric]]) -> None:
    """Metrics logged with a model id: kept with the model, and with the run unless the
    run already has that very point (``log_model`` re-logs the run's metrics with the
    model's id; MLflow's SQL store drops such duplicates the same way)."""
    if not linked:
        return
    by_model: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for model_id, metric in linked:
        by_model[model_id].append(
            {
                "key": metric.key,
                "value": json_number(metric.value),
                "timestamp": metric.timestamp,
                "step": metric.step,
                "run_id": run_id,
            }
        )
    for model_id, metrics in by_model.items():
        backend.logged_models.update(backend.logged_models.get(model_id).model_id, metrics=metrics)
    points = {_point(m) for _, m in linked}
    history = backend.store.runs.iter_metric_history(run_id)  # streamed: it may be huge
    known = {point for point in map(_point, history) if point in points}
    fresh = [m for _, m in linked if _point(m) not in known]
    backend.store.runs.append_metrics(run_id, fresh)


# -- internals ---------------------------------------------------------------------------------


def _model(backend: Backend, fields: Fields) -> LoggedModel:
    return backend.logged_models.get(fields.required("model_id"))


def _tags(fields: Fields) -> dict[str, str]:
    return {
        validate_key(k, "tag key"): validate_tag_value(k, v)
        for k, v in tags_to_store(dict(fields.key_values("tags"))).items()
    }


def _params(fields: Fields) -> dict[str, str]:
    return {
        validate_key(k, "param key"): validate_param_value(k, v)
        for k, v in fields.key_values("params")
    }


def _candidate_runs(
    backend: Backend, experiment_ids: list[str], condition: EntityFilter
) -> list[str]:
    run_id = condition.equality("source_run_id")
    if run_id is not None:
        known = _RUN_ID.match(run_id) and backend.store.runs.exists(run_id)
        return [run_id] if known else []
    if not experiment_ids:
        raise InvalidInputError("missing value for required parameter 'experiment_ids'")
    return backend.store.run_ids_of_experiments(experiment_ids)


def _record(model: LoggedModel) -> Record:
    return Record(
        attributes={
            "name": model.name,
            "model_id": model.model_id,
            "source_run_id": model.run_id,
            "status": model.status,
            "model_type": model.model_type,
            "creation_timestamp": model.creation_timestamp,
            "last_updated_timestamp": model.last_updated_timestamp,
        },
        tags=model.tags,
        params=model.params,
    )


def _order_clause(item: Fields) -> str:
    name = item.required("field_name")
    return f"{name} {'ASC' if item.boolean('ascending', default=True) else 'DESC'}"


def _point(metric: Metric) -> tuple[str, str, int, int]:
    return (metric.key, repr(metric.value), metric.step, metric.timestamp)


ENDPOINTS = [
    Endpoint("POST", "/logged-models", create),
    Endpoint("POST", "/logged-models/search", search, {"order_by": OBJECTS}),
    Endpoint("GET", "/logged-models/{model_id}", get),
    Endpoint("PATCH", "/logged-models/{model_id}", finalize),
    Endpoint("DELETE", "/logged-models/{model_id}", delete),
    Endpoint("PATCH", "/logged-models/{model_id}/tags", set_tags),
    Endpoint("DELETE", "/logged-models/{model_id}/tags/{tag_key}", delete_tag),
    Endpoint("POST", "/logged-models/{model_id}/params", log_params),
    Endpoint("GET", "/logged-models/{model_id}/artifacts/directories", list_artifacts),
    Endpoint("POST", "/runs/outputs", log_outputs),
]
