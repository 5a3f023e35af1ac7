"""The registry of a team server (``mlcli --store http://host``), through MLflow's
registry REST API that ``mlcli server`` serves, plus mlcli's endpoints where MLflow
has none (the audit trail, finishing an uploaded version). Every change names the
client's user (``mlcli_user``), whom a server without sign-in records as the local
registry records the local user.

The server answers in MLflow's shapes, with system tags named ``mlflow.X``; this module
turns them back into the registry's entities with ``mlcli.X`` tags, so every command
prints the same as over a local store. Checks a user can trip (names, stages, tags)
run here first, with the local registry's rules and messages; the server checks again.

Registering: a model the server stores (``runs:/RUN/PATH``, ``models:/NAME/...``) is
copied by the server from its own files. A model in a local folder is uploaded: the
server creates the version as ``PENDING_REGISTRATION``, the files go through the
artifact proxy to the version's location, and the version is then finished
(``READY``). A version's files are downloaded once into the cache folder and reused.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, Protocol
from urllib.parse import quote

from mlcli import system_tags
from mlcli.errors import (
    ConflictError,
    InvalidInputError,
    MlcliError,
    NotFoundError,
    StoreError,
)
from mlcli.files.fileio import create_temp_dir
from mlcli.files.trees import walk_tree
from mlcli.registry.entities import ModelVersion, RegisteredModel, RegistryEvent, Stage
from mlcli.registry.names import MAX_TAG_VALUE_LENGTH, validate_alias, validate_model_name
from mlcli.registry.protocol import holder_of
from mlcli.store import validate_key, validate_tag_value

if TYPE_CHECKING:
    from mlcli.registry.protocol import Registry

PENDING = "PENDING_REGISTRATION"
READY = "READY"
PAGE_SIZE = 1000
SERVER_SOURCES = ("runs:/", "models:/", "mlflow-artifacts:")


class Connection(Protocol):
    """What this module needs of :class:`mlcli.store.ServerConnection`."""

    url: str
    API: str
    MLCLI_API: str
    ARTIFACTS: str

    def call(
        self,
        method: str,
        endpoint: str,
        body: Mapping[str, Any] | None = None,
        *,
        query: Mapping[str, Any] | None = None,
        api: str = ...,
    ) -> dict[str, Any]: ...

    def request(
        self,
        method: str,
        path: str,
        *,
        body: bytes | BinaryIO | None = None,
        headers: Mapping[str, str] | None = None,
        query: Mapping[str, Any] | None = None,
        stream: bool = False,
        missing_ok: bool = False,
    ) -> Any: ...

    def stream(self, path: str, chunk_size: int = ...) -> Iterator[bytes]: ...


class ServerRegistry:
    """The registry of the server ``connection`` talks to; ``cache_dir`` holds the
    versions' downloaded files (``<cache_dir>/models/<name>/versions/<n>-<created>``)."""

    def __init__(self, connection: Connection, cache_dir: Path, user: str) -> None:
        self.connection = connection
        self.cache_dir = Path(cache_dir)
        self.user = user

    # -- registered models --------------------------------------------------------------------

    def create_model(
        self, name: str, description: str = "", tags: dict[str, str] | None = None
    ) -> RegisteredModel:
        validate_model_name(name)
        body = {"name": name, "description": description, "tags": _tag_list(tags)}
        return _model(self._post("/registered-models/create", body)["registered_model"])

    def ensure_model(self, name: str) -> RegisteredModel:
        """Created first if needed: asking to create is what any signed-in user may do
        (and the server then grants its creator MANAGE), so that comes first."""
        try:
            return self.create_model(name)
        except ConflictError:
            return self.get_model(name)

    def get_model(self, name: str) -> RegisteredModel:
        validate_model_name(name)
        return _model(self._get("/registered-models/get", name=name)["registered_model"])

    def list_models(self) -> list[RegisteredModel]:
        found = self._pages("/registered-models/search", "registered_models", order_by="name ASC")
        return sorted((_model(m) for m in found), key=lambda m: m.name)

    def update_model(
        self, name: str, description: str | None = None, tags: dict[str, str] | None = None
    ) -> RegisteredModel:
        clean = _clean_tags(tags or {})
        validate_model_name(name)
        if description is not None:
            self._call("PATCH", "/registered-models/update", name=name, description=description)
        for key, value in clean.items():
            self._post(
                "/registered-models/set-tag",
                {"name": name, "key": system_tags.to_mlflow(key), "value": value},
            )
        return self.get_model(name)

    def delete_tag(self, name: str, key: str, version: int | None = None) -> None:
        validate_model_name(name)
        mlflow_key = system_tags.to_mlflow(key)
        if version is None:
            self._call("DELETE", "/registered-models/delete-tag", name=name, key=mlflow_key)
        else:
            self._call(
                "DELETE",
                "/model-versions/delete-tag",
                name=name,
                version=str(version),
                key=mlflow_key,
            )

    def rename_model(self, name: str, new_name: str) -> RegisteredModel:
        validate_model_name(name)
        validate_model_name(new_name)
        self._call("POST", "/registered-models/rename", name=name, new_name=new_name)
        return self.get_model(new_name)

    def delete_model(self, name: str) -> None:
        validate_model_name(name)
        self._call("DELETE", "/registered-models/delete", name=name)

    # -- versions -------------------------------------------------------------------------------

    def create_version(
        self,
        name: str,
        source_dir: Path,
        source: str,
        run_id: str | None,
        git_commit: str | None = None,
        description: str = "",
        tags: dict[str, str] | None = None,
    ) -> ModelVersion:
        """A model the server stores is copied there by the server; any other is
        uploaded from ``source_dir``. The server records the source run's commit."""
        validate_model_name(name)
        body: dict[str, Any] = {
            "name": name,
            "source": source,
            "description": description,
            "tags": _tag_list(tags),
        }
        if run_id:
            body["run_id"] = run_id
        self.ensure_model(name)
        if source.startswith(SERVER_SOURCES):
            return _version(self._post("/model-versions/create", body)["model_version"])
        return self._upload_version(name, Path(source_dir), body)

    def get_version(self, name: str, version: int) -> ModelVersion:
        validate_model_name(name)
        reply = self._get("/model-versions/get", name=name, version=str(version))
        return _version(reply["model_version"])

    def list_versions(self, name: str, include_deleted: bool = False) -> list[ModelVersion]:
        """The versions of ``name``, oldest first (a server shows no deleted ones)."""
        validate_model_name(name)
        found = self._pages(
            "/model-versions/search",
            "model_versions",
            filter=f"name = {_quoted(name)}",
            order_by="version_number ASC",
        )
        versions = sorted((_version(v) for v in found), key=lambda v: v.version)
        if not versions:
            self.get_model(name)  # an unknown model is an error, as in the local registry
        return versions

    def update_version(
        self,
        name: str,
        version: int,
        description: str | None = None,
        tags: dict[str, str] | None = None,
    ) -> ModelVersion:
        clean = _clean_tags(tags or {})
        validate_model_name(name)
        if description is not None:
            self._call(
                "PATCH",
                "/model-versions/update",
                name=name,
                version=str(version),
                description=description,
            )
        for key, value in clean.items():
            self._post(
                "/model-versions/set-tag",
                {
                    "name": name,
                    "version": str(version),
                    "key": system_tags.to_mlflow(key),
                    "value": value,
                },
            )
        return self.get_version(name, version)

    def delete_version(self, name: str, version: int, comment: str | None = None) -> None:
        validate_model_name(name)
        fields: dict[str, Any] = {"name": name, "version": str(version)}
        if comment:
            fields["comment"] = comment
        self._call("DELETE", "/model-versions/delete", **fields)

    # -- stages and aliases ---------------------------------------------------------------------

    def transition_stage(
        self,
        name: str,
        version: int,
        stage: str,
        archive_existing: bool = False,
        comment: str | None = None,
    ) -> ModelVersion:
        stage = Stage.transition_target(stage, archive_existing)
        validate_model_name(name)
        body: dict[str, Any] = {
            "name": name,
            "version": str(version),
            "stage": stage,
            "archive_existing_versions": archive_existing,
        }
        if comment:
            body["comment"] = comment
        return _version(self._post("/model-versions/transition-stage", body)["model_version"])

    def set_alias(
        self, name: str, alias: str, version: int, comment: str | None = None
    ) -> ModelVersion:
        validate_alias(alias)
        validate_model_name(name)
        body: dict[str, Any] = {"name": name, "alias": alias, "version": str(version)}
        if comment:
            body["comment"] = comment
        self._post("/registered-models/alias", body)
        return self.get_version(name, version)

    def delete_alias(self, name: str, alias: str) -> None:
        validate_model_name(name)
        self._call("DELETE", "/registered-models/alias", name=name, alias=alias)

    def version_by_alias(self, name: str, alias: str) -> ModelVersion:
        validate_model_name(name)
        reply = self._get("/registered-models/alias", name=name, alias=alias)
        return _version(reply["model_version"])

    def latest_version(self, name: str) -> ModelVersion:
        versions = self.list_versions(name)
        if not versions:
            raise NotFoundError(f"model {name!r} has no versions")
        return versions[-1]

    def latest_versions(self, name: str, stages: list[str] | None = None) -> list[ModelVersion]:
        """The highest version in each stage (of ``stages``, or of every stage in use)."""
        wanted = [Stage.canonical(s) for s in stages] if stages else list(Stage.ALL)
        validate_model_name(name)
        reply = self._post(
            "/registered-models/get-latest-versions", {"name": name, "stages": wanted}
        )
        found = {v.stage: v for v in map(_version, reply.get("model_versions") or [])}
        return list(found.values())  # in the server's order

    def holder(self, name: str, stage_or_alias: str) -> ModelVersion | None:
        return holder_of(self, name, stage_or_alias)

    def events(self, name: str) -> list[RegistryEvent]:
        validate_model_name(name)
        reply = self.connection.call(
            "GET", "/registered-models/events", query={"name": name}, api=self.connection.MLCLI_API
        )
        return [RegistryEvent.from_dict(e) for e in reply.get("events") or []]

    def artifacts_path(self, name: str, version: int) -> Path:
        """The version's files, downloaded into the cache the first time; a finished
        download is renamed into place, so a folder that is there is whole."""
        found = self.get_version(name, version)
        if found.status != READY:
            raise InvalidInputError(
                f"model {name!r} version {version} is not ready ({found.status}): its files "
                "are still being uploaded, or their upload failed"
            )
        target = self.cache_dir / "models" / name / "versions" / f"{version}-{found.creation_time}"
        if target.is_dir():
            return target
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = create_temp_dir(target)
        try:
            self._download(name, version, staging)
            try:
                os.rename(staging, target)
            except OSError:
                if not target.is_dir():  # another process won the race: theirs is whole too
                    raise
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return target

    # -- uploads and downloads ------------------------------------------------------------------

    def _upload_version(self, name: str, source_dir: Path, body: dict[str, Any]) -> ModelVersion:
        tree = walk_tree(source_dir)
        tree.warn()
        reply = self._post("/model-versions/create", {**body, "mlcli_upload": True})
        created = _version(reply["model_version"])
        base = (
            self.connection.ARTIFACTS + "/" + _version_location(name, created.version, quoted=True)
        )
        finish = {"name": name, "version": str(created.version)}
        try:
            for item in tree.files:
                with open(item.path, "rb") as handle:
                    size = os.fstat(handle.fileno()).st_size  # not chunked: proxies refuse that
                    self.connection.request(
                        "PUT",
                        f"{base}/{quote(item.relative)}",
                        body=handle,
                        headers={
                            "Content-Type": "application/octet-stream",
                            "Content-Length": str(size),
                        },
                    )
        except BaseException:
            with contextlib.suppress(MlcliError, OSError):  # the first error is the news
                self._post(
                    "/model-versions/finish",
                    {**finish, "failed": True},
                    api=self.connection.MLCLI_API,
                )
            raise
        self._post("/model-versions/finish", finish, api=self.connection.MLCLI_API)
        return self.get_version(name, created.version)

    def _download(self, name: str, version: int, destination: Path) -> None:
        """Every file of the version into ``destination``, folder by folder."""
        location = _version_location(name, version)
        url = self.connection.ARTIFACTS + "/" + _version_location(name, version, quoted=True)
        folders = [""]
        while folders:
            folder = folders.pop()
            path = f"{location}/{folder}".rstrip("/")
            listed = self.connection.call(
                "GET", "", query={"path": path}, api=self.connection.ARTIFACTS
            )
            for entry in listed.get("files") or []:
                relative = f"{folder}/{entry['path']}".lstrip("/")
                _check_relative(relative)
                if entry.get("is_dir"):
                    (destination / relative).mkdir(parents=True, exist_ok=True)
                    folders.append(relative)
                    continue
                local = destination / relative
                local.parent.mkdir(parents=True, exist_ok=True)
                with open(local, "wb") as handle:
                    for chunk in self.connection.stream(f"{url}/{quote(relative)}"):
                        handle.write(chunk)

    # -- requests ---------------------------------------------------------------------------------

    def _get(self, endpoint: str, **query: Any) -> dict[str, Any]:
        return self.connection.call("GET", endpoint, query=query, api=self.connection.API)

    def _post(
        self, endpoint: str, body: Mapping[str, Any], api: str | None = None
    ) -> dict[str, Any]:
        return self._call("POST", endpoint, api=api, **body)

    def _call(
        self, method: str, endpoint: str, api: str | None = None, **body: Any
    ) -> dict[str, Any]:
        """A change, naming the user for the audit trail (a server that signs users in
        records the signed-in one instead)."""
        body = {**body, "mlcli_user": self.user}
        return self.connection.call(method, endpoint, body, api=api or self.connection.API)

    def _pages(self, endpoint: str, key: str, **query: Any) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        token = None
        while True:
            page = {**query, "max_results": PAGE_SIZE}
            if token:
                page["page_token"] = token
            reply = self._get(endpoint, **page)
            items.extend(reply.get(key) or [])
            token = reply.get("next_page_token")
            if not token:
                return items


