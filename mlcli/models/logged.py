"""MLflow 3's fluent API on logged models: ``get_logged_model``, ``search_logged_models``,
``set_logged_model_tags``, ``last_logged_model``.

``log_model`` gives every logged model an id (``m-<32 hex>``); the model is kept with
the run that logged it (:mod:`mlcli.store.logged_models`). These functions read and tag
those records with MLflow's names and answer MLflow's entity attributes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mlcli.errors import InvalidInputError

if TYPE_CHECKING:
    from mlcli.store import LoggedModel as StoredModel
    from mlcli.tracking import TrackingClient

_ATTRIBUTES = {
    "name": "text", "model_id": "text", "source_run_id": "text", "status": "text",
    "model_type": "text", "creation_timestamp": "number", "last_updated_timestamp": "number",
}  # fmt: skip
_ALIASES = {"creation_time": "creation_timestamp", "last_updated_time": "last_updated_timestamp"}
_ORDER = {
    "name": lambda m: m.name,
    "model_id": lambda m: m.model_id,
    "creation_timestamp": lambda m: (m.creation_timestamp, m.created_ns),
    "creation_time": lambda m: (m.creation_timestamp, m.created_ns),
    "last_updated_timestamp": lambda m: m.last_updated_timestamp,
    "last_updated_time": lambda m: m.last_updated_timestamp,
}
_COLUMNS = [
    "artifact_location", "creation_timestamp", "experiment_id", "last_updated_timestamp",
    "metrics", "model_id", "model_type", "name", "params", "source_run_id", "status",
    "status_message", "tags",
]  # fmt: skip
_last_model_id: str | None = None  # the last model log_model logged in this process


@dataclass(frozen=True)
class LoggedModel:
    """A logged model with MLflow's attribute names (``mlflow.entities.LoggedModel``)."""

    model_id: str
    experiment_id: str
    name: str
    artifact_location: str
    creation_timestamp: int
    last_updated_timestamp: int
    model_type: str | None
    source_run_id: str
    status: str
    status_message: str | None
    tags: dict[str, str] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    metrics: list[dict[str, Any]] = field(default_factory=list)
    created_ns: int = 0  # orders models created in the same millisecond

    @property
    def model_uri(self) -> str:
        return f"models:/{self.model_id}"

    def to_dictionary(self) -> dict[str, Any]:
        """MLflow's columns of ``search_logged_models``'s DataFrame."""
        return {
            "artifact_location": self.artifact_location,
            "creation_timestamp": self.creation_timestamp,
            "experiment_id": self.experiment_id,
            "last_updated_timestamp": self.last_updated_timestamp,
            "metrics": list(self.metrics),
            "model_id": self.model_id,
            "model_type": self.model_type,
            "name": self.name,
            "params": dict(self.params),
            "source_run_id": self.source_run_id,
            "status": self.status,
            "status_message": self.status_message,
            "tags": dict(self.tags),
        }


def remember_logged(model_id: str) -> None:
    global _last_model_id
    _last_model_id = model_id


def get_logged_model(model_id: str) -> LoggedModel:
    """The logged model ``model_id`` (``m-...``); NotFoundError if there is none."""
    client = _client()
    return _view(client, client.store.logged_models.get(model_id))


def last_logged_model() -> LoggedModel | None:
    """The model this process logged last, or None."""
    return None if _last_model_id is None else get_logged_model(_last_model_id)


def set_logged_model_tags(model_id: str, tags: dict[str, Any]) -> None:
    """Set ``tags`` on the logged model ``model_id`` (values as strings, as MLflow)."""
    from mlcli.store import validate_key, validate_tag_value

    if not isinstance(tags, dict):
        raise InvalidInputError("set_logged_model_tags needs a dict of tags")
    values = {}
    for key, value in tags.items():
        name = validate_key(str(key), "tag")
        values[name] = validate_tag_value(name, value)
    _client().store.logged_models.update(model_id, tags=values)


