"""A store on a remote (``--store s3://bucket/prefix``, ``MLCLI_STORE``, a remote's
name, or a folder in the remote layout): a local file store kept as a mirror of it.

Every command and the Python API work on the mirror as on any ``.mlruns``: reads come
from the local files and the local SQLite index (so queries cost what they cost on a
local store), writes go to the local files. The mirror is brought up to date when the
store is opened and, in a long-running process (``mlcli ui``, ``mlcli server``),
before a query when the last pull is more than ``PULL_EVERY_SECONDS`` old (pushing
first what it wrote meanwhile); what was written is pushed when the store is closed
and when the process exits. Both are the
incremental ``pull`` and ``push`` of ``mlcli.store.sync``: a pull reads the remote's
journal from its cursor, a push sends only what changed.

The mirror lives under ``$XDG_CACHE_HOME/mlcli/stores/<hash of the URL>/.mlruns``
(``~/.cache`` by default), one per user and host, as the index does (DESIGN.md 8.1).
"""

from __future__ import annotations

import atexit
import hashlib
import logging
import os
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlcli.errors import MlcliError
from mlcli.store.store import Store

if TYPE_CHECKING:
    from mlcli.objects.base import ObjectStore
    from mlcli.store.sync import Report

PULL_EVERY_SECONDS = 5.0
_RUN_FILES = ("run.json", "params.jsonl", "tags.jsonl", "metrics.jsonl", "batches.jsonl")
_log = logging.getLogger("mlcli")


def cache_root(url: str) -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    digest = hashlib.sha256(url.encode()).hexdigest()[:16]
    return Path(base).expanduser() / "mlcli" / "stores" / digest / ".mlruns"


class MirrorStore(Store):
    """A local file store that mirrors the remote at ``url`` (see the module doc)."""

    def __init__(self, root: Path, url: str, objects: ObjectStore) -> None:
        super().__init__(root)
        self.url = url
        self.objects = objects
        self._pulled_at = 0.0
        self._sync_lock = threading.Lock()
        self._syncing = False
        self._closed = False
        self._opened_as: tuple[object, ...] | None = None

    @classmethod
    def open_url(cls, url: str) -> MirrorStore:
        """The mirror of ``url``: one per process, brought up to date when first opened."""
        from mlcli.objects import open_objects

        objects = open_objects(url)
        with _OPEN_LOCK:
            mirror = _OPEN.get(objects.url)
            if mirror is None or mirror._closed:
                root = cache_root(objects.url)
                Store.initialize(root)
                (root.parent / "url").write_text(objects.url + "\n")
                mirror = cls(root, objects.url, objects)
                mirror.pull()
                mirror._opened_as = mirror._fingerprint()
                _OPEN[objects.url] = mirror
                if len(_OPEN) == 1:
                    atexit.register(_push_all_at_exit)
        return mirror

    @property
    def location(self) -> str:
        return self.url

    @property
    def index(self) -> Any:
        stale = time.monotonic() - self._pulled_at > PULL_EVERY_SECONDS
        if stale and not (self._closed or self._syncing):
            self._catch_up()
        return super().index

    def _catch_up(self) -> None:
        """What a long-running process (``mlcli ui``) does every few seconds: send what
        it wrote since the last time, and bring what others wrote."""
        if self._changed():
            self.push()
        self.pull()
        self._opened_as = self._fingerprint()

    def pull(self) -> Report:
        from mlcli.store.sync import pull

        return self._sync(pull)

    def push(self, workers: int = 16) -> Report:
        from mlcli.store.sync import push

        return self._sync(push, workers)

    def _sync(self, transfer: Any, workers: int = 16) -> Report:
        with self._sync_lock:
            self._syncing = True
            try:
                report: Report = transfer(self, self.objects, workers=workers)
            finally:
                self._syncing = False
            if report.direction == "pull":
                self._pulled_at = time.monotonic()
        _log_report(report)
        return report

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            if self._changed():
                self.push()
        super().close()

    def _changed(self) -> bool:
        """Whether anything was written here since the store was opened (a read-only
        command then pushes nothing, not even a look at what changed)."""
        return self._opened_as is None or self._fingerprint() != self._opened_as

    def _fingerprint(self) -> tuple[object, ...]:
        """What any write to the store changes: the change journal (writes to finished
        runs), the folders new runs, experiments and models appear in, the documents of
        experiments and models, and the files of live runs."""
        layout = self.layout
        paths = [layout.changes_log, layout.runs_dir, layout.experiments_dir, layout.models_dir]
        paths += sorted(layout.experiments_dir.glob("*/experiment.json"))
        for model in sorted(layout.models_dir.glob("*/")):
            paths += [model / "model.json", model / "aliases.json", model / "events.jsonl"]
            paths += [model / "versions", *sorted(model.glob("versions/*/version.json"))]
        live = super().index.query(  # not self.index, which may sync first
            "SELECT run_id FROM runs WHERE status IN ('RUNNING', 'SCHEDULED') ORDER BY run_id"
        )
        for (run_id,) in live:
            run_dir = layout.run_dir(run_id)
            paths += [run_dir / name for name in _RUN_FILES]
        return tuple(_stat(path) for path in paths)

    def _push_at_exit(self) -> None:
        """The last push, at interpreter exit: after ``concurrent.futures`` has shut
        down, so one object at a time."""
        if self._closed or not self._changed():
            return
        try:
            self._closed = True
            self.push(workers=1)
        except MlcliError as exc:
            _log.warning("mlcli: could not push to %s at exit: %s", self.url, exc)


