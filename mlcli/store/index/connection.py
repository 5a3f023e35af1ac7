"""Opening the index file: a sound database of the current schema, reset when it is
damaged or belongs elsewhere, or a per-user copy when the store is read-only to us."""

from __future__ import annotations

import contextlib
import hashlib
import os
import sqlite3
from pathlib import Path

from mlcli.errors import StoreError
from mlcli.files.sharing import share_like_folder
from mlcli.store.index.schema import is_current, reset
from mlcli.store.layout import StoreLayout


def open_connection(layout: StoreLayout) -> tuple[sqlite3.Connection, Path]:
    """A connection to the store's index and its path: the per-user fallback when the
    store is read-only to us."""
    path = layout.index_path
    try:
        return _connect_checked(path, layout.root), path
    except PermissionError:
        fallback = _fallback_index_path(layout.root)
        return _connect_checked(fallback, layout.root), fallback


def file_identity(path: Path) -> tuple[int, int] | None:
    """Which file ``path`` names now (None when none): changes when it is replaced."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return st.st_dev, st.st_ino


# SQLite's result codes for a file that is not a sound database (a damaged page, a
# file of another kind, one cut short); anything else (a busy lock, a full disk) is
# not a reason to throw the index away.
_DAMAGE_CODES = {11, 26, 522}  # SQLITE_CORRUPT, SQLITE_NOTADB, SQLITE_IOERR_SHORT_READ
_DAMAGE_WORDS = ("malformed", "not a database", "no such table", "no such column")


def is_damage(exc: sqlite3.DatabaseError) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)  # Python 3.11+
    if code is not None and (code in _DAMAGE_CODES or code & 0xFF in _DAMAGE_CODES):
        return True
    return any(word in str(exc).lower() for word in _DAMAGE_WORDS)


def delete_index_files(path: Path) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(f"{path}{suffix}")


def _connect_checked(path: Path, root: Path) -> sqlite3.Connection:
    """A connection to a usable index at ``path``: created, or reset when it is
    corrupt, of another schema version, or the index of another store."""
    path.parent.mkdir(parents=True, exist_ok=True)
    for attempt in range(2):
        try:
            db = _connect(path)
            share_like_folder(path)  # a store shared with a group shares its index too
            if is_current(db, root):
                return db
            reset(db, root)
            return db
        except sqlite3.DatabaseError as exc:
            if _is_permission_problem(exc):
                raise PermissionError(str(exc)) from exc
            if attempt:
                raise StoreError(f"cannot open the index at {path}: {exc}") from exc
            delete_index_files(path)
    raise AssertionError("unreachable")


def _connect(path: Path) -> sqlite3.Connection:
    db = sqlite3.connect(path, timeout=60, isolation_level=None, check_same_thread=False)
    db.execute("PRAGMA busy_timeout = 60000")
    db.execute("PRAGMA journal_mode = WAL")
    db.execute("PRAGMA synchronous = NORMAL")
    # 64 MiB of page cache: building the index of 10k runs thrashes the default 2 MiB.
    db.execute("PRAGMA cache_size = -65536")
    return db


def _is_permission_problem(exc: sqlite3.DatabaseError) -> bool:
    text = str(exc).lower()
    return "readonly" in text or "read-only" in text or "unable to open" in text


def _fallback_index_path(root: Path) -> Path:
    """Where the index goes when the store is read-only to us: a per-user cache."""
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    digest = hashlib.sha1(str(root).encode()).hexdigest()[:16]
    return cache / "mlcli" / "indexes" / f"{digest}.db"
