"""Where the auth database lives: what ``--auth-db`` names, and the one interface that
``AuthDatabase`` uses on either backend.

    PATH                                   a SQLite file (``sqlite.py``): one host
    postgresql://user@host:port/db         PostgreSQL (``postgres.py``): several
    postgres://...                         servers on several hosts share it

``AuthDatabase`` writes its SQL once, with ``?`` placeholders and the column ``"user"``
quoted (a reserved word in PostgreSQL); each backend runs one statement at a time in
its own transaction (autocommit), so several server processes and an admin command can
use the database at once. A constraint violation is :class:`IntegrityViolation` on
both; a PostgreSQL that cannot be reached is :class:`AuthDatabaseUnavailableError`
(a one-line error for the CLI, a 503 for the server), and the next statement connects
again.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit, urlunsplit

from mlcli.errors import InvalidInputError, MlcliError

POSTGRES_SCHEMES = ("postgresql://", "postgres://")
_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")


class AuthDatabaseUnavailableError(MlcliError):
    """The auth database's server does not answer (PostgreSQL down, unreachable)."""

    http_status = 503
    error_code = "TEMPORARILY_UNAVAILABLE"


class IntegrityViolation(Exception):
    """A statement broke a constraint (a duplicate key, a missing user)."""


@dataclass(frozen=True)
class Rows:
    rows: list[tuple[Any, ...]]
    count: int  # rows changed by an INSERT, UPDATE or DELETE

    def first(self) -> tuple[Any, ...] | None:
        return self.rows[0] if self.rows else None


class AuthConnection(Protocol):
    location: str  # what messages show: the path, or the URL without its password

    def run(self, sql: str, *args: object) -> Rows:
        """One statement, committed when it returns."""
        ...

    def insert_id(self, sql: str, *args: object) -> int:
        """An INSERT into a table with an ``id`` key: the new row's id."""
        ...

    def close(self) -> None: ...


def is_postgres_url(location: str | Path) -> bool:
    """Whether ``location`` is a PostgreSQL URL; any other URL is an error, not a path."""
    if not isinstance(location, str):
        return False
    if location.startswith(POSTGRES_SCHEMES):
        return True
    if _URL.match(location):
        raise InvalidInputError(
            f"unsupported --auth-db {_scheme_only(location)}: use a path (SQLite) or "
            "postgresql://user@host:port/database"
        )
    return False


def shown(location: str | Path) -> str:
    """``location`` for messages and logs: a URL's password hidden."""
    if not str(location).startswith(POSTGRES_SCHEMES):
        return str(location)
    parts = urlsplit(str(location))
    userinfo, at, hostport = parts.netloc.rpartition("@")
    if at and ":" in userinfo:
        parts = parts._replace(netloc=f"{userinfo.split(':', 1)[0]}:***@{hostport}")
    query = "&".join(
        "password=***" if item.startswith("password=") else item for item in parts.query.split("&")
    )
    return urlunsplit(parts._replace(query=query))


def _scheme_only(location: str) -> str:
    """An unsupported URL's scheme only (the rest may hold a password)."""
    return location.split("://", 1)[0] + "://..."


def resolved(location: str) -> str:
    """``--auth-db`` as a server passes it on to its workers: a path made absolute."""
    return location if is_postgres_url(location) else str(Path(location).resolve())


def connect(location: str | Path, *, create: bool) -> AuthConnection:
    """The database at ``location`` (a path or a PostgreSQL URL), its tables created
    when ``create``; a NotFoundError when it has none and ``create`` is false."""
    if is_postgres_url(location):
        from mlcli.tracking_server.auth.postgres import PostgresConnection

        return PostgresConnection.open(str(location), create=create)
    from mlcli.tracking_server.auth.sqlite import SqliteConnection

    return SqliteConnection.open(Path(location), create=create)