# -- shapes -> entities ---------------------------------------------------------------------------


def _tags(items: list[dict[str, Any]] | None) -> dict[str, str]:
    return {system_tags.to_store(t["key"]): str(t.get("value", "")) for t in items or []}


def _version(shape: dict[str, Any]) -> ModelVersion:
    return ModelVersion(
        name=shape["name"],
        version=int(shape["version"]),
        source=shape.get("source", ""),
        run_id=shape.get("run_id") or None,
        stage=shape.get("current_stage") or Stage.NONE,
        status=shape.get("status") or READY,
        description=shape.get("description") or "",
        tags=_tags(shape.get("tags")),
        user_id=shape.get("user_id", ""),
        creation_time=int(shape.get("creation_timestamp") or 0),
        last_update_time=int(shape.get("last_updated_timestamp") or 0),
        aliases=tuple(sorted(shape.get("aliases") or [])),
        git_commit=shape.get("mlcli_git_commit") or None,
    )


def _model(shape: dict[str, Any]) -> RegisteredModel:
    latest = [int(v["version"]) for v in shape.get("latest_versions") or []]
    return RegisteredModel(
        name=shape["name"],
        description=shape.get("description") or "",
        tags=_tags(shape.get("tags")),
        creation_time=int(shape.get("creation_timestamp") or 0),
        last_update_time=int(shape.get("last_updated_timestamp") or 0),
        aliases={a["alias"]: int(a["version"]) for a in shape.get("aliases") or []},
        latest_version=max(latest, default=None),
    )


