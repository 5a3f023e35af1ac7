"""The auth database (``--auth-db``), shared by the server's workers and the admin
commands (``mlcli auth ...``): a SQLite file, or a PostgreSQL database that several
servers share (``connection.py`` says how each is reached).

    users(name, password_hash, is_admin, created)
    tokens(id, user, hash, label, created, last_used, revoked)
    permissions(user, kind 'experiment'|'model', target, level)
    settings(key, value)              default_permission (READ unless set)

Times are milliseconds since the epoch. A permission's target is an experiment's id or
name, or a registered model's name; a grant on an experiment's id wins over one on its
name. Every method is one statement (or reads only), so concurrent servers and admin
commands never see half a change; lists are sorted here, the same on both backends.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from mlcli.errors import InvalidInputError, NotFoundError
from mlcli.tracking_server.auth.connection import (
    AuthConnection,
    AuthDatabaseUnavailableError,
    IntegrityViolation,
    connect,
)
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
    def __init__(self, connection: AuthConnection) -> None:
        self.connection = connection
        self.location = connection.location  # no password in it
        # a password checked once is not checked again while its hash is unchanged
        self._verified: dict[tuple[str, str], str] = {}

    @classmethod
    def open(cls, location: str | Path, *, create: bool = False) -> AuthDatabase:
        """The database at ``location``, a path or a ``postgresql://`` URL; ``create``
        makes the file, or the tables, if they are missing."""
        return cls(connect(location, create=create))

    def close(self) -> None:
        self.connection.close()

    def __enter__(self) -> AuthDatabase:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def ping(self) -> None:
        """Raise unless the database answers (readiness)."""
        self.connection.run("SELECT 1 FROM users LIMIT 1")

    def _run(self, sql: str, *args: object) -> list[tuple[Any, ...]]:
        return self.connection.run(sql, *args).rows

    def _row(self, sql: str, *args: object) -> tuple[Any, ...] | None:
        return self.connection.run(sql, *args).first()

    def _change(self, sql: str, *args: object) -> int:
        """How many rows the statement changed."""
        return self.connection.run(sql, *args).count

    # -- users -----------------------------------------------------------------------------------

    def add_user(self, name: str, password: str, *, admin: bool = False) -> User:
        if not name or ":" in name or name != name.strip():
            raise InvalidInputError(f"invalid user name {name!r}: no ':' and no outer spaces")
        if not password:
            raise InvalidInputError("the password is empty")
        created = _now()
        try:
            self._change(
                "INSERT INTO users VALUES (?, ?, ?, ?)",
                name,
                hash_password(password),
                int(admin),
                created,
            )
        except IntegrityViolation:
            raise InvalidInputError(f"user {name!r} exists") from None
        return User(name, admin, created)

    def users(self) -> list[User]:
        rows = self._run("SELECT name, is_admin, created FROM users")
        return sorted((User(row[0], bool(row[1]), row[2]) for row in rows), key=_name)

    def user(self, name: str) -> User | None:
        row = self._row("SELECT name, is_admin, created FROM users WHERE name = ?", name)
        return None if row is None else User(row[0], bool(row[1]), row[2])

    def require_user(self, name: str) -> User:
        user = self.user(name)
        if user is None:
            raise NotFoundError(f"no user {name!r}")
        return user

    def remove_user(self, name: str) -> None:
        if self._change("DELETE FROM users WHERE name = ?", name) == 0:
            raise NotFoundError(f"no user {name!r}")

    def set_password(self, name: str, password: str) -> None:
        if not password:
            raise InvalidInputError("the password is empty")
        changed = self._change(
            "UPDATE users SET password_hash = ? WHERE name = ?", hash_password(password), name
        )
        if changed == 0:
            raise NotFoundError(f"no user {name!r}")

    def check_password(self, name: str, password: str) -> User | None:
        """The user, if ``password`` is theirs."""
        row = self._row("SELECT password_hash, is_admin, created FROM users WHERE name = ?", name)
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
        try:
            token_id = self.connection.insert_id(
                'INSERT INTO tokens ("user", hash, label, created) VALUES (?, ?, ?, ?)',
                user,
                token_hash(secret),
                label,
                created,
            )
        except IntegrityViolation:  # the user was removed meanwhile
            raise NotFoundError(f"no user {user!r}") from None
        return Token(token_id, user, label, created, None, False), secret

    def tokens(self, user: str) -> list[Token]:
        self.require_user(user)
        rows = self._run(
            'SELECT id, "user", label, created, last_used, revoked FROM tokens '
            'WHERE "user" = ? ORDER BY id',
            user,
        )
        return [Token(r[0], r[1], r[2], r[3], r[4], bool(r[5])) for r in rows]

    def revoke_token(self, token_id: int) -> None:
        if self._change("UPDATE tokens SET revoked = 1 WHERE id = ?", token_id) == 0:
            raise NotFoundError(f"no token {token_id}")

    def check_token(self, secret: str) -> User | None:
        """The user of a token that is not revoked."""
        row = self._row(
            "SELECT t.id, t.last_used, u.name, u.is_admin, u.created FROM tokens t "
            'JOIN users u ON u.name = t."user" WHERE t.hash = ? AND t.revoked = 0',
            token_hash(secret),
        )
        if row is None:
            return None
        now = _now()
        if row[1] is None or now - row[1] >= _LAST_USED_EVERY_MS:
            self._change("UPDATE tokens SET last_used = ? WHERE id = ?", now, row[0])
        return User(row[2], bool(row[3]), row[4])

    # -- permissions -----------------------------------------------------------------------------

    def grant(self, user: str, kind: str, target: str, level: Level) -> None:
        self.require_user(user)
        _check_kind(kind)
        try:
            self._change(
                'INSERT INTO permissions VALUES (?, ?, ?, ?) ON CONFLICT ("user", kind, target) '
                "DO UPDATE SET level = excluded.level",
                user,
                kind,
                target,
                level.name,
            )
        except IntegrityViolation:  # the user was removed meanwhile
            raise NotFoundError(f"no user {user!r}") from None

    def revoke(self, user: str, kind: str, target: str) -> None:
        _check_kind(kind)
        deleted = self._change(
            'DELETE FROM permissions WHERE "user" = ? AND kind = ? AND target = ?',
            user,
            kind,
            target,
        )
        if deleted == 0:
            raise NotFoundError(f"user {user!r} has no grant on {kind} {target!r}")

    def rename_target(self, kind: str, old: str, new: str) -> None:
        """Move every grant on ``old`` to ``new`` (a renamed registered model); grants
        left on ``new`` by an earlier thing of that name are dropped first."""
        _check_kind(kind)
        self._change("DELETE FROM permissions WHERE kind = ? AND target = ?", kind, new)
        self._change(
            "UPDATE permissions SET target = ? WHERE kind = ? AND target = ?", new, kind, old
        )

    def grants(self, user: str) -> list[tuple[str, str, Level]]:
        rows = self._run('SELECT kind, target, level FROM permissions WHERE "user" = ?', user)
        return sorted((row[0], row[1], Level[row[2]]) for row in rows)

    def level(self, user: str, kind: str, targets: tuple[str, ...]) -> Level:
        """``user``'s level on the first of ``targets`` (names of one thing) with a grant,
        else the default permission."""
        for target in targets:
            row = self._row(
                'SELECT level FROM permissions WHERE "user" = ? AND kind = ? AND target = ?',
                user,
                kind,
                target,
            )
            if row is not None:
                return Level[row[0]]
        return self.default_permission()

    # -- settings --------------------------------------------------------------------------------

    def default_permission(self) -> Level:
        row = self._row("SELECT value FROM settings WHERE key = 'default_permission'")
        return DEFAULT_PERMISSION if row is None else Level[row[0]]

    def set_default_permission(self, level: Level) -> None:
        self._change(
            "INSERT INTO settings VALUES ('default_permission', ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            level.name,
        )


def _check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise InvalidInputError(f"unknown kind {kind!r}: expected experiment or model")


def _name(user: User) -> str:
    return user.name


def _now() -> int:
    return int(time.time() * 1000)


__all__ = [
    "KINDS",
    "AuthDatabase",
    "AuthDatabaseUnavailableError",
    "Level",
    "Token",
    "User",
    "parse_level",
]
