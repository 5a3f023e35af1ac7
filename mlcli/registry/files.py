"""The model registry as files: ``.mlruns/models/<name>/``.

    model.json                      description, tags, times
    versions/<n>/version.json       source, run, stage, status, description, tags, commit
    versions/<n>/artifacts/...      an immutable copy of the model made at registration
    aliases.json                    {alias: version}
    events.jsonl                    the audit trail: who, when, what, from, to, comment

Every read-modify-write of one model holds the lock file in its folder, so versions
are numbered consecutively and alias moves are never lost when several processes
work on one model. A version is built under a hidden name (copying the model can be
slow, and happens outside the lock) and renamed into place, so a reader never sees a
version without its document or its files.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlcli.clock import now_ms
from mlcli.errors import ConflictError, InvalidInputError, NotFoundError
from mlcli.files.fileio import append_bytes, read_json, read_log, write_json_atomic
from mlcli.files.lock import FileLock
from mlcli.files.trees import copy_tree
from mlcli.registry.entities import (
    ModelVersion,
    RegisteredModel,
    RegistryEvent,
    Stage,
    model_last_update,
)
from mlcli.registry.names import (
    MAX_TAG_VALUE_LENGTH,
    validate_alias,
    validate_model_name,
)
from mlcli.store import StoreLayout, validate_key, validate_tag_value

if TYPE_CHECKING:
    from mlcli.registry.protocol import Registry
    from mlcli.tracking import TrackingClient


PENDING = "PENDING_REGISTRATION"
FAILED = "FAILED_REGISTRATION"


class ModelRegistry:
    def __init__(self, layout: StoreLayout, user: str) -> None:
        self.layout = layout
        self.user = user

    # -- registered models --------------------------------------------------------------------

    def create_model(
        self, name: str, description: str = "", tags: dict[str, str] | None = None
    ) -> RegisteredModel:
        validate_model_name(name)
        clean_tags = _clean_tags(tags or {})
        with self._locked(name, create=True):
            if self.layout.model_doc(name).is_file():
                raise ConflictError(f"a registered model named {name!r} already exists")
            self._write_model_doc(name, description, clean_tags)
            self._event(name, "create_model")
        return self.get_model(name)

    def ensure_model(self, name: str) -> RegisteredModel:
        validate_model_name(name)
        if not self.layout.model_doc(name).is_file():
            with self._locked(name, create=True):
                if not self.layout.model_doc(name).is_file():
                    self._write_model_doc(name, "", {})
                    self._event(name, "create_model")
        return self.get_model(name)

    def get_model(self, name: str) -> RegisteredModel:
        doc = self._model_doc(name)
        versions = self._versions(name, self._version_numbers(name))
        records, _ = read_log(self.layout.model_events(name))
        return RegisteredModel(
            name=name,
            description=doc.get("description") or "",
            tags=dict(doc.get("tags") or {}),
            creation_time=doc.get("creation_time", 0),
            last_update_time=model_last_update(
                doc.get("last_update_time", 0),
                versions,
                [RegistryEvent.from_dict(r) for r in records],
            ),
            aliases=self._aliases(name),
            latest_version=max((v.version for v in versions if not v.deleted), default=None),
        )

    def list_models(self) -> list[RegisteredModel]:
        try:
            names = sorted(os.listdir(self.layout.models_dir))
        except FileNotFoundError:
            return []
        return [
            self.get_model(n)
            for n in names
            if not n.startswith(".") and self.layout.model_doc(n).is_file()
        ]

    def update_model(
        self, name: str, description: str | None = None, tags: dict[str, str] | None = None
    ) -> RegisteredModel:
        clean_tags = _clean_tags(tags or {})
        with self._locked(name):
            doc = self._model_doc(name)
            if description is not None:
                self._event(name, "describe", None, doc.get("description") or "", description)
                doc["description"] = description
            for key, value in clean_tags.items():
                self._event(name, "tag", None, doc["tags"].get(key), f"{key}={value}")
                doc["tags"][key] = value
            doc["last_update_time"] = now_ms()
            write_json_atomic(self.layout.model_doc(name), doc)
        return self.get_model(name)

    def delete_tag(self, name: str, key: str, version: int | None = None) -> None:
        """Remove a tag of the registered model, or of one of its versions."""
        with self._locked(name):
            if version is None:
                doc = self._model_doc(name)
                tags = dict(doc.get("tags") or {})
            else:
                tags = dict(self.get_version(name, version).tags)
            if key not in tags:
                what = f"model {name!r}" + ("" if version is None else f" version {version}")
                raise NotFoundError(f"{what} has no tag {key!r}")
            self._event(name, "untag", version, tags.pop(key), key)
            if version is None:
                doc.update(tags=tags, last_update_time=now_ms())
                write_json_atomic(self.layout.model_doc(name), doc)
            else:
                self._update_version_doc(name, version, tags=tags)

    def rename_model(self, name: str, new_name: str) -> RegisteredModel:
        """Give a registered model, its versions, aliases and audit trail a new name:
        its folder is renamed, in one step. A ConflictError when ``new_name`` is taken."""
        validate_model_name(new_name)
        if new_name == name:
            return self.get_model(name)
        target = self.layout.model_dir(new_name)
        with self._locked(name):
            self._model_doc(name)
            if self.layout.model_doc(new_name).is_file():
                raise ConflictError(f"a registered model named {new_name!r} already exists")
            with contextlib.suppress(OSError):  # a folder another writer left empty
                os.rmdir(target)
            try:
                os.rename(self.layout.model_dir(name), target)
            except OSError as exc:  # someone is creating new_name right now
                raise ConflictError(
                    f"a registered model named {new_name!r} already exists"
                ) from exc
            doc = self._model_doc(new_name)
            doc.update(name=new_name, last_update_time=now_ms())
            write_json_atomic(self.layout.model_doc(new_name), doc)
            self._event(new_name, "rename", None, name, new_name)
        return self.get_model(new_name)

    def delete_model(self, name: str) -> None:
        """Remove a registered model with all its versions (renamed away first, so a
        crash half-way leaves no half-model)."""
        with self._locked(name):
            self._model_doc(name)
            trash = self.layout.models_dir / f".deleted-{name}-{uuid.uuid4().hex[:8]}"
            os.replace(self.layout.model_dir(name), trash)
        shutil.rmtree(trash)

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
        *,
        status: str = "READY",
    ) -> ModelVersion:
        """Copy ``source_dir`` in as the next version of ``name`` (created if needed).

        Symbolic links are followed only to files and folders inside ``source_dir``;
        the others are left out, each with a SkippedFileWarning. A server creates an
        uploaded version empty, with ``status`` ``PENDING_REGISTRATION``, until
        :meth:`finish_version`."""
        clean_tags = _clean_tags(tags or {})
        self.ensure_model(name)
        staging = self.layout.versions_dir(name) / f".new-{uuid.uuid4().hex}"
        staging.parent.mkdir(parents=True, exist_ok=True)
        try:
            copy_tree(source_dir, staging / "artifacts").warn()
            with self._locked(name):
                version = max(self._version_numbers(name), default=0) + 1
                now = now_ms()
                doc = {
                    "name": name,
                    "version": version,
                    "source": source,
                    "run_id": run_id,
                    "stage": Stage.NONE,
                    "status": status,
                    "description": description,
                    "tags": clean_tags,
                    "user_id": self.user,
                    "git_commit": git_commit,
                    "creation_time": now,
                    "last_update_time": now,
                    "deleted": False,
                }
                write_json_atomic(staging / "version.json", doc)
                os.rename(staging, self.layout.version_dir(name, version))
                self._event(name, "register", version, None, source)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return self.get_version(name, version)

    def finish_version(self, name: str, version: int, failed: bool = False) -> ModelVersion:
        """An uploaded version's files are all there (``READY``), or will never be
        (``FAILED_REGISTRATION``); only a pending version can be finished."""
        with self._locked(name):
            current = self.get_version(name, version)
            if current.status != PENDING:
                raise InvalidInputError(
                    f"model {name!r} version {version} is {current.status}, not {PENDING}",
                    error_code="INVALID_STATE",
                )
            self._update_version_doc(name, version, status=FAILED if failed else "READY")
        return self.get_version(name, version)

    def get_version(self, name: str, version: int) -> ModelVersion:
        model_version = self._version(name, version)
        if model_version is None or model_version.deleted:
            self._model_doc(name)  # a clearer error when the model itself is unknown
            raise NotFoundError(f"model {name!r} has no version {version}")
        return model_version

    def list_versions(self, name: str, include_deleted: bool = False) -> list[ModelVersion]:
        self._model_doc(name)
        versions = self._versions(name, self._version_numbers(name))
        return [v for v in versions if include_deleted or not v.deleted]

    def update_version(
        self,
        name: str,
        version: int,
        description: str | None = None,
        tags: dict[str, str] | None = None,
    ) -> ModelVersion:
        clean_tags = _clean_tags(tags or {})
        with self._locked(name):
            current = self.get_version(name, version)
            changes: dict[str, Any] = {}
            if description is not None:
                changes["description"] = description
                self._event(name, "describe", version, current.description, description)
            if clean_tags:
                changes["tags"] = {**current.tags, **clean_tags}
                for key, value in clean_tags.items():
                    self._event(name, "tag", version, current.tags.get(key), f"{key}={value}")
            self._update_version_doc(name, version, **changes)
        return self.get_version(name, version)

    def delete_version(self, name: str, version: int, comment: str | None = None) -> None:
        """A tombstone stays so the number is never reused; the files and aliases go."""
        with self._locked(name):
            current = self.get_version(name, version)
            aliases = self._aliases(name)
            kept = {a: v for a, v in aliases.items() if v != version}
            if kept != aliases:
                write_json_atomic(self.layout.model_aliases(name), kept)
            self._update_version_doc(name, version, deleted=True, stage=Stage.ARCHIVED)
            shutil.rmtree(self.layout.version_artifacts(name, version), ignore_errors=True)
            self._event(name, "delete_version", version, current.stage, None, comment)

    # -- stages and aliases -----------------------------------------------------------------------

    def transition_stage(
        self,
        name: str,
        version: int,
        stage: str,
        archive_existing: bool = False,
        comment: str | None = None,
    ) -> ModelVersion:
        stage = Stage.transition_target(stage, archive_existing)
        with self._locked(name):
            current = self.get_version(name, version)
            others = [
                v
                for v in self.list_versions(name)
                if archive_existing and v.version != version and v.stage == stage
            ]
            if current.stage != stage:
                self._update_version_doc(name, version, stage=stage)
                self._event(name, "transition", version, current.stage, stage, comment)
            for other in others:
                self._update_version_doc(name, other.version, stage=Stage.ARCHIVED)
                self._event(
                    name,
                    "transition",
                    other.version,
                    other.stage,
                    Stage.ARCHIVED,
                    f"archived by the promotion of version {version}",
                )
        return self.get_version(name, version)

    def set_alias(
        self, name: str, alias: str, version: int, comment: str | None = None
    ) -> ModelVersion:
        validate_alias(alias)
        with self._locked(name):
            self.get_version(name, version)
            aliases = self._aliases(name)
            previous = aliases.get(alias)
            if previous != version:
                aliases[alias] = version
                write_json_atomic(self.layout.model_aliases(name), aliases)
                self._event(
                    name,
                    "set_alias",
                    version,
                    None if previous is None else str(previous),
                    f"{alias}",
                    comment,
                )
        return self.get_version(name, version)

    def delete_alias(self, name: str, alias: str) -> None:
        with self._locked(name):
            aliases = self._aliases(name)
            if alias not in aliases:
                raise NotFoundError(f"model {name!r} has no alias {alias!r}")
            version = aliases.pop(alias)
            write_json_atomic(self.layout.model_aliases(name), aliases)
            self._event(name, "delete_alias", version, alias, None)

    def version_by_alias(self, name: str, alias: str) -> ModelVersion:
        aliases = self._aliases(name)
        if alias.lower() == "latest":
            return self.latest_version(name)
        if alias not in aliases:
            self._model_doc(name)
            raise NotFoundError(f"model {name!r} has no alias {alias!r}")
        return self.get_version(name, aliases[alias])

    def latest_version(self, name: str) -> ModelVersion:
        versions = self.list_versions(name)
        if not versions:
            raise NotFoundError(f"model {name!r} has no versions")
        return versions[-1]

    def latest_versions(self, name: str, stages: list[str] | None = None) -> list[ModelVersion]:
        """The highest version in each stage (of ``stages``, or of every stage in use),
        in MLflow's order: stages as the versions, lowest first, first reach them."""
        wanted = [Stage.canonical(s) for s in stages] if stages else list(Stage.ALL)
        best: dict[str, ModelVersion] = {}
        for version in self.list_versions(name):
            if version.stage in wanted:
                best[version.stage] = version  # a later version keeps the stage's place
        return list(best.values())

    def holder(self, name: str, stage_or_alias: str) -> ModelVersion | None:
        """The version that holds a stage (the highest in it) or an alias, or None."""
        try:
            stage = Stage.canonical(stage_or_alias)
        except InvalidInputError:
            return (
                self.version_by_alias(name, stage_or_alias)
                if (stage_or_alias in self._aliases(name))
                else None
            )
        found = self.latest_versions(name, [stage])
        return found[0] if found else None

    def events(self, name: str) -> list[RegistryEvent]:
        self._model_doc(name)
        records, _ = read_log(self.layout.model_events(name))
        return [RegistryEvent.from_dict(r) for r in records]

    def artifacts_path(self, name: str, version: int) -> Path:
        self.get_version(name, version)
        return self.layout.version_artifacts(name, version)

    # -- internals ---------------------------------------------------------------------------------

    @contextmanager
    def _locked(self, name: str, create: bool = False) -> Iterator[None]:
        validate_model_name(name)
        directory = self.layout.model_dir(name)
        if create:
            directory.mkdir(parents=True, exist_ok=True)
        elif not self.layout.model_doc(name).is_file():
            raise NotFoundError(f"no registered model named {name!r} (see 'mlcli models list')")
        with FileLock(self.layout.model_lock(name)):
            yield

    def _model_doc(self, name: str) -> dict[str, Any]:
        validate_model_name(name)
        try:
            return read_json(self.layout.model_doc(name))
        except FileNotFoundError:
            raise NotFoundError(
                f"no registered model named {name!r} (see 'mlcli models list')"
            ) from None

    def _write_model_doc(self, name: str, description: str, tags: dict[str, str]) -> None:
        now = now_ms()
        write_json_atomic(
            self.layout.model_doc(name),
            {
                "name": name,
                "description": description,
                "tags": tags,
                "creation_time": now,
                "last_update_time": now,
            },
        )

    def _version_numbers(self, name: str) -> list[int]:
        try:
            entries = os.listdir(self.layout.versions_dir(name))
        except FileNotFoundError:
            return []
        return sorted(int(e) for e in entries if e.isdigit())

    def _versions(self, name: str, numbers: list[int]) -> list[ModelVersion]:
        aliases = self._aliases(name)
        found = (self._version(name, n, aliases) for n in numbers)
        return [v for v in found if v is not None]

    def _version(
        self, name: str, version: int, aliases: dict[str, int] | None = None
    ) -> ModelVersion | None:
        try:
            doc = read_json(self.layout.version_doc(name, version))
        except (FileNotFoundError, NotADirectoryError):
            return None
        aliases = self._aliases(name) if aliases is None else aliases
        return ModelVersion(
            name=name,
            version=int(doc["version"]),
            source=doc.get("source", ""),
            run_id=doc.get("run_id"),
            stage=doc.get("stage", Stage.NONE),
            status=doc.get("status", "READY"),
            description=doc.get("description") or "",
            tags=dict(doc.get("tags") or {}),
            user_id=doc.get("user_id", ""),
            creation_time=doc.get("creation_time", 0),
            last_update_time=doc.get("last_update_time", 0),
            aliases=tuple(sorted(a for a, v in aliases.items() if v == version)),
            git_commit=doc.get("git_commit"),
            deleted=bool(doc.get("deleted")),
        )

    def _aliases(self, name: str) -> dict[str, int]:
        try:
            return {str(k): int(v) for k, v in read_json(self.layout.model_aliases(name)).items()}
        except FileNotFoundError:
            return {}

    def _update_version_doc(self, name: str, version: int, **changes: Any) -> None:
        path = self.layout.version_doc(name, version)
        doc = read_json(path)
        doc.update(changes)
        doc["last_update_time"] = now_ms()
        write_json_atomic(path, doc)

    def _event(
        self,
        name: str,
        action: str,
        version: int | None = None,
        from_value: str | None = None,
        to_value: str | None = None,
        comment: str | None = None,
    ) -> None:
        event = RegistryEvent(now_ms(), self.user, action, version, from_value, to_value, comment)
        line = json.dumps(event.to_dict(), ensure_ascii=False) + "\n"
        append_bytes(self.layout.model_events(name), line.encode())


def store_registry(client: TrackingClient, *, create: bool = False) -> Registry:
    """The registry of the store ``client`` works on, acting as the current user: the
    store's files, or a team server's registry over REST; ``create`` makes a local
    store first if there is none yet (for writes)."""
    from mlcli.store import ServerStore, TeamStore
    from mlcli.tracking.context import current_user

    store = client.writable_store() if create else client.store
    if isinstance(store, ServerStore):
        from mlcli.registry.rest import ServerRegistry

        return ServerRegistry(store.connection, store.root, current_user())
    if isinstance(store, TeamStore):
        from mlcli.registry.postgres import PostgresRegistry

        return PostgresRegistry(store.database, store.objects, current_user())
    return ModelRegistry(StoreLayout(store.root), current_user())


def _clean_tags(tags: dict[str, str]) -> dict[str, str]:
    return {
        validate_key(k, "tag key"): validate_tag_value(k, v, MAX_TAG_VALUE_LENGTH)
        for k, v in tags.items()
    }


if TYPE_CHECKING:  # mypy checks that the file registry implements the protocol
    _FILE_REGISTRY_CONFORMS: type[Registry] = ModelRegistry
