"""``GET /ready``: whether this server can serve the store now.

Cheap checks, in order, each a fresh look (a probe every few seconds must not
refresh the index, and must see a store that went away after start-up):

    store   the store's root can be listed and holds a readable mlcli store (VERSION)
    index   the index opens and answers a query
    auth    with --auth-db: the auth database answers (a PostgreSQL that is down
            is a server that cannot sign anyone in)

The answer names each check's state. It goes to callers without a token (a load
balancer's probe), so it says what failed in words, never the store's path; the
server's log gets the full reason when readiness changes.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING

from mlcli.errors import MlcliError
from mlcli.store import Store
from mlcli.web.log import ServerLog

if TYPE_CHECKING:
    from mlcli.store import TeamStore
    from mlcli.tracking_server.auth.database import AuthDatabase
    from mlcli.tracking_server.backend import Backend

OK = "ok"
NOT_CHECKED = "not checked"


@dataclass(frozen=True)
class Readiness:
    checks: dict[str, str]  # check -> "ok", or what is wrong
    detail: str  # the full reason of the first failure (for the server's log), or ""

    @property
    def ready(self) -> bool:
        return all(state == OK for state in self.checks.values())

    def document(self) -> dict[str, object]:
        return {"status": "ready" if self.ready else "not ready", "checks": self.checks}


def check(backend: Backend, auth: AuthDatabase | None = None) -> Readiness:
    if backend.team is not None:
        return _check_team(backend.team, auth)
    assert backend.store_root is not None
    store_root = backend.store_root
    checks = {"store": NOT_CHECKED, "index": NOT_CHECKED}
    if auth is not None:
        checks["auth"] = NOT_CHECKED
    try:
        os.listdir(store_root)
        store = Store.open(store_root)
    except (OSError, MlcliError) as exc:
        checks["store"] = _unreadable_store(exc)
        return Readiness(checks, str(exc))
    checks["store"] = OK
    try:
        store.index.query("SELECT 1")
    except Exception as exc:  # whatever SQLite or the file system says: not ready
        checks["index"] = f"the index cannot be opened ({type(exc).__name__})"
        return Readiness(checks, f"{type(exc).__name__}: {exc}")
    finally:
        store.close()
    checks["index"] = OK
    return _check_auth(checks, auth)


def _check_team(team: TeamStore, auth: AuthDatabase | None) -> Readiness:
    """A team store is ready when its bucket and its PostgreSQL both answer now."""
    checks = {"store": NOT_CHECKED, "index": NOT_CHECKED}
    if auth is not None:
        checks["auth"] = NOT_CHECKED
    try:
        next(iter(team.objects.list("experiments/")), None)
    except Exception as exc:  # whatever the bucket says: not ready
        checks["store"] = "the bucket cannot be read"
        return Readiness(checks, f"{type(exc).__name__}: {exc}")
    checks["store"] = OK
    try:
        team.database.ping()
    except Exception as exc:  # whatever PostgreSQL says: not ready
        checks["index"] = "the index (PostgreSQL) cannot be reached"
        return Readiness(checks, f"{type(exc).__name__}: {exc}")
    checks["index"] = OK
    return _check_auth(checks, auth)


def _check_auth(checks: dict[str, str], auth: AuthDatabase | None) -> Readiness:
    if auth is not None:
        try:
            auth.ping()
        except Exception as exc:  # whatever the database says: not ready
            checks["auth"] = "the auth database cannot be reached"
            return Readiness(checks, f"{type(exc).__name__}: {exc}")
        checks["auth"] = OK
    return Readiness(checks, "")


def _unreadable_store(exc: Exception) -> str:
    if isinstance(exc, OSError):
        return f"the store's root cannot be read ({exc.strerror or type(exc).__name__})"
    return "the store's root holds no readable mlcli store"


class ReadinessLog:
    """Writes a line to the server's log when readiness changes (not on every probe)."""

    def __init__(self, log: ServerLog) -> None:
        self.log = log
        self._was_ready = True
        self._lock = threading.Lock()

    def note(self, readiness: Readiness) -> None:
        with self._lock:
            changed, self._was_ready = readiness.ready != self._was_ready, readiness.ready
        if changed and readiness.ready:
            self.log.info("ready again")
        elif changed:
            self.log.info(f"not ready: {readiness.detail}")
