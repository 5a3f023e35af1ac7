"""The auth database: one SQLite file (``--auth-db``) shared by the server's workers and
the admin commands (``mlcli auth ...``).

    users(name, password_hash, is_admin, created)
    tokens(id, user, hash, label, created, last_used, revoked)
    permissions(user, kind 'experiment'|'model', target, level)
    settings(key, value)              default_permission (READ unless set)

Times are milliseconds since the epoch. A permission's target is an experiment's id or
name, or a registered model's name; a grant on an experiment's id wins over one on its
name. Each thread gets its own connection (WAL, a busy timeout), so server workers and
an admin command can use the file at once.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from mlcli.errors import InvalidInputError, NotFoundError
from mlcli.tracking_server.auth.credentials import (
    hash_password,
    new_token,
    password_matches,
    token_hash,
)
from mlcli.tracking_server.auth.levels import Level, parse_level

KINDS = ("experiment", "model")
DEFAULT_PERMISSION = Level.READ
_LAST_USED_EVERY_MS = 60_000  # a token's last_used is written at most once a minute
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


@dataclass(frozen=True)
class User:
    name: str
    is_admin: bool
    created: int


@dataclass(frozen=True)
class Token:
    id: int
    user: str
    label: str
    created: int
    last_used: int | None
    revoked: bool


class AuthDatabase:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._local = threading.local()
        # a password checked once is not checked again while its hash is unchanged
        self._verified: dict[tuple[str, str], str] = {}

    @classmethod
    def open(cls, path: Path, *, create: bool = False) -> AuthDatabase:
        """The database at ``path``; ``create`` makes the file if it is missing."""
        if not create and not path.is_file():
            raise NotFoundError(
                f"no auth database at {path} (create it with 'mlcli auth users add')"
            )
        database = cls(path)
        database._connection()
        return database

    def _connection(self) -> sqlite3.Connection:
        connection: sqlite3.Connection | None = getattr(self._local, "connection", None)
        if connection is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            connection = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            connection.execute("PRAGMA foreign_keys = ON")
            connection.execute("PRAGMA journal_mode = WAL")
            connection.executescript(_SCHEMA)
            self._local.connection = connection
        return connection

    def _run(self, sql: str, *args: object) -> sqlite3.Cursor:
        return self._connection().execute(sql, args)

    # -- users -----------------------------------------------------------------------------------

    def add_user(self, name: str, password: str, *, admin: bool = False) -> User:
        if not name or ":" in name or name != name.strip():
            raise InvalidInputError(f"invalid user name {name!r}: no ':' and no outer spaces")
        if not password:
            raise InvalidInputError("the password is empty")
        created = _now()
        try:
            self._run(
                "INSERT INTO users VALUES (?, ?, ?, ?)",
                name,
                hash_password(password),
                admin,
                created,
            )
        except sqlite3.IntegrityError:
            raise InvalidInputError(f"user {name!r} exists") from None
        return User(name, admin, created)

    def users(self) -> list[User]:
        rows = self._run("SELECT name, is_admin, created FROM users ORDER BY name").fetchall()
        return [User(row[0], bool(row[1]), row[2]) for row in rows]

    def user(self, name: str) -> User | None:
        row = self._run("SELECT name, is_admin, created FROM users WHERE name = ?", name).fetchone()
        return None if row is None else User(row[0], bool(row[1]), row[2])

    def require_user(self, name: str) -> User:
        user = self.user(name)
        if user is None:
            raise NotFoundError(f"no user {name!r}")
        return user

    def remove_user(self, name: str) -> None:
        if self._run("DELETE FROM users WHERE name = ?", name).rowcount == 0:
            raise NotFoundError(f"no user {name!r}")

    def set_password(self, name: str, password: str) -> None:
        if not password:
            raise InvalidInputError("the password is empty")
        changed = self._run(
            "UPDATE users SET password_hash = ? WHERE name = ?", hash_password(password), name
        )
        if changed.rowcount == 0:
            raise NotFoundError(f"no user {name!r}")

    def check_password(self, name: str, password: str) -> User | None:
        """The user, if ``password`` is theirs."""
        row = self._run(
            "SELECT password_hash, is_admin, created FROM users WHERE name = ?", name
        ).fetchone()
        if row is None:
            return None
        stored = row[0]
        key = (name, token_hash(password))
        if self._verified.get(key) != stored:
            if not password_matches(stored, password):
                return None
            self._verified[key] = stored
        return User(name, bool(row[1]), row[2])

    # -- tokens ----------------------------------------------------------------------------------

    def create_token(self, user: str, label: str = "") -> tuple[Token, str]:
        """A new token for ``user``: (its record, the token itself, shown only now)."""
        self.require_user(user)
        secret = new_token()
        created = _now()
        cursor = self._run(
            "INSERT INTO tokens (user, hash, label, created) VALUES (?, ?, ?, ?)",
            user,
            token_hash(secret),
            label,
            created,
        )
        assert cursor.lastrowid is not None
        return Token(cursor.lastrowid, user, label, created, None, False), secret

    def tokens(self, user: str) -> list[Token]:
        self.require_user(user)
        rows = self._run(
            "SELECT id, user, label, created, last_used, revoked FROM tokens WHERE user = ? "
            "ORDER BY id",
            user,
        ).fetchall()
        return [Token(r[0], r[1], r[2], r[3], r[4], bool(r[5])) for r in rows]

    def revoke_token(self, token_id: int) -> None:
        if self._run("UPDATE tokens SET revoked = 1 WHERE id = ?", token_id).rowcount == 0:
            raise NotFoundError(f"no token {token_id}")

    def check_token(self, secret: str) -> User | None:
        """The user of a token that is not revoked."""
        row = self._run(
            "SELECT t.id, t.last_used, u.name, u.is_admin, u.created FROM tokens t "
            "JOIN users u ON u.name = t.user WHERE t.hash = ? AND t.revoked = 0",
            token_hash(secret),
        ).fetchone()
        if row is None:
            return None
        now = _now()
        if row[1] is None or now - row[1] >= _LAST_USED_EVERY_MS:
            self._run("UPDATE tokens SET last_used = ? WHERE id = ?", now, row[0])
        return User(row[2], bool(row[3]), row[4])

    # -- permissions -----------------------------------------------------------------------------

    def grant(self, user: str, kind: str, target: str, level: Level) -> None:
        self.require_user(user)
        _check_kind(kind)
        self._run(
            "INSERT INTO permissions VALUES (?, ?, ?, ?) ON CONFLICT (user, kind, target) "
            "DO UPDATE SET level = excluded.level",
            user,
            kind,
            target,
            level.name,
        )

    def revoke(self, user: str, kind: str, target: str) -> None:
        _check_kind(kind)
        deleted = self._run(
            "DELETE FROM permissions WHERE user = ? AND kind = ? AND target = ?", user, kind, target
        )
        if deleted.rowcount == 0:
            raise NotFoundError(f"user {user!r} has no grant on {kind} {target!r}")

    def grants(self, user: str) -> list[tuple[str, str, Level]]:
        rows = self._run(
            "SELECT kind, target, level FROM permissions WHERE user = ? ORDER BY kind, target", user
        ).fetchall()
        return [(row[0], row[1], Level[row[2]]) for row in rows]

    def level(self, user: str, kind: str, targets: tuple[str, ...]) -> Level:
        """``user``'s level on the first of ``targets`` (names of one thing) with a grant,
        else the default permission."""
        for target in targets:
            row = self._run(
                "SELECT level FROM permissions WHERE user = ? AND kind = ? AND target = ?",
                user,
                kind,
                target,
            ).fetchone()
            if row is not None:
                return Level[row[0]]
        return self.default_permission()

    # -- settings --------------------------------------------------------------------------------

    def default_permission(self) -> Level:
        row = self._run("SELECT value FROM settings WHERE key = 'default_permission'").fetchone()
        return DEFAULT_PERMISSION if row is None else Level[row[0]]

    def set_default_permission(self, level: Level) -> None:
        self._run(
            "INSERT INTO settings VALUES ('default_permission', ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            level.name,
        )


def _check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise InvalidInputError(f"unknown kind {kind!r}: expected experiment or model")


def _now() -> int:
    return int(time.time() * 1000)


__all__ = ["KINDS", "AuthDatabase", "Level", "Token", "User", "parse_level"]
