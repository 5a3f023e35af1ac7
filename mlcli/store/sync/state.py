"""What a local store knows of one remote: the last agreed version of each run,
experiment and model (the base of a three-way merge), which bytes of each log are on
the remote, which artifacts, and the journal cursor. Kept in SQLite under
``.mlruns/remotes/<id>/state.db``, keyed by the remote's URL (so renaming a remote
keeps it), written only after the remote accepted what it records, so a push or pull
killed at any point redoes the unrecorded part next time (every upload is idempotent).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import sqlite3
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlcli.errors import StoreError
from mlcli.files.fileio import write_bytes_atomic

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS entries (
    kind TEXT NOT NULL, name TEXT NOT NULL, state TEXT NOT NULL, PRIMARY KEY (kind, name)
);
"""
WRITER_FILE = "store-id"


def writer_id(root: Path) -> str:
    """This store's name in segment and journal keys: random, kept in
    ``.mlruns/store-id`` with the folder it was made for. A copy of the folder (``cp
    -r``) gets a new one, so two stores never write under one name; segments a store
    pushed under an earlier name are still known to it by their offsets (the state)."""
    path = root / WRITER_FILE
    here = str(root.resolve())
    with contextlib.suppress(FileNotFoundError, ValueError):
        writer, made_for = path.read_text().split("\n")[:2]
        if writer.isalnum() and made_for == here:
            return writer
    writer = uuid.uuid4().hex[:12]
    write_bytes_atomic(path, f"{writer}\n{here}\n".encode())
    return writer


@dataclass
class LogState:
    """One log of a run: the byte ranges of the local file that are on the remote
    (ours pushed, or theirs pulled in), and how far each other writer's segments
    were applied."""

    on_remote: list[list[int]] = field(default_factory=list)
    applied: dict[str, int] = field(default_factory=dict)

    def add(self, start: int, end: int) -> None:
        ranges = sorted([*self.on_remote, [start, end]])
        merged: list[list[int]] = []
        for a, b in ranges:
            if merged and a <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], b)
            else:
                merged.append([a, b])
        self.on_remote = merged

    def gaps(self, size: int) -> list[tuple[int, int]]:
        """The ranges of the first ``size`` bytes not yet on the remote."""
        found, position = [], 0
        for a, b in self.on_remote:
            if a > position:
                found.append((position, min(a, size)))
            position = max(position, b)
        if position < size:
            found.append((position, size))
        return [(a, b) for a, b in found if a < b]


@dataclass
class RunState:
    etag: str | None = None
    base: dict[str, Any] | None = None  # the run document both sides last agreed on
    logs: dict[str, LogState] = field(default_factory=dict)
    artifacts: dict[str, list[int]] = field(default_factory=dict)  # path -> [size, mtime_ns]
    logged_models: dict[str, list[int]] = field(default_factory=dict)
    conflicts_seen: int = 0  # the conflicts of the manifest reported here (see runs.py)

    def log(self, name: str) -> LogState:
        return self.logs.setdefault(name, LogState())

    def to_json(self) -> str:
        return json.dumps(
            {
                "etag": self.etag,
                "base": self.base,
                "logs": {k: vars(v) for k, v in self.logs.items()},
                "artifacts": self.artifacts,
                "logged_models": self.logged_models,
                "conflicts_seen": self.conflicts_seen,
            }
        )

    @classmethod
    def from_json(cls, text: str) -> RunState:
        raw = json.loads(text)
        return cls(
            etag=raw.get("etag"),
            base=raw.get("base"),
            logs={k: LogState(**v) for k, v in (raw.get("logs") or {}).items()},
            artifacts=raw.get("artifacts") or {},
            logged_models=raw.get("logged_models") or {},
            conflicts_seen=int(raw.get("conflicts_seen") or 0),
        )


class SyncState:
    """The state of one (local store, remote URL) pair; safe to use from threads."""

    def __init__(self, root: Path, url: str) -> None:
        key = hashlib.sha256(url.encode()).hexdigest()[:16]
        directory = root / "remotes" / key
        directory.mkdir(parents=True, exist_ok=True)
        self.path = directory / "state.db"
        self._lock = threading.Lock()
        try:
            self._db = sqlite3.connect(self.path, check_same_thread=False, timeout=30)
            self._db.executescript(_SCHEMA)
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{self.path} is damaged ({exc}); delete it to sync again") from exc
        self.set_meta("url", url)

    def close(self) -> None:
        self._db.close()

    # -- meta --------------------------------------------------------------------------

    def meta(self, key: str) -> str | None:
        with self._lock:
            row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        with self._lock, self._db:
            self._db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))

    # -- entries -----------------------------------------------------------------------

    def run(self, run_id: str) -> RunState:
        text = self._entry("run", run_id)
        return RunState() if text is None else RunState.from_json(text)

    def save_run(self, run_id: str, state: RunState) -> None:
        self._save("run", run_id, state.to_json())

    def known_runs(self) -> dict[str, RunState]:
        return {name: RunState.from_json(text) for name, text in self._entries("run")}

    def document(self, kind: str, name: str) -> dict[str, Any] | None:
        """The state of an experiment or a model (a JSON object), or None."""
        text = self._entry(kind, name)
        return None if text is None else dict(json.loads(text))

    def save_document(self, kind: str, name: str, state: dict[str, Any]) -> None:
        self._save(kind, name, json.dumps(state))

    def _entry(self, kind: str, name: str) -> str | None:
        with self._lock:
            row = self._db.execute(
                "SELECT state FROM entries WHERE kind = ? AND name = ?", (kind, name)
            ).fetchone()
        return None if row is None else str(row[0])

    def _entries(self, kind: str) -> Iterator[tuple[str, str]]:
        with self._lock:
            rows = self._db.execute(
                "SELECT name, state FROM entries WHERE kind = ?", (kind,)
            ).fetchall()
        return iter(rows)

    def _save(self, kind: str, name: str, text: str) -> None:
        with self._lock, self._db:
            self._db.execute("INSERT OR REPLACE INTO entries VALUES (?, ?, ?)", (kind, name, text))
