"""The model registry's tables in a team store's PostgreSQL (schema ``mlcli``).

``registry_models.last_version`` is the highest version number ever claimed for the
model: registering a version claims the next one there (an ``UPDATE`` of the model's
row, which PostgreSQL serialises) before the version's files go to the bucket, so
numbers are never handed out twice, even to processes on different hosts.
``registry_models.id`` tells a model from one of the same name made after it was
deleted. The ``position`` columns keep tags and aliases in the order they were first
set, as the files registry's JSON documents do.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mlcli.store import TeamDatabase as Database

SCHEMA_NAME = "mlcli"  # the team store's schema (mlcli.store.team.database.SCHEMA_NAME)
_REGISTRY_LOCK = 0x6D6C636C6952  # "mlcliR": pg_advisory_xact_lock key, the registry's own

TABLES = f"""
CREATE SCHEMA IF NOT EXISTS {SCHEMA_NAME};
SET LOCAL search_path TO {SCHEMA_NAME};
CREATE TABLE IF NOT EXISTS registry_models (
    name TEXT PRIMARY KEY,
    id BIGSERIAL UNIQUE,
    description TEXT NOT NULL DEFAULT '',
    creation_time BIGINT NOT NULL,
    last_update_time BIGINT NOT NULL,
    last_version INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS registry_model_tags (
    name TEXT NOT NULL REFERENCES registry_models (name) ON DELETE CASCADE,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    position BIGSERIAL,
    PRIMARY KEY (name, key)
);
CREATE TABLE IF NOT EXISTS registry_versions (
    name TEXT NOT NULL REFERENCES registry_models (name) ON DELETE CASCADE,
    version INTEGER NOT NULL,
    source TEXT NOT NULL,
    run_id TEXT,
    stage TEXT NOT NULL,
    status TEXT NOT NULL,
    description TEXT NOT NULL,
    user_id TEXT NOT NULL,
    git_commit TEXT,
    creation_time BIGINT NOT NULL,
    last_update_time BIGINT NOT NULL,
    deleted BOOLEAN NOT NULL DEFAULT FALSE,
    PRIMARY KEY (name, version)
);
CREATE TABLE IF NOT EXISTS registry_version_tags (
    name TEXT NOT NULL,
    version INTEGER NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    position BIGSERIAL,
    PRIMARY KEY (name, version, key),
    FOREIGN KEY (name, version) REFERENCES registry_versions (name, version) ON DELETE CASCADE
);
CREATE TABLE IF NOT EXISTS registry_aliases (
    name TEXT NOT NULL,
    alias TEXT NOT NULL,
    version INTEGER NOT NULL,
    position BIGSERIAL,
    PRIMARY KEY (name, alias),
    FOREIGN KEY (name, version) REFERENCES registry_versions (name, version) ON DELETE CASCADE
);
CREATE TABLE IF NOT EXISTS registry_events (
    seq BIGSERIAL PRIMARY KEY,
    name TEXT NOT NULL REFERENCES registry_models (name) ON DELETE CASCADE,
    time BIGINT NOT NULL,
    user_id TEXT NOT NULL,
    action TEXT NOT NULL,
    version INTEGER,
    from_value TEXT,
    to_value TEXT,
    comment TEXT
);
CREATE INDEX IF NOT EXISTS registry_events_by_model ON registry_events (name, seq);
"""


def ensure_registry_tables(database: Database) -> None:
    """Create the registry's tables if they are missing (idempotent; replicas starting
    together wait for one another on an advisory lock)."""

    def work(connection: Any) -> None:
        connection.execute("SELECT pg_advisory_xact_lock(%s)", (_REGISTRY_LOCK,))
        connection.execute(TABLES)

    database.run(work)
