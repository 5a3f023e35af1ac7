"""``/experiments/...``: create, get, get-by-name, search, update, delete, restore, tags."""

from __future__ import annotations

from typing import Any

from mlcli.errors import InvalidInputError, NotFoundError
from mlcli.search.entity_filter import EntityFilter, Record, sort_records
from mlcli.store import Experiment, ViewType
from mlcli.tracking.activity import with_last_activity
from mlcli.tracking_server import shapes
from mlcli.tracking_server.backend import Backend, Endpoint
from mlcli.tracking_server.fields import Fields
from mlcli.tracking_server.paging import decode_token, max_results, page
from mlcli.tracking_server.tags import tags_to_store, to_store

VIEW_TYPES = {
    "ACTIVE_ONLY": ViewType.ACTIVE_ONLY, "1": ViewType.ACTIVE_ONLY,
    "DELETED_ONLY": ViewType.DELETED_ONLY, "2": ViewType.DELETED_ONLY,
    "ALL": ViewType.ALL, "3": ViewType.ALL,
}  # fmt: skip
_ATTRIBUTES = {
    "name": "text", "experiment_id": "text", "creation_time": "number",
    "last_update_time": "number",
}  # fmt: skip
_ORDER = {
    "name": lambda e: e.name,
    "experiment_id": lambda e: int(e.experiment_id) if e.experiment_id.isdigit() else 0,
    "creation_time": lambda e: e.creation_time,
    "last_update_time": lambda e: e.last_update_time,
}


def view_type(fields: Fields, name: str) -> str:
    text = (fields.string(name) or "ACTIVE_ONLY").upper()
    if text not in VIEW_TYPES:
        raise InvalidInputError(
            f"invalid {name} {text!r}: expected ACTIVE_ONLY, DELETED_ONLY or ALL"
        )
    return VIEW_TYPES[text]


def create(backend: Backend, fields: Fields) -> dict[str, Any]:
    name = fields.required("name")
    if fields.string("artifact_location"):
        raise InvalidInputError(
            "artifact_location is not supported: mlcli server keeps every run's artifacts "
            "in its store"
        )
    tags = tags_to_store(dict(fields.key_values("tags")))
    return {"experiment_id": backend.client.create_experiment(name, tags)}


def get(backend: Backend, fields: Fields) -> dict[str, Any]:
    experiment = backend.client.get_experiment(fields.required("experiment_id"))
    return {"experiment": _shape(backend, experiment)}


def get_by_name(backend: Backend, fields: Fields) -> dict[str, Any]:
    name = fields.required("experiment_name")
    experiments = backend.store.experiments
    found = experiments.find_by_name(name) or experiments.find_by_name(name, ViewType.ALL)
    if found is None:
        raise NotFoundError(f"no experiment named {name!r}")
    return {"experiment": _shape(backend, found)}


def search(backend: Backend, fields: Fields) -> dict[str, Any]:
    view = view_type(fields, "view_type")
    limit = max_results(fields.integer("max_results"), 1000)
    offset = decode_token(fields.string("page_token"))
    condition = EntityFilter(fields.string("filter"), _ATTRIBUTES)
    listed = with_last_activity(backend.store, backend.client.search_experiments(view))
    found = [e for e in listed if condition.matches(_record(e))]
    ordered = sort_records(
        found,
        fields.strings("order_by"),
        _ORDER,
        default=("creation_time DESC", "experiment_id ASC"),
    )
    chosen, token = page(ordered, offset, limit)
    reply: dict[str, Any] = {"experiments": [shapes.experiment(e) for e in chosen]}
    if token:
        reply["next_page_token"] = token
    return reply


def update(backend: Backend, fields: Fields) -> dict[str, Any]:
    experiment_id = fields.required("experiment_id")
    new_name = fields.string("new_name")
    if new_name:
        backend.client.rename_experiment(experiment_id, new_name)
    else:
        backend.client.get_experiment(experiment_id)
    return {}


def delete(backend: Backend, fields: Fields) -> dict[str, Any]:
    backend.client.delete_experiment(fields.required("experiment_id"))
    return {}


def restore(backend: Backend, fields: Fields) -> dict[str, Any]:
    backend.client.restore_experiment(fields.required("experiment_id"))
    return {}


def set_tag(backend: Backend, fields: Fields) -> dict[str, Any]:
    experiment_id = fields.required("experiment_id")
    key = to_store(fields.required("key"))
    backend.client.set_experiment_tag(experiment_id, key, fields.string("value", default=""))
    return {}


def delete_tag(backend: Backend, fields: Fields) -> dict[str, Any]:
    experiment_id = fields.required("experiment_id")
    backend.client.delete_experiment_tag(experiment_id, to_store(fields.required("key")))
    return {}


def activity(backend: Backend, fields: Fields) -> dict[str, Any]:
    """mlcli's ``experiments list`` columns (active runs, their latest activity), which
    MLflow's API has no call for."""
    found = backend.store.experiment_activity()
    return {
        "experiments": [
            {"experiment_id": key, "run_count": count, "last_run_time": last}
            for key, (count, last) in sorted(found.items())
        ]
    }


def _shape(backend: Backend, experiment: Experiment) -> dict[str, Any]:
    """The experiment as MLflow shows it, ``last_update_time`` being its last activity."""
    return shapes.experiment(with_last_activity(backend.store, [experiment])[0])


def _record(experiment: Experiment) -> Record:
    return Record(
        attributes={
            "name": experiment.name,
            "experiment_id": experiment.experiment_id,
            "creation_time": experiment.creation_time,
            "last_update_time": experiment.last_update_time,
        },
        tags=experiment.tags,
    )


ENDPOINTS = [
    Endpoint("POST", "/experiments/create", create),
    Endpoint("GET", "/experiments/get", get),
    Endpoint("GET", "/experiments/get-by-name", get_by_name),
    Endpoint("POST", "/experiments/search", search),
    Endpoint("GET", "/experiments/search", search),
    Endpoint("POST", "/experiments/update", update),
    Endpoint("POST", "/experiments/delete", delete),
    Endpoint("POST", "/experiments/restore", restore),
    Endpoint("POST", "/experiments/set-experiment-tag", set_tag),
    Endpoint("POST", "/experiments/delete-experiment-tag", delete_tag),
    Endpoint("GET", "/experiments/activity", activity, api="mlcli"),
]
