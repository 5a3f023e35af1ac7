"""The team store's tables in PostgreSQL (schema ``mlcli``), created by the first
server that finds them missing, under an advisory lock so that replicas starting
together do not race.

The index tables (``experiments``, ``runs``, ``params``, ``tags``,
``latest_metrics``) have the columns of the local SQLite index
(``mlcli.store.index.schema``), so that ``mlcli.search`` compiles one filter for both.
``runs.doc`` is the run's document as a local store keeps it in ``run.json``.
``buffer`` holds the log lines not yet flushed to the bucket (see the package doc);
``runs.flushed`` the bytes of each log already there, per log name.
"""

from __future__ import annotations

import uuid
from typing import Any

from mlcli.errors import StoreError
from mlcli.store.team.database import SCHEMA_NAME, Database

SCHEMA_VERSION = "1"
_SCHEMA_LOCK = 0x6D6C636C6901  # "mlcli" 1: pg_advisory_xact_lock key

TABLES = f"""
CREATE SCHEMA IF NOT EXISTS {SCHEMA_NAME};
SET LOCAL search_path TO {SCHEMA_NAME};
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE SEQUENCE IF NOT EXISTS experiment_numbers START 1;
CREATE TABLE IF NOT EXISTS experiments (
    experiment_id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    lifecycle_stage TEXT NOT NULL,
    creation_time BIGINT,
    last_update_time BIGINT,
    deleted_time BIGINT,
    artifact_location TEXT NOT NULL,
    tags JSONB NOT NULL DEFAULT '{{}}',
    signature TEXT NOT NULL DEFAULT ''
);
-- names are unique among active experiments (a deleted one may share its name)
CREATE UNIQUE INDEX IF NOT EXISTS experiments_active_name ON experiments (name)
    WHERE lifecycle_stage = 'active';
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY,
    experiment_id TEXT NOT NULL,
    run_name TEXT NOT NULL,
    status TEXT NOT NULL,
    start_time BIGINT NOT NULL,
    end_time BIGINT,
    lifecycle_stage TEXT NOT NULL,
    deleted_time BIGINT,
    user_id TEXT NOT NULL,
    parent_run_id TEXT,
    doc JSONB NOT NULL,
    flushed JSONB NOT NULL DEFAULT '{{}}',
    manifest_etag TEXT,
    buffered INTEGER NOT NULL DEFAULT 0,  -- lines in the buffer
    dirty BOOLEAN NOT NULL DEFAULT TRUE,  -- the bucket's manifest is behind
    changed_at BIGINT NOT NULL DEFAULT 0,
    revision BIGINT NOT NULL DEFAULT 0    -- counts changes: a flush knows if one came meanwhile
);
CREATE INDEX IF NOT EXISTS runs_by_experiment ON runs (experiment_id, start_time);
CREATE INDEX IF NOT EXISTS runs_by_status ON runs (status);
CREATE INDEX IF NOT EXISTS runs_to_flush ON runs (changed_at) WHERE dirty;
CREATE TABLE IF NOT EXISTS params (
    run_id TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL,
    PRIMARY KEY (run_id, key)
);
CREATE INDEX IF NOT EXISTS params_by_key ON params (key, value);
CREATE TABLE IF NOT EXISTS tags (
    run_id TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL,
    PRIMARY KEY (run_id, key)
);
CREATE INDEX IF NOT EXISTS tags_by_key ON tags (key, value);
CREATE TABLE IF NOT EXISTS latest_metrics (
    run_id TEXT NOT NULL, key TEXT NOT NULL,
    value DOUBLE PRECISION,  -- NULL when is_nan, as in the SQLite index
    is_nan INTEGER NOT NULL,
    step BIGINT NOT NULL,
    timestamp BIGINT NOT NULL,
    PRIMARY KEY (run_id, key)
);
CREATE INDEX IF NOT EXISTS metrics_by_key ON latest_metrics (key, value);
-- what each run read (its inputs.jsonl, in order; see mlcli.store.inputs)
CREATE TABLE IF NOT EXISTS run_inputs (
    run_id TEXT NOT NULL,
    position BIGSERIAL,
    entry JSONB NOT NULL,
    PRIMARY KEY (run_id, position)
);
CREATE TABLE IF NOT EXISTS buffer (
    seq BIGSERIAL PRIMARY KEY,
    run_id TEXT NOT NULL,
    log TEXT NOT NULL,       -- params.jsonl, tags.jsonl, metrics.jsonl, inputs.jsonl, ...
    metric_key TEXT,         -- for metrics.jsonl: the line's key (history by key)
    line BYTEA NOT NULL      -- the line, exactly as a segment will hold it
);
CREATE INDEX IF NOT EXISTS buffer_by_run ON buffer (run_id, seq);
CREATE TABLE IF NOT EXISTS segments (
    run_id TEXT NOT NULL,
    position INTEGER NOT NULL,
    entry JSONB NOT NULL,    -- as the manifest names it: name, writer, parts
    PRIMARY KEY (run_id, position)
);
CREATE TABLE IF NOT EXISTS batches (
    run_id TEXT NOT NULL, batch_id TEXT NOT NULL, at BIGINT NOT NULL,
    PRIMARY KEY (run_id, batch_id)
);
CREATE TABLE IF NOT EXISTS logged_models (
    model_id TEXT PRIMARY KEY,
    run_id TEXT,
    experiment_id TEXT NOT NULL,
    doc JSONB NOT NULL
);
CREATE INDEX IF NOT EXISTS logged_models_by_run ON logged_models (run_id);
"""


def ensure(database: Database, bucket_url: str) -> str:
    """Create the tables if they are missing; refuse an index made for another bucket
    or by a newer mlcli (a StoreError, one line). Returns the store's writer name: what
    its segments and journal entries are named by in the bucket."""

    def work(connection: Any) -> str:
        connection.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK,))
        connection.execute(TABLES)
        meta = dict(connection.execute("SELECT key, value FROM meta").fetchall())
        if not meta:
            writer = "team" + uuid.uuid4().hex[:12]
            connection.execute(
                "INSERT INTO meta (key, value) VALUES ('schema_version', %s), ('bucket', %s), "
                "('writer', %s)",
                (SCHEMA_VERSION, bucket_url, writer),
            )
            return writer
        if meta.get("bucket") != bucket_url:
            raise StoreError(
                f"the index {database.location} belongs to the store {meta.get('bucket')}, "
                f"not {bucket_url}: give each store its own database"
            )
        if meta.get("schema_version") != SCHEMA_VERSION:
            raise StoreError(
                f"the index {database.location} was made by another version of mlcli "
                f"(schema {meta.get('schema_version')}, this one reads {SCHEMA_VERSION})"
            )
        return str(meta["writer"])

    return database.run(work)
