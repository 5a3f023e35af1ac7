"""The model registry of a team store: documents in PostgreSQL, files in the bucket.

Several server processes on several hosts share it, so every read-modify-write of a
model runs in one transaction that first locks the model's row (``FOR UPDATE``): the
same rule as the files registry's lock file, with the same entities, errors, stage
rules, aliases and audit trail (the tables: :mod:`mlcli.registry.postgres_tables`).

Registering a version: the number is claimed first (``last_version`` of the model's
row, raised in a transaction of its own), then the files go to the bucket
(:mod:`mlcli.registry.bucket_files`), and the version's row comes last. A crash
half-way leaves no visible version, only files no row names; a failed upload removes
its files and gives the number back if no one claimed a later one. A model deleted
and registered again while an old registration was uploading may share keys with it:
the old one never removes files that a newer model of the name may own.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlcli.clock import now_ms
from mlcli.errors import ConflictError, InvalidInputError, MlcliError, NotFoundError
from mlcli.files.trees import walk_tree
from mlcli.objects import ObjectStore
from mlcli.registry import bucket_files
from mlcli.registry.entities import ModelVersion, RegisteredModel, RegistryEvent, Stage
from mlcli.registry.files import FAILED, PENDING
from mlcli.registry.names import validate_alias, validate_model_name
from mlcli.registry.postgres_rows import (
    alias_version,
    claim,
    lock_model,
    models,
    no_model,
    require_model,
    set_tag,
    storable,
    storable_tags,
    tag_value,
    touch,
    update_version,
    version_or_fail,
    versions,
)
from mlcli.registry.postgres_tables import ensure_registry_tables
from mlcli.registry.protocol import holder_of

if TYPE_CHECKING:
    from mlcli.registry.protocol import Registry
    from mlcli.store import TeamDatabase as Database

__all__ = ["PostgresRegistry", "ensure_registry_tables"]

READY = "READY"
Connection = Any  # a psycopg connection inside Database.run


class _ModelGone(NotFoundError):
    """The model was deleted while a version of it was being registered."""


class PostgresRegistry:
    """The registry in ``database`` (tables made by ``ensure_registry_tables``), with
    the versions' files in ``objects``; changes are recorded as made by ``user``."""

    def __init__(self, database: Database, objects: ObjectStore, user: str) -> None:
        database.ensure_once("registry", ensure_registry_tables)
        self.database = database
        self.objects = objects
        self.user = user

    # -- registered models --------------------------------------------------------------------

    def create_model(
        self, name: str, description: str = "", tags: dict[str, str] | None = None
    ) -> RegisteredModel:
        validate_model_name(name)
        clean_tags = storable_tags(tags)
        storable(description)

        def work(c: Connection) -> None:
            if not self._insert_model(c, name, description):
                raise ConflictError(f"a registered model named {name!r} already exists")
            for key, value in clean_tags.items():
                set_tag(c, name, None, key, value)

        self.database.run(work)
        return self.get_model(name)

    def ensure_model(self, name: str) -> RegisteredModel:
        validate_model_name(name)
        self.database.run(lambda c: self._insert_model(c, name, ""))
        return self.get_model(name)

    def get_model(self, name: str) -> RegisteredModel:
        validate_model_name(name)
        found = self.database.run(lambda c: models(c, name))
        if not found:
            raise no_model(name)
        return found[0]

    def list_models(self) -> list[RegisteredModel]:
        return self.database.run(lambda c: models(c, None))

    def update_model(
        self, name: str, description: str | None = None, tags: dict[str, str] | None = None
    ) -> RegisteredModel:
        clean_tags = storable_tags(tags)
        validate_model_name(name)
        storable(description)

        def work(c: Connection) -> None:
            old_description = lock_model(c, name)[1]
            if description is not None:
                self._event(c, name, "describe", None, old_description, description)
                c.execute(
                    "UPDATE registry_models SET description = %s WHERE name = %s",
                    (description, name),
                )
            for key, value in clean_tags.items():
                self._event(c, name, "tag", None, tag_value(c, name, None, key), f"{key}={value}")
                set_tag(c, name, None, key, value)
            touch(c, name, None)

        self.database.run(work)
        return self.get_model(name)

    def delete_tag(self, name: str, key: str, version: int | None = None) -> None:
        """Remove a tag of the registered model, or of one of its versions."""
        validate_model_name(name)

        def work(c: Connection) -> None:
            lock_model(c, name)
            if version is not None:
                version_or_fail(c, name, version)
            value = tag_value(c, name, version, key)
            if value is None:
                what = f"model {name!r}" + ("" if version is None else f" version {version}")
                raise NotFoundError(f"{what} has no tag {key!r}")
            self._event(c, name, "untag", version, value, key)
            if version is None:
                c.execute(
                    "DELETE FROM registry_model_tags WHERE name = %s AND key = %s", (name, key)
                )
            else:
                c.execute(
                    "DELETE FROM registry_version_tags WHERE name = %s AND version = %s "
                    "AND key = %s",
                    (name, version, key),
                )
            touch(c, name, version)

        self.database.run(work)

    def rename_model(self, name: str, new_name: str) -> RegisteredModel:
        """Not in a team store yet: its versions' files in the bucket are named by
        the model's name (``bucket_files``), and would have to be copied."""
        self.get_model(name)  # NotFoundError first
        error = MlcliError(
            "a team store cannot rename a registered model yet: register its versions "
            f"under {new_name!r} (mlcli register models:/{name}/N --name {new_name})",
            error_code="NOT_IMPLEMENTED",
        )
        error.http_status = 501
        raise error

    def delete_model(self, name: str) -> None:
        """Remove a registered model with all its versions: its rows go in one
        transaction (so no half-model is ever seen), then its files."""
        validate_model_name(name)

        def work(c: Connection) -> list[int]:
            lock_model(c, name)
            rows = c.execute(
                "SELECT version FROM registry_versions WHERE name = %s AND NOT deleted", (name,)
            ).fetchall()
            c.execute("DELETE FROM registry_models WHERE name = %s", (name,))
            return [row[0] for row in rows]

        for version in self.database.run(work):
            self._remove_files(name, None, version)

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
        status: str = READY,
    ) -> ModelVersion:
        """Upload ``source_dir`` as the next version of ``name`` (created if needed).

        Symbolic links are followed only to files and folders inside ``source_dir``
        (the others are left out, each with a SkippedFileWarning); empty folders are
        not kept, a bucket has none. A server creates an uploaded version empty, with
        ``status`` ``PENDING_REGISTRATION``, until :meth:`finish_version`."""
        clean_tags = storable_tags(tags)
        storable(source, run_id, git_commit, description)
        self.ensure_model(name)
        tree = walk_tree(source_dir)
        tree.warn()
        model_id, version = self.database.run(lambda c: claim(c, name))
        try:
            bucket_files.upload(self.objects, name, version, tree)
        except BaseException:
            self._remove_files(name, model_id, version)
            raise
        new = ModelVersion(
            name, version, source, run_id, Stage.NONE, status, description, clean_tags,
            self.user, 0, 0, git_commit=git_commit,
        )  # fmt: skip
        try:
            self.database.run(lambda c: self._insert_version(c, model_id, new))
        except _ModelGone:
            self._remove_files(name, model_id, version)
            raise
        return self.get_version(name, version)

    def finish_version(self, name: str, version: int, failed: bool = False) -> ModelVersion:
        """An uploaded version's files are all there (``READY``), or will never be
        (``FAILED_REGISTRATION``); only a pending version can be finished."""
        validate_model_name(name)

        def work(c: Connection) -> None:
            lock_model(c, name)
            current = version_or_fail(c, name, version)
            if current.status != PENDING:
                raise InvalidInputError(
                    f"model {name!r} version {version} is {current.status}, not {PENDING}",
                    error_code="INVALID_STATE",
                )
            update_version(c, name, version, status=FAILED if failed else READY)

        self.database.run(work)
        return self.get_version(name, version)

    def get_version(self, name: str, version: int) -> ModelVersion:
        validate_model_name(name)
        return self.database.run(lambda c: version_or_fail(c, name, version))

    def list_versions(self, name: str, include_deleted: bool = False) -> list[ModelVersion]:
        validate_model_name(name)

        def work(c: Connection) -> list[ModelVersion]:
            require_model(c, name)
            return [v for v in versions(c, name) if include_deleted or not v.deleted]

        return self.database.run(work)

    def update_version(
        self,
        name: str,
        version: int,
        description: str | None = None,
        tags: dict[str, str] | None = None,
    ) -> ModelVersion:
        clean_tags = storable_tags(tags)
        validate_model_name(name)
        storable(description)

        def work(c: Connection) -> None:
            lock_model(c, name)
            current = version_or_fail(c, name, version)
            if description is not None:
                self._event(c, name, "describe", version, current.description, description)
                update_version(c, name, version, description=description)
            for key, value in clean_tags.items():
                self._event(c, name, "tag", version, current.tags.get(key), f"{key}={value}")
                set_tag(c, name, version, key, value)
            touch(c, name, version)

        self.database.run(work)
        return self.get_version(name, version)

    def delete_version(self, name: str, version: int, comment: str | None = None) -> None:
        """A tombstone stays so the number is never reused; the files and aliases go."""
        validate_model_name(name)
        storable(comment)

        def work(c: Connection) -> int:
            model_id = lock_model(c, name)[0]
            current = version_or_fail(c, name, version)
            c.execute(
                "DELETE FROM registry_aliases WHERE name = %s AND version = %s", (name, version)
            )
            update_version(c, name, version, deleted=True, stage=Stage.ARCHIVED)
            self._event(c, name, "delete_version", version, current.stage, None, comment)
            return int(model_id)

        model_id = self.database.run(work)
        self._remove_files(name, model_id, version, give_back=False)

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
        validate_model_name(name)
        storable(comment)

        def work(c: Connection) -> None:
            lock_model(c, name)
            current = version_or_fail(c, name, version)
            others = [
                v
                for v in versions(c, name)
                if archive_existing and not v.deleted and v.version != version and v.stage == stage
            ]
            if current.stage != stage:
                update_version(c, name, version, stage=stage)
                self._event(c, name, "transition", version, current.stage, stage, comment)
            for other in others:
                update_version(c, name, other.version, stage=Stage.ARCHIVED)
                self._event(
                    c,
                    name,
                    "transition",
                    other.version,
                    other.stage,
                    Stage.ARCHIVED,
                    f"archived by the promotion of version {version}",
                )

        self.database.run(work)
        return self.get_version(name, version)

    def set_alias(
        self, name: str, alias: str, version: int, comment: str | None = None
    ) -> ModelVersion:
        validate_alias(alias)
        validate_model_name(name)
        storable(comment)

        def work(c: Connection) -> None:
            lock_model(c, name)
            version_or_fail(c, name, version)
            previous = alias_version(c, name, alias)
            if previous != version:
                c.execute(
                    "INSERT INTO registry_aliases (name, alias, version) VALUES (%s, %s, %s) "
                    "ON CONFLICT (name, alias) DO UPDATE SET version = EXCLUDED.version",
                    (name, alias, version),
                )
                shown = None if previous is None else str(previous)
                self._event(c, name, "set_alias", version, shown, alias, comment)

        self.database.run(work)
        return self.get_version(name, version)

    def delete_alias(self, name: str, alias: str) -> None:
        validate_model_name(name)

        def work(c: Connection) -> None:
            lock_model(c, name)
            version = alias_version(c, name, alias)
            if version is None:
                raise NotFoundError(f"model {name!r} has no alias {alias!r}")
            c.execute("DELETE FROM registry_aliases WHERE name = %s AND alias = %s", (name, alias))
            self._event(c, name, "delete_alias", version, alias, None)

        self.database.run(work)

    def version_by_alias(self, name: str, alias: str) -> ModelVersion:
        validate_model_name(name)
        if alias.lower() == "latest":
            return self.latest_version(name)

        def work(c: Connection) -> ModelVersion:
            version = alias_version(c, name, alias)
            if version is None:
                require_model(c, name)
                raise NotFoundError(f"model {name!r} has no alias {alias!r}")
            return version_or_fail(c, name, version)

        return self.database.run(work)

    def latest_version(self, name: str) -> ModelVersion:
        versions = self.list_versions(name)
        if not versions:
            raise NotFoundError(f"model {name!r} has no versions")
        return versions[-1]

    def latest_versions(self, name: str, stages: list[str] | None = None) -> list[ModelVersion]:
        """The highest version in each stage (of ``stages``, or of every stage in use),
        in MLflow's order: stages as the versions, lowest first, first reach them."""
        wanted = [Stage.canonical(s) for s in stages] if stages else list(Stage.ALL)
        best = {v.stage: v for v in self.list_versions(name) if v.stage in wanted}
        return list(best.values())

    def holder(self, name: str, stage_or_alias: str) -> ModelVersion | None:
        return holder_of(self, name, stage_or_alias)

    def events(self, name: str) -> list[RegistryEvent]:
        validate_model_name(name)

        def work(c: Connection) -> list[RegistryEvent]:
            require_model(c, name)
            rows = c.execute(
                "SELECT time, user_id, action, version, from_value, to_value, comment "
                "FROM registry_events WHERE name = %s ORDER BY seq",
                (name,),
            ).fetchall()
            return [RegistryEvent(*row) for row in rows]

        return self.database.run(work)

    def artifacts_path(self, name: str, version: int) -> Path:
        """The version's files, downloaded from the bucket into the cache once."""
        found = self.get_version(name, version)
        if found.status != READY:
            raise InvalidInputError(
                f"model {name!r} version {version} has no files to read: it is "
                f"{found.status}, not {READY}"
            )
        return bucket_files.cached_copy(self.objects, name, version, found.creation_time)

    # -- internals ---------------------------------------------------------------------------------

    def _insert_model(self, c: Connection, name: str, description: str) -> bool:
        """A new model's row and its ``create_model`` event; False if it exists."""
        now = now_ms()
        inserted = c.execute(
            "INSERT INTO registry_models (name, description, creation_time, last_update_time) "
            "VALUES (%s, %s, %s, %s) ON CONFLICT (name) DO NOTHING RETURNING id",
            (name, description, now, now),
        ).fetchone()
        if inserted is not None:
            self._event(c, name, "create_model")
        return inserted is not None

    def _insert_version(self, c: Connection, model_id: int, new: ModelVersion) -> None:
        row = c.execute(
            "SELECT id FROM registry_models WHERE name = %s FOR UPDATE", (new.name,)
        ).fetchone()
        if row is None or row[0] != model_id:
            raise _ModelGone(str(no_model(new.name)))
        if versions(c, new.name, new.version):
            return  # this transaction committed before, and PostgreSQL went away after
        now = now_ms()
        c.execute(
            "INSERT INTO registry_versions (name, version, source, run_id, stage, status, "
            "description, user_id, git_commit, creation_time, last_update_time) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            (
                new.name, new.version, new.source, new.run_id, new.stage, new.status,
                new.description, new.user_id, new.git_commit, now, now,
            ),
        )  # fmt: skip
        for key, value in new.tags.items():
            set_tag(c, new.name, new.version, key, value)
        self._event(c, new.name, "register", new.version, None, new.source)

    def _remove_files(
        self, name: str, model_id: int | None, version: int, give_back: bool = True
    ) -> None:
        """Best effort: the files of ``version`` of the model ``model_id`` (None: the
        one just deleted), unless a newer model of that name claimed the number since;
        then ``version`` is given back if it is still the model's last claim."""

        def owner(c: Connection) -> tuple[int, int] | None:
            row = c.execute(
                "SELECT id, last_version FROM registry_models WHERE name = %s", (name,)
            ).fetchone()
            return None if row is None else (int(row[0]), int(row[1]))

        with contextlib.suppress(MlcliError, OSError):
            now = self.database.run(owner)
            if now is not None and now[0] != model_id and now[1] >= version:
                return  # the number is a newer model's now: its files may be there
            bucket_files.remove(self.objects, name, version)
            if give_back and now is not None and now[0] == model_id:
                self.database.run(
                    lambda c: c.execute(
                        "UPDATE registry_models SET last_version = last_version - 1 "
                        "WHERE id = %s AND last_version = %s",
                        (model_id, version),
                    )
                )

    def _event(
        self,
        c: Connection,
        name: str,
        action: str,
        version: int | None = None,
        from_value: str | None = None,
        to_value: str | None = None,
        comment: str | None = None,
    ) -> None:
        c.execute(
            "INSERT INTO registry_events (name, time, user_id, action, version, from_value, "
            "to_value, comment) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
            (name, now_ms(), self.user, action, version, from_value, to_value, comment),
        )


if TYPE_CHECKING:  # mypy checks that the team store's registry implements the protocol
    _POSTGRES_REGISTRY_CONFORMS: type[Registry] = PostgresRegistry
