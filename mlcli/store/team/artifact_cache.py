"""The local copies of one run's artifacts that a team store reads and writes in place
(a model loaded, a model saved before its upload), under ``<cache_root>/<run_id>/``:

    artifacts/            the copies, at their artifact paths
    records/<hash>.json   what each copy is a copy of: the object's ETag and size, and
                          the copy's inode, size and mtime when it was made
    incoming/             downloads in progress, renamed into ``artifacts/`` when whole

A copy is reused only while its record matches both the bucket's listing (another
replica may have replaced the object) and the file on disk (a copy replaced by another
process since). The records and temporary files live outside ``artifacts/``, so the
copies' folder holds nothing but artifacts. Both folders are private to their Unix
user (:func:`mlcli.store.rest.cache.private_cache`): what is cached is loaded as the
store's (models are unpickled).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
from pathlib import Path

from mlcli.files.fileio import temp_name, write_json_atomic
from mlcli.objects.base import ObjectInfo, ObjectStore
from mlcli.store.artifacts import ArtifactRepository
from mlcli.store.rest.cache import private_cache


class ArtifactCache:
    """The private copies of run ``run_id``'s artifacts under ``cache_root``."""

    def __init__(self, cache_root: Path, run_id: str) -> None:
        self._cache_root = Path(cache_root)
        self._base = self._cache_root / run_id
        self._made = False

    @property
    def root(self) -> Path:
        """The copies' folder (made, private, on first use)."""
        if not self._made:
            private_cache(self._cache_root)
            private_cache(self._base)
            for name in ("artifacts", "records", "incoming"):
                (self._base / name).mkdir(exist_ok=True)
            self._made = True
        return self._base / "artifacts"

    @property
    def repository(self) -> ArtifactRepository:
        """The copies as a local repository: its paths refuse what leaves the folder."""
        return ArtifactRepository(self.root)

    def is_fresh(self, relative: str, found: ObjectInfo) -> bool:
        """Whether the copy of ``relative`` is the object the bucket lists as ``found``."""
        record = self._read_record(relative)
        if record is None or [record.get("etag"), record.get("size")] != [found.etag, found.size]:
            return False
        try:
            copy = os.lstat(self.root / relative)
        except OSError:
            return False
        return [copy.st_ino, copy.st_size, copy.st_mtime_ns] == record.get("copy")

    def fetch(self, objects: ObjectStore, key: str, relative: str, found: ObjectInfo) -> Path:
        """Download the object ``key`` (listed as ``found``) as the copy of ``relative``."""
        target = self.place(relative)
        incoming = temp_name(self._base / "incoming" / "object")
        try:
            objects.download_file(key, incoming, found.size)
            made = os.stat(incoming)
            os.replace(incoming, target)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(incoming)
        self._write_record(relative, found, made)
        return target

    def remember(self, relative: str, found: ObjectInfo) -> None:
        """Note that the copy of ``relative`` (just uploaded) is the object ``found``."""
        try:
            copy = os.lstat(self.root / relative)
        except FileNotFoundError:
            return
        if copy.st_size == found.size:
            self._write_record(relative, found, copy)

    def place(self, relative: str) -> Path:
        """The copy's path for ``relative``, with any stale copy in the way removed (a
        cached file where the bucket now has a folder, or the other way round)."""
        target = self.repository.resolve(relative, must_exist=False)
        parts = relative.split("/")
        for depth in range(1, len(parts)):
            folder = self.root.joinpath(*parts[:depth])
            if os.path.lexists(folder) and not os.path.isdir(folder):
                os.unlink(folder)
        if os.path.isdir(target) and not os.path.islink(target):
            shutil.rmtree(target)
        target.parent.mkdir(parents=True, exist_ok=True)
        return target

    # -- records -------------------------------------------------------------------------------

    def _record_path(self, relative: str) -> Path:
        digest = hashlib.sha256(relative.encode("utf-8", "surrogateescape")).hexdigest()
        return self._base / "records" / f"{digest}.json"

    def _read_record(self, relative: str) -> dict[str, object] | None:
        try:
            record = json.loads(self._record_path(relative).read_bytes())
        except (OSError, ValueError):
            return None
        if not isinstance(record, dict) or record.get("path") != relative:
            return None
        return record

    def _write_record(self, relative: str, found: ObjectInfo, copy: os.stat_result) -> None:
        write_json_atomic(
            self._record_path(relative),
            {
                "path": relative,
                "etag": found.etag,
                "size": found.size,
                "copy": [copy.st_ino, copy.st_size, copy.st_mtime_ns],
            },
        )
