"""The index's tables: their definition, and telling an index of this version and this
store from one to reset."""

from __future__ import annotations

import sqlite3
from pathlib import Path

SCHEMA_VERSION = "2"  # 2: runs_by_stage

SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE experiments (
    experiment_id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    lifecycle_stage TEXT NOT NULL,
    creation_time INTEGER,
    last_update_time INTEGER,
    signature TEXT NOT NULL
);
CREATE TABLE runs (
    run_id TEXT PRIMARY KEY,
    experiment_id TEXT NOT NULL,
    run_name TEXT NOT NULL,
    status TEXT NOT NULL,
    start_time INTEGER NOT NULL,
    end_time INTEGER,
    lifecycle_stage TEXT NOT NULL,
    deleted_time INTEGER,
    user_id TEXT NOT NULL,
    parent_run_id TEXT,
    doc_signature TEXT NOT NULL,
    params_offset INTEGER NOT NULL DEFAULT 0,
    tags_offset INTEGER NOT NULL DEFAULT 0,
    metrics_offset INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX runs_by_experiment ON runs (experiment_id, start_time);
CREATE INDEX runs_by_status ON runs (status);
CREATE INDEX runs_by_stage ON runs (experiment_id, lifecycle_stage);
CREATE TABLE params (
    run_id TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL,
    PRIMARY KEY (run_id, key)
) WITHOUT ROWID;
CREATE INDEX params_by_key ON params (key, value);
CREATE TABLE tags (
    run_id TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL,
    PRIMARY KEY (run_id, key)
) WITHOUT ROWID;
CREATE INDEX tags_by_key ON tags (key, value);
CREATE TABLE latest_metrics (
    run_id TEXT NOT NULL, key TEXT NOT NULL,
    value REAL,             -- NULL when is_nan: SQLite cannot store NaN
    is_nan INTEGER NOT NULL,
    step INTEGER NOT NULL,
    timestamp INTEGER NOT NULL,
    PRIMARY KEY (run_id, key)
) WITHOUT ROWID;
CREATE INDEX metrics_by_key ON latest_metrics (key, value);
"""

TABLES = ("meta", "experiments", "runs", "params", "tags", "latest_metrics")
SECONDARY_INDEXES = [
    (line.split()[2], line.rstrip(";"))
    for line in SCHEMA.splitlines()
    if line.startswith("CREATE INDEX")
]


def is_current(db: sqlite3.Connection, root: Path) -> bool:
    tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    if not set(TABLES) <= tables:
        return False
    meta = dict(db.execute("SELECT key, value FROM meta"))
    db.execute("SELECT count(*) FROM runs").fetchone()  # raises on a damaged file
    return meta.get("schema_version") == SCHEMA_VERSION and meta.get("store_root") == str(root)


def reset(db: sqlite3.Connection, root: Path) -> None:
    db.execute("BEGIN IMMEDIATE")
    try:
        for (name,) in db.execute(
            "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'"
        ).fetchall():
            db.execute(f'DROP TABLE IF EXISTS "{name}"')
        for statement in SCHEMA.split(";"):
            if statement.strip():
                db.execute(statement)
        db.executemany(
            "INSERT INTO meta (key, value) VALUES (?, ?)",
            [("schema_version", SCHEMA_VERSION), ("store_root", str(root))],
        )
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")
