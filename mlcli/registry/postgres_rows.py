"""The registry's rows in PostgreSQL: the queries :class:`mlcli.registry.postgres.
PostgresRegistry` runs inside its transactions (``c`` is a psycopg connection)."""

from __future__ import annotations

from typing import Any

from mlcli.clock import now_ms
from mlcli.errors import InvalidInputError, NotFoundError
from mlcli.registry.entities import ModelVersion, RegisteredModel
from mlcli.registry.files import _clean_tags

Connection = Any  # a psycopg connection inside Database.run


def no_model(name: str) -> NotFoundError:
    return NotFoundError(f"no registered model named {name!r} (see 'mlcli models list')")


def lock_model(c: Connection, name: str) -> tuple[int, str]:
    """Lock the model's row for this transaction: its id and description."""
    row = c.execute(
        "SELECT id, description FROM registry_models WHERE name = %s FOR UPDATE", (name,)
    ).fetchone()
    if row is None:
        raise no_model(name)
    return int(row[0]), str(row[1])


def require_model(c: Connection, name: str) -> None:
    if c.execute("SELECT 1 FROM registry_models WHERE name = %s", (name,)).fetchone() is None:
        raise no_model(name)


def claim(c: Connection, name: str) -> tuple[int, int]:
    """The next version number of ``name``, claimed: (model id, number)."""
    row = c.execute(
        "UPDATE registry_models SET last_version = last_version + 1 WHERE name = %s "
        "RETURNING id, last_version",
        (name,),
    ).fetchone()
    if row is None:
        raise no_model(name)
    return int(row[0]), int(row[1])


def models(c: Connection, name: str | None) -> list[RegisteredModel]:
    """The models (one, or all by name): ``last_update_time`` is
    :func:`mlcli.registry.entities.model_last_update`'s rule (the newest of the document,
    the versions and the audit trail)."""
    where, args = ("WHERE m.name = %s", (name,)) if name is not None else ("", ())
    rows = c.execute(
        "SELECT m.name, m.description, m.creation_time, GREATEST(m.last_update_time, "
        "(SELECT max(v.last_update_time) FROM registry_versions v WHERE v.name = m.name), "
        "(SELECT max(e.time) FROM registry_events e WHERE e.name = m.name)), "
        "(SELECT max(v.version) FROM registry_versions v WHERE v.name = m.name "
        "AND NOT v.deleted) "
        f'FROM registry_models m {where} ORDER BY m.name COLLATE "C"',
        args,
    ).fetchall()
    where = "WHERE name = %s" if name is not None else ""
    tags: dict[str, dict[str, str]] = {}
    for model, key, value in c.execute(
        f"SELECT name, key, value FROM registry_model_tags {where} ORDER BY position", args
    ):
        tags.setdefault(model, {})[key] = value
    aliases: dict[str, dict[str, int]] = {}
    for model, alias, version in c.execute(
        f"SELECT name, alias, version FROM registry_aliases {where} ORDER BY position", args
    ):
        aliases.setdefault(model, {})[alias] = version
    return [
        RegisteredModel(
            name=model,
            description=description,
            tags=tags.get(model, {}),
            creation_time=created,
            last_update_time=updated,
            aliases=aliases.get(model, {}),
            latest_version=latest,
        )
        for model, description, created, updated, latest in rows
    ]


def versions(c: Connection, name: str, version: int | None = None) -> list[ModelVersion]:
    """The versions of ``name`` (or only ``version``), deleted ones included, in order."""
    where = "WHERE name = %s" + ("" if version is None else " AND version = %s")
    args: tuple[Any, ...] = (name,) if version is None else (name, version)
    rows = c.execute(
        "SELECT version, source, run_id, stage, status, description, user_id, creation_time, "
        f"last_update_time, git_commit, deleted FROM registry_versions {where} ORDER BY version",
        args,
    ).fetchall()
    tags: dict[int, dict[str, str]] = {}
    for number, key, value in c.execute(
        f"SELECT version, key, value FROM registry_version_tags {where} ORDER BY position", args
    ):
        tags.setdefault(number, {})[key] = value
    aliases: dict[int, list[str]] = {}
    for number, alias in c.execute(f"SELECT version, alias FROM registry_aliases {where}", args):
        aliases.setdefault(number, []).append(alias)
    return [_version(name, row, tags, aliases) for row in rows]


