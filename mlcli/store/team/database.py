"""The team store's PostgreSQL: a pool of connections, transactions that survive a
PostgreSQL restart, and errors as one line.

Every statement runs inside :meth:`Database.transaction`. A connection that broke while
idle (PostgreSQL restarted, a proxy dropped it) fails its first statement; the pool then
tests its idle connections and drops the broken ones. A transaction that fails because
the server went away before its commit, or because of a serialisation conflict or a
deadlock, is retried from the start (``RETRIES`` times), which is safe because it left
no trace. What still fails is :class:`IndexUnavailableError` (a 503 on the server).
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

from mlcli.errors import InvalidInputError, MlcliError

if TYPE_CHECKING:
    import psycopg
    import psycopg_pool

SERVER_EXTRA = (
    "a PostgreSQL index needs the server extra: pip install 'mlcli[server]' "
    "(psycopg and psycopg-pool)"
)
CONNECT_TIMEOUT_SECONDS = 5
# How long a request waits for a connection: PostgreSQL down is a 503 after this long
POOL_WAIT_SECONDS = 5.0
RETRIES = 4
SCHEMA_NAME = "mlcli"
T = TypeVar("T")
_log = logging.getLogger("mlcli")


class IndexUnavailableError(MlcliError):
    """PostgreSQL does not answer (down, restarting, unreachable)."""

    http_status = 503
    error_code = "TEMPORARILY_UNAVAILABLE"


def shown(url: str) -> str:
    """``url`` for messages and logs, its password hidden."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return urlunsplit(parts._replace(netloc=f"{parts.username}:***@{host}{port}"))


class Database:
    """The PostgreSQL at ``url``; tables live in the schema ``mlcli``."""

    def __init__(self, url: str, *, max_size: int = 16) -> None:
        try:
            import psycopg  # noqa: F401
            import psycopg_pool
        except ImportError:
            raise InvalidInputError(SERVER_EXTRA) from None
        self.url = url
        self.location = shown(url)
        self._pool: psycopg_pool.ConnectionPool[Any] = psycopg_pool.ConnectionPool(
            url,
            min_size=1,
            max_size=max_size,
            open=False,
            configure=_configure,
            kwargs={
                "connect_timeout": CONNECT_TIMEOUT_SECONDS,
                "application_name": "mlcli-server",
            },
            timeout=POOL_WAIT_SECONDS,
            reconnect_timeout=0,
        )
        self._opened = False
        self._ensured: set[str] = set()
        self._ensure_lock = threading.Lock()

    def ensure_once(self, name: str, create: Callable[[Database], None]) -> None:
        """``create(self)`` the first time ``name`` is asked for on this database (the
        tables a part of mlcli keeps here: made once per process, not per request)."""
        with self._ensure_lock:
            if name not in self._ensured:
                create(self)
                self._ensured.add(name)

    def open(self) -> None:
        if not self._opened:
            self._pool.open(wait=False)
            self._opened = True
            # a pool left open at exit would keep reconnecting (and logging) while the
            # interpreter shuts down
            atexit.register(self.close)

    def close(self) -> None:
        if self._opened:
            self._pool.close()
            self._opened = False

    @contextmanager
    def transaction(self) -> Iterator[psycopg.Connection[Any]]:
        """One transaction on a pooled connection (not retried: see :meth:`run`)."""
        import psycopg
        import psycopg_pool

        self.open()
        try:
            with self._pool.connection() as connection, connection.transaction():
                yield connection
        except psycopg_pool.PoolTimeout as exc:
            raise IndexUnavailableError(
                f"the index {self.location} cannot be reached: {exc}"
            ) from None
        except psycopg.OperationalError as exc:
            raise IndexUnavailableError(
                f"the index {self.location} cannot be reached: {_first_line(exc)}"
            ) from exc
        except psycopg.DataError as exc:  # a value PostgreSQL cannot take (a bad regex...)
            raise InvalidInputError(f"refused by the index: {_first_line(exc)}") from None
        except ValueError as exc:
            if "NUL" not in str(exc):
                raise
            raise InvalidInputError("text cannot contain NUL characters (0x00)") from None

    def run(self, work: Callable[[psycopg.Connection[Any]], T]) -> T:
        """``work`` in a transaction, retried from the start when PostgreSQL went away
        before the commit, or the transaction lost a serialisation conflict or a
        deadlock. A connection lost *during* the commit is not retried: the write may
        have been applied (IndexUnavailableError; a client that named its batch sends it
        again safely)."""
        import psycopg
        from psycopg import errors

        delay = 0.05
        for attempt in range(RETRIES + 1):
            stage = "work"
            try:
                with self.transaction() as connection:
                    result = work(connection)
                    stage = "commit"
                return result
            except IndexUnavailableError as exc:
                lost = isinstance(exc.__cause__, psycopg.OperationalError)
                if not lost or stage == "commit" or attempt == RETRIES:
                    raise
                self._drop_broken()
            except (errors.SerializationFailure, errors.DeadlockDetected):
                if attempt == RETRIES:
                    raise
            time.sleep(delay)
            delay = min(delay * 2, 1.0)
        raise AssertionError("unreachable")

    def _drop_broken(self) -> None:
        """After a lost connection (PostgreSQL restarted), test the idle ones and drop
        those that broke too, so that the retry gets a live one. Checking only then, not
        on every checkout, saves a round trip per request."""
        import psycopg_pool

        with contextlib.suppress(psycopg_pool.PoolClosed):
            self._pool.check()

    def query(self, sql: str, args: Any = ()) -> list[tuple[Any, ...]]:
        """One read-only statement's rows."""
        return self.run(lambda c: c.execute(sql, args).fetchall())

    def ping(self) -> None:
        """That PostgreSQL answers now (``/ready``): IndexUnavailableError if not."""
        self.query("SELECT 1")


def _configure(connection: psycopg.Connection[Any]) -> None:
    connection.execute(f"SET search_path TO {SCHEMA_NAME}, public")
    connection.commit()


def _first_line(exc: Exception) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]
