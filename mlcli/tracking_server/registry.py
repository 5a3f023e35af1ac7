"""``/registered-models/...`` and ``/model-versions/...``: mlcli's model registry.

Creating a version registers a model the server stores, exactly as
``mlcli register`` does: its files are copied into the registry, and the version
records its source run (and that run's git commit). The source may be a logged model
(``models:/m-...``, what MLflow 3's ``log_model(registered_model_name=...)`` sends),
an ``mlflow-artifacts:`` URI of a run's model (what ``register_model("runs:/...")``
sends), ``runs:/RUN/PATH``, or another registered version (``models:/NAME/N``).
A version's files are downloaded from its registry copy, the copy ``mlcli serve``
serves.

mlcli's own clients send a little more than MLflow's (fields MLflow's clients never
send, so they change nothing for them): a ``comment`` for the audit trail with a stage
transition, an alias or a deleted version, and ``mlcli_upload`` to register a model from
the client's own folder: the version is created empty and ``PENDING_REGISTRATION``,
its files are PUT through the artifact proxy, and ``/api/2.0/mlcli/model-versions/finish``
makes it ``READY``. Without ``--auth-db`` a change records the user the client
declares in ``mlcli_user`` (with it, the signed-in user). Versions show their source
run's commit as ``mlcli_git_commit``.
Under ``/api/2.0/mlcli`` too: ``registered-models/events``, the audit trail.
"""

from __future__ import annotations

import tempfile
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlparse

from mlcli.errors import InvalidInputError, NotFoundError
from mlcli.registry import search as registry_search
from mlcli.registry.entities import ModelVersion, RegisteredModel
from mlcli.registry.files import PENDING, ModelRegistry
from mlcli.registry.names import parse_version
from mlcli.tracking.context import acting_as, acting_user
from mlcli.tracking_server import shapes
from mlcli.tracking_server.artifacts import RunArtifact, VersionArtifact, parse_artifact_path
from mlcli.tracking_server.backend import Backend, Endpoint, Handler
from mlcli.tracking_server.fields import Fields
from mlcli.tracking_server.paging import decode_token, max_results, page
from mlcli.tracking_server.tags import tags_to_store, to_store

if TYPE_CHECKING:
    from mlcli.registry.postgres import PostgresRegistry


# -- registered models -------------------------------------------------------------------------


def create_model(backend: Backend, fields: Fields) -> dict[str, Any]:
    model = backend.client.create_registered_model(
        fields.required("name"), _tags(fields), fields.string("description") or None
    )
    return {"registered_model": _model_shape(backend, model)}


def get_model(backend: Backend, fields: Fields) -> dict[str, Any]:
    model = backend.client.get_registered_model(fields.required("name"))
    return {"registered_model": _model_shape(backend, model)}


def update_model(backend: Backend, fields: Fields) -> dict[str, Any]:
    name = fields.required("name")
    description = fields.string("description")
    if description is None:
        model = backend.client.get_registered_model(name)
    else:
        model = backend.client.update_registered_model(name, description)
    return {"registered_model": _model_shape(backend, model)}


def rename_model(backend: Backend, fields: Fields) -> dict[str, Any]:
    model = backend.client.rename_registered_model(
        fields.required("name"), fields.required("new_name")
    )
    return {"registered_model": _model_shape(backend, model)}


def delete_model(backend: Backend, fields: Fields) -> dict[str, Any]:
    backend.client.delete_registered_model(fields.required("name"))
    return {}


def search_models(backend: Backend, fields: Fields) -> dict[str, Any]:
    limit = max_results(fields.integer("max_results"), 100)
    offset = decode_token(fields.string("page_token"))
    registry = backend.client.registry()
    ordered = registry_search.search_models(
        registry, fields.string("filter"), fields.strings("order_by")
    )
    chosen, token = page(ordered, offset, limit)
    reply: dict[str, Any] = {"registered_models": [_model_shape(backend, m) for m in chosen]}
    if token:
        reply["next_page_token"] = token
    return reply


def latest_versions(backend: Backend, fields: Fields) -> dict[str, Any]:
    versions = backend.client.get_latest_versions(
        fields.required("name"), fields.strings("stages") or None
    )
    return {"model_versions": [_version_shape(backend, v) for v in versions]}


def set_model_tag(backend: Backend, fields: Fields) -> dict[str, Any]:
    backend.client.set_registered_model_tag(
        fields.required("name"),
        to_store(fields.required("key")),
        fields.string("value", default=""),
    )
    return {}


def delete_model_tag(backend: Backend, fields: Fields) -> dict[str, Any]:
    backend.client.delete_registered_model_tag(
        fields.required("name"), to_store(fields.required("key"))
    )
    return {}


def set_alias(backend: Backend, fields: Fields) -> dict[str, Any]:
    backend.client.registry().set_alias(
        fields.required("name"),
        fields.required("alias"),
        parse_version(fields.required("version")),
        fields.string("comment") or None,
    )
    return {}