# -- internals ---------------------------------------------------------------------------------


def _clean_tags(tags: dict[str, str]) -> dict[str, str]:
    return {
        validate_key(k, "tag key"): validate_tag_value(k, v, MAX_TAG_VALUE_LENGTH)
        for k, v in tags.items()
    }


def _tag_list(tags: dict[str, str] | None) -> list[dict[str, str]]:
    return [
        {"key": system_tags.to_mlflow(k), "value": v} for k, v in _clean_tags(tags or {}).items()
    ]


def _quoted(text: str) -> str:
    """A text value of the filter language."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _version_location(name: str, version: int, quoted: bool = False) -> str:
    """The artifact proxy's path of a version's files (``shapes.version_artifact_uri``),
    quoted for a URL's path, or not for a query's value."""
    shown = quote(name, safe="") if quoted else name
    return f"models/{shown}/versions/{version}/artifacts"


def _check_relative(relative: str) -> None:
    parts = relative.split("/")
    if any(p in ("", ".", "..") for p in parts) or relative.startswith("/"):
        raise StoreError(f"the server listed a file outside the version's folder: {relative!r}")


if TYPE_CHECKING:  # mypy checks that the server's registry implements the protocol
    _SERVER_REGISTRY_CONFORMS: type[Registry] = ServerRegistry