def _version(
    name: str, row: Any, tags: dict[int, dict[str, str]], aliases: dict[int, list[str]]
) -> ModelVersion:
    number, source, run_id, stage, status, description, user, created, updated, commit, gone = row
    return ModelVersion(
        name=name,
        version=number,
        source=source,
        run_id=run_id,
        stage=stage,
        status=status,
        description=description,
        tags=tags.get(number, {}),
        user_id=user,
        creation_time=created,
        last_update_time=updated,
        aliases=tuple(sorted(aliases.get(number, []))),
        git_commit=commit,
        deleted=gone,
    )


def version_or_fail(c: Connection, name: str, version: int) -> ModelVersion:
    found = versions(c, name, version)
    if not found or found[0].deleted:
        require_model(c, name)  # a clearer error when the model itself is unknown
        raise NotFoundError(f"model {name!r} has no version {version}")
    return found[0]


def update_version(c: Connection, name: str, version: int, **changes: Any) -> None:
    """Set columns of a version's row (names from this module only) and its time."""
    columns = "".join(f"{column} = %s, " for column in changes)
    c.execute(
        f"UPDATE registry_versions SET {columns}last_update_time = %s "
        "WHERE name = %s AND version = %s",
        (*changes.values(), now_ms(), name, version),
    )


def touch(c: Connection, name: str, version: int | None) -> None:
    if version is None:
        c.execute(
            "UPDATE registry_models SET last_update_time = %s WHERE name = %s", (now_ms(), name)
        )
    else:
        update_version(c, name, version)


def tag_value(c: Connection, name: str, version: int | None, key: str) -> str | None:
    if version is None:
        row = c.execute(
            "SELECT value FROM registry_model_tags WHERE name = %s AND key = %s", (name, key)
        ).fetchone()
    else:
        row = c.execute(
            "SELECT value FROM registry_version_tags WHERE name = %s AND version = %s AND key = %s",
            (name, version, key),
        ).fetchone()
    return None if row is None else str(row[0])


def set_tag(c: Connection, name: str, version: int | None, key: str, value: str) -> None:
    """Set a tag; a tag set again keeps its place."""
    if version is None:
        c.execute(
            "INSERT INTO registry_model_tags (name, key, value) VALUES (%s, %s, %s) "
            "ON CONFLICT (name, key) DO UPDATE SET value = EXCLUDED.value",
            (name, key, value),
        )
    else:
        c.execute(
            "INSERT INTO registry_version_tags (name, version, key, value) "
            "VALUES (%s, %s, %s, %s) "
            "ON CONFLICT (name, version, key) DO UPDATE SET value = EXCLUDED.value",
            (name, version, key, value),
        )


def alias_version(c: Connection, name: str, alias: str) -> int | None:
    row = c.execute(
        "SELECT version FROM registry_aliases WHERE name = %s AND alias = %s", (name, alias)
    ).fetchone()
    return None if row is None else int(row[0])


# -- input PostgreSQL cannot hold ---------------------------------------------------------------


def storable(*texts: str | None) -> None:
    """PostgreSQL's text holds no NUL character (a file's JSON would): one line."""
    for text in texts:
        if text is not None and "\x00" in text:
            raise InvalidInputError(f"invalid text {text[:40]!r}: it contains a NUL character")


def storable_tags(tags: dict[str, str] | None) -> dict[str, str]:
    clean = _clean_tags(tags or {})
    storable(*clean.values())
    return clean