def delete_alias(backend: Backend, fields: Fields) -> dict[str, Any]:
    backend.client.delete_registered_model_alias(fields.required("name"), fields.required("alias"))
    return {}


def get_by_alias(backend: Backend, fields: Fields) -> dict[str, Any]:
    version = backend.client.get_model_version_by_alias(
        fields.required("name"), fields.required("alias")
    )
    return {"model_version": _version_shape(backend, version)}


# -- versions ------------------------------------------------------------------------------------


def create_version(backend: Backend, fields: Fields) -> dict[str, Any]:
    name = fields.required("name")
    if fields.boolean("mlcli_upload"):
        return {"model_version": _version_shape(backend, _pending_version(backend, fields))}
    uri = model_uri_of_source(backend, fields.required("source"), fields.string("model_id"))
    version = backend.client.register_model(
        uri, name, fields.string("description") or None, _tags(fields)
    )
    return {"model_version": _version_shape(backend, version)}


def get_version(backend: Backend, fields: Fields) -> dict[str, Any]:
    version = backend.client.get_model_version(fields.required("name"), fields.required("version"))
    return {"model_version": _version_shape(backend, version)}


def update_version(backend: Backend, fields: Fields) -> dict[str, Any]:
    name, number = fields.required("name"), fields.required("version")
    description = fields.string("description")
    client = backend.client
    if description is None:
        version = client.get_model_version(name, number)
    else:
        version = client.update_model_version(name, number, description)
    return {"model_version": _version_shape(backend, version)}


def delete_version(backend: Backend, fields: Fields) -> dict[str, Any]:
    backend.client.registry().delete_version(
        fields.required("name"),
        parse_version(fields.required("version")),
        fields.string("comment") or None,
    )
    return {}


def transition_stage(backend: Backend, fields: Fields) -> dict[str, Any]:
    version = backend.client.registry().transition_stage(
        fields.required("name"),
        parse_version(fields.required("version")),
        fields.required("stage"),
        fields.boolean("archive_existing_versions"),
        fields.string("comment") or None,
    )
    return {"model_version": _version_shape(backend, version)}


def search_versions(backend: Backend, fields: Fields) -> dict[str, Any]:
    limit = max_results(fields.integer("max_results"), 10_000)
    offset = decode_token(fields.string("page_token"))
    ordered = registry_search.search_versions(
        backend.client.registry(), fields.string("filter"), fields.strings("order_by")
    )
    chosen, token = page(ordered, offset, limit)
    reply: dict[str, Any] = {"model_versions": [_version_shape(backend, v) for v in chosen]}
    if token:
        reply["next_page_token"] = token
    return reply


def download_uri(backend: Backend, fields: Fields) -> dict[str, Any]:
    version = backend.client.get_model_version(fields.required("name"), fields.required("version"))
    return {"artifact_uri": shapes.version_artifact_uri(version.name, version.version)}


def set_version_tag(backend: Backend, fields: Fields) -> dict[str, Any]:
    backend.client.set_model_version_tag(
        fields.required("name"),
        fields.required("version"),
        to_store(fields.required("key")),
        fields.string("value", default=""),
    )
    return {}


def delete_version_tag(backend: Backend, fields: Fields) -> dict[str, Any]:
    backend.client.delete_model_version_tag(
        fields.required("name"), fields.required("version"), to_store(fields.required("key"))
    )
    return {}


# -- mlcli's own endpoints (/api/2.0/mlcli) -------------------------------------------------------


def events(backend: Backend, fields: Fields) -> dict[str, Any]:
    """The audit trail of a registered model (``mlcli models history``)."""
    found = backend.client.get_model_history(fields.required("name"))
    return {"events": [event.to_dict() for event in found]}


def finish_version(backend: Backend, fields: Fields) -> dict[str, Any]:
    """An uploaded version's files are all there (or, with ``failed``, never will be)."""
    version = _own_registry(backend).finish_version(
        fields.required("name"),
        parse_version(fields.required("version")),
        fields.boolean("failed"),
    )
    return {"model_version": _version_shape(backend, version)}


def _pending_version(backend: Backend, fields: Fields) -> ModelVersion:
    """An empty version, ``PENDING_REGISTRATION`` until its files are uploaded."""
    with tempfile.TemporaryDirectory(prefix="mlcli-upload-") as empty:
        return _own_registry(backend).create_version(
            fields.required("name"),
            Path(empty),
            fields.required("source"),
            fields.string("run_id") or None,
            None,
            fields.string("description") or "",
            _tags(fields),
            status=PENDING,
        )


def _own_registry(backend: Backend) -> ModelRegistry | PostgresRegistry:
    """The registry this server keeps (a store's files, or a team store's PostgreSQL),
    with what only the keeper of a registry does: versions uploaded in two steps."""
    from mlcli.registry.postgres import PostgresRegistry

    registry = backend.client.registry(create=True)
    assert isinstance(registry, ModelRegistry | PostgresRegistry)  # never another server's
    return registry