def search_logged_models(
    experiment_ids: list[str] | None = None,
    filter_string: str | None = None,
    datasets: list[dict[str, str]] | None = None,
    max_results: int | None = None,
    order_by: list[dict[str, Any]] | None = None,
    output_format: str = "pandas",
) -> Any:
    """Logged models of ``experiment_ids`` (the active experiment when None) matching
    ``filter_string``, newest first unless ``order_by`` says otherwise; a DataFrame
    (``output_format="pandas"``) or a list of :class:`LoggedModel`."""
    from mlcli.search.entity_filter import EntityFilter, Record, sort_records

    if output_format not in ("pandas", "list"):
        raise InvalidInputError(
            f"unsupported output_format {output_format!r}: expected 'pandas' or 'list'"
        )
    if datasets:
        raise InvalidInputError(
            "search_logged_models(datasets=) is not supported: mlcli keeps no metric "
            "of a logged model per dataset"
        )
    condition = EntityFilter(
        filter_string,
        _ATTRIBUTES,
        aliases=_ALIASES,
        kinds=("attribute", "tag", "param"),
        what="logged model filter",
    )
    client = _client()
    wanted = [str(e) for e in experiment_ids] if experiment_ids else [_active_experiment(client)]
    found = []
    for run_id in client.store.run_ids_of_experiments(wanted):
        for stored in client.store.logged_models.of_run(run_id):
            record = Record(
                attributes={
                    "name": stored.name,
                    "model_id": stored.model_id,
                    "source_run_id": stored.run_id,
                    "status": stored.status,
                    "model_type": stored.model_type,
                    "creation_timestamp": stored.creation_timestamp,
                    "last_updated_timestamp": stored.last_updated_timestamp,
                },
                tags=stored.tags,
                params=stored.params,
            )
            if not stored.deleted and condition.matches(record):
                found.append(_view(client, stored))
    clauses = [_clause(item) for item in order_by or []]
    models = sort_records(found, clauses, _ORDER, default=("creation_timestamp DESC",))
    if max_results is not None:
        models = models[: int(max_results)]
    if output_format == "list":
        return models
    import pandas as pd

    return pd.DataFrame([m.to_dictionary() for m in models], columns=_COLUMNS)


def _clause(item: Any) -> str:
    if not isinstance(item, dict) or "field_name" not in item:
        raise InvalidInputError(
            "order_by takes dicts like {'field_name': 'creation_time', 'ascending': True}"
        )
    if item.get("dataset_name") or item.get("dataset_digest"):
        raise InvalidInputError("order_by on a dataset's metrics is not supported")
    return f"{item['field_name']} {'ASC' if item.get('ascending', True) else 'DESC'}"


def _client() -> TrackingClient:
    """The fluent client, once the models this process logs in the background (an
    autologged fit's) are there to be read."""
    from mlcli import fluent
    from mlcli.tracking.background import background_work

    background_work().wait()
    return fluent._session.get_client()


def _active_experiment(client: TrackingClient) -> str:
    from mlcli import fluent

    active = fluent.active_run()
    if active is not None:
        return str(client.get_run(active.run_id).info.experiment_id)
    chosen = fluent._session.resolve_experiment(client, None, None)
    return "0" if chosen is None else str(chosen)


def _view(client: TrackingClient, stored: StoredModel) -> LoggedModel:
    from mlcli import fluent

    return LoggedModel(
        model_id=stored.model_id,
        experiment_id=stored.experiment_id,
        name=stored.name,
        artifact_location=fluent.get_artifact_uri(stored.artifact_path, run_id=stored.run_id),
        creation_timestamp=stored.creation_timestamp,
        last_updated_timestamp=stored.last_updated_timestamp,
        model_type=stored.model_type,
        source_run_id=stored.run_id,
        status=stored.status,
        status_message=stored.status_message,
        tags=dict(stored.tags),
        params=dict(stored.params),
        metrics=list(stored.metrics),
        created_ns=stored.created_ns,
    )
