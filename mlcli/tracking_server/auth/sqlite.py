"""The auth database in one SQLite file: a server's workers and the admin commands on
one host. Each thread gets its own connection (WAL, a busy timeout), so that they can
all use the file at once."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

from mlcli.errors import NotFoundError
from mlcli.tracking_server.auth.connection import IntegrityViolation, Rows

_SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    name TEXT PRIMARY KEY, password_hash TEXT NOT NULL,
    is_admin INTEGER NOT NULL DEFAULT 0, created INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS tokens (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user TEXT NOT NULL REFERENCES users(name) ON DELETE CASCADE,
    hash TEXT NOT NULL UNIQUE, label TEXT NOT NULL DEFAULT '', created INTEGER NOT NULL,
    last_used INTEGER, revoked INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS permissions (
    user TEXT NOT NULL REFERENCES users(name) ON DELETE CASCADE,
    kind TEXT NOT NULL CHECK (kind IN ('experiment', 'model')),
    target TEXT NOT NULL, level TEXT NOT NULL, PRIMARY KEY (user, kind, target));
CREATE TABLE IF NOT EXISTS settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


class SqliteConnection:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.location = str(path)
        self._local = threading.local()
        self._opened: list[sqlite3.Connection] = []
        self._lock = threading.Lock()

    @classmethod
    def open(cls, path: Path, *, create: bool) -> SqliteConnection:
        """The file at ``path``; ``create`` makes it if it is missing."""
        if not create and not path.is_file():
            raise NotFoundError(
                f"no auth database at {path} (create it with 'mlcli auth users add')"
            )
        connection = cls(path)
        connection._connection()
        return connection

    def _connection(self) -> sqlite3.Connection:
        connection: sqlite3.Connection | None = getattr(self._local, "connection", None)
        if connection is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            connection = sqlite3.connect(
                self.path, timeout=30, isolation_level=None, check_same_thread=False
            )
            connection.execute("PRAGMA foreign_keys = ON")
            connection.execute("PRAGMA journal_mode = WAL")
            connection.executescript(_SCHEMA)
            self._local.connection = connection
            with self._lock:
                self._opened.append(connection)
        return connection

    def _execute(self, sql: str, args: tuple[object, ...]) -> sqlite3.Cursor:
        try:
            return self._connection().execute(sql, args)
        except sqlite3.IntegrityError as exc:
            raise IntegrityViolation(str(exc)) from None

    def run(self, sql: str, *args: object) -> Rows:
        cursor = self._execute(sql, args)
        return Rows(cursor.fetchall(), cursor.rowcount)

    def insert_id(self, sql: str, *args: object) -> int:
        cursor = self._execute(sql, args)
        assert cursor.lastrowid is not None
        return cursor.lastrowid

    def close(self) -> None:
        with self._lock:
            opened, self._opened = self._opened, []
        for connection in opened:
            connection.close()
        self._local = threading.local()