# -- sources --------------------------------------------------------------------------------------


def model_uri_of_source(backend: Backend, source: str, model_id: str | None = None) -> str:
    """The mlcli model URI of a version's source, which must be a model this server
    stores (a client's local path means nothing here)."""
    if model_id or source.startswith("models:/m-"):
        model = backend.logged_models.get(model_id or source[len("models:/") :])
        return f"runs:/{model.run_id}/{model.artifact_path}"
    if source.startswith("mlflow-artifacts:"):
        target = parse_artifact_path(unquote(urlparse(source).path))
        if isinstance(target, RunArtifact) and target.path:
            return f"runs:/{target.run_id}/{target.path}"
        if isinstance(target, VersionArtifact) and not target.path:
            return f"models:/{target.name}/{target.version}"
    elif source.startswith(("runs:/", "models:/")):
        return source
    raise InvalidInputError(
        f"cannot register {source!r}: the source must be a model this server stores "
        "(models:/<model_id>, runs:/<run_id>/<path>, models:/<name>/<version>, or an "
        "mlflow-artifacts:/ URI of a run's model)"
    )


def model_id_of(backend: Backend, version: ModelVersion) -> str | None:
    """The logged model a version was registered from, if it was one."""
    if not version.run_id or not version.source.startswith("runs:/"):
        return None
    path = version.source.split("/", 2)[-1] if version.source.count("/") >= 2 else ""
    for model in backend.logged_models.of_run(version.run_id):
        if model.artifact_path == path:
            return model.model_id
    return None


# -- internals ---------------------------------------------------------------------------------


def _tags(fields: Fields) -> dict[str, str]:
    return tags_to_store(dict(fields.key_values("tags")))


def _model_shape(backend: Backend, model: RegisteredModel) -> dict[str, Any]:
    try:
        latest = backend.client.get_latest_versions(model.name)
    except NotFoundError:  # deleted meanwhile
        latest = []
    return shapes.registered_model(model, [_version_shape(backend, v) for v in latest])


def _version_shape(backend: Backend, version: ModelVersion) -> dict[str, Any]:
    shape = shapes.model_version(version, model_id_of(backend, version))
    if version.git_commit:
        shape["mlcli_git_commit"] = version.git_commit  # ignored by MLflow's clients
    return shape


def _for_declared_user(handler: Handler) -> Handler:
    """A change records the user an mlcli client declares (``mlcli_user``) when the
    server signs no one in, as ``runs/create`` takes ``user_id``; a signed-in user
    (``--auth-db``) is never replaced by a claim."""

    def handle(backend: Backend, fields: Fields) -> dict[str, Any]:
        declared = fields.string("mlcli_user")
        if not declared or acting_user() is not None:
            return handler(backend, fields)
        with acting_as(declared):
            return handler(backend, fields)

    return handle


_ENDPOINTS = [
    Endpoint("POST", "/registered-models/create", create_model),
    Endpoint("GET", "/registered-models/get", get_model),
    Endpoint("PATCH", "/registered-models/update", update_model),
    Endpoint("POST", "/registered-models/rename", rename_model),
    Endpoint("DELETE", "/registered-models/delete", delete_model),
    Endpoint("GET", "/registered-models/search", search_models),
    Endpoint("POST", "/registered-models/get-latest-versions", latest_versions),
    Endpoint("GET", "/registered-models/get-latest-versions", latest_versions),
    Endpoint("POST", "/registered-models/set-tag", set_model_tag),
    Endpoint("DELETE", "/registered-models/delete-tag", delete_model_tag),
    Endpoint("POST", "/registered-models/alias", set_alias),
    Endpoint("DELETE", "/registered-models/alias", delete_alias),
    Endpoint("GET", "/registered-models/alias", get_by_alias),
    Endpoint("POST", "/model-versions/create", create_version),
    Endpoint("GET", "/model-versions/get", get_version),
    Endpoint("PATCH", "/model-versions/update", update_version),
    Endpoint("DELETE", "/model-versions/delete", delete_version),
    Endpoint("POST", "/model-versions/transition-stage", transition_stage),
    Endpoint("GET", "/model-versions/search", search_versions),
    Endpoint("GET", "/model-versions/get-download-uri", download_uri),
    Endpoint("POST", "/model-versions/set-tag", set_version_tag),
    Endpoint("DELETE", "/model-versions/delete-tag", delete_version_tag),
]
ENDPOINTS = [
    e if e.method == "GET" else replace(e, handler=_for_declared_user(e.handler))
    for e in _ENDPOINTS
]

# under /api/2.0/mlcli: what MLflow's API has no endpoint for
MLCLI_ENDPOINTS = [
    Endpoint("GET", "/registered-models/events", events, api="mlcli"),
    Endpoint("POST", "/model-versions/finish", _for_declared_user(finish_version), api="mlcli"),
]