_OPEN: dict[str, MirrorStore] = {}
_OPEN_LOCK = threading.Lock()


def close_mirrors() -> None:
    """Push and close every mirror this process opened (the CLI calls it when a
    command ends, so the push runs in parallel, not at interpreter exit)."""
    with _OPEN_LOCK:
        mirrors = list(_OPEN.values())
        _OPEN.clear()
    for mirror in mirrors:
        mirror.close()


def _push_all_at_exit() -> None:
    with _OPEN_LOCK:
        mirrors = list(_OPEN.values())
    for mirror in mirrors:
        mirror._push_at_exit()


def _stat(path: Path) -> tuple[int, int] | None:
    try:
        info = path.stat()
    except OSError:
        return None
    return (info.st_size, info.st_mtime_ns)


def remote_url(named: str, cwd: Path | None = None) -> str | None:
    """The remote a ``--store``/``MLCLI_STORE`` value names, or None for a local store
    (or a team server's ``http(s)://``): an ``s3://`` or ``file://`` URL, a folder in
    the remote layout, or the name of a remote of the store around ``cwd``."""
    from mlcli.errors import InvalidInputError
    from mlcli.store.sync.keys import FORMAT_KEY

    if named.startswith(("s3://", "file://")):
        return named
    if named.startswith(("http://", "https://")):
        return None  # a team server: open_store opens it as a ServerStore
    if "://" in named:
        raise InvalidInputError(
            f"--store {named}: unsupported; use a path, s3://bucket/prefix, file:///path "
            "or a team server's http(s)://host"
        )
    path = Path(named).expanduser()
    if (path / FORMAT_KEY).is_file():
        return str(path.resolve())
    if "/" in named or path.exists():
        return None
    return _remote_named(named, cwd)


def _remote_named(name: str, cwd: Path | None) -> str | None:
    from mlcli.errors import NotFoundError
    from mlcli.store.locate import find_store_root
    from mlcli.store.remotes import Remotes

    root = find_store_root(None, cwd, environ={})
    if root is None or not (root / "config").is_file():
        return None
    try:
        return Remotes(root).get(name).url
    except NotFoundError:
        return None


def _log_report(report: Report) -> None:
    for conflict in report.conflicts:
        _log.warning("mlcli: %s", conflict.describe())
    for notice in report.notices:
        _log.warning("mlcli: %s", notice)
