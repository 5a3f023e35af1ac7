"""A run's artifacts in a team store's bucket, at the keys of a remote
(``runs/<run_id>/artifacts/<path>``, :func:`mlcli.store.sync.keys.run_artifact_key`).

Paths follow the local store's rules (:func:`normalize_artifact_path`: relative, no
``..``; names of at most 241 bytes), and a write is refused in one line, before the
first upload, where the local store would refuse it: a file where a folder must be, a
folder where the file would go. What lies above the written folder is asked level by
level; what lies beneath it is read from one listing. Listings come from the bucket
(names that are not plain artifact paths, such as a key holding ``..`` written by
another tool, are left out with a SkippedFileWarning). Several files move in parallel.

Reading a file or folder in place (``resolve``) goes through a private local cache
(:mod:`mlcli.store.team.artifact_cache`), checked against the bucket's listing on every
call; writing in place is ``resolve(path, must_exist=False)``, then ``publish(path)``.
"""

from __future__ import annotations

import builtins
import functools
import os
import posixpath
import warnings
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path
from typing import TypeVar

from mlcli.errors import InvalidInputError, NotFoundError
from mlcli.files.trees import SkippedFileWarning, walk_tree
from mlcli.objects.base import ObjectInfo, ObjectStore
from mlcli.store.artifacts import (
    check_artifact_names,
    join_artifact_path,
    normalize_artifact_path,
    shown_path,
)
from mlcli.store.entities import FileInfo
from mlcli.store.sync import keys
from mlcli.store.team.artifact_cache import ArtifactCache
from mlcli.store.validation import validate_run_id

CopyProgress = Callable[[int, int], None]
MAX_KEY_BYTES = 1024
"""The longest object key S3 accepts, in UTF-8 bytes (the store's prefix included)."""
WORKERS = 8
T = TypeVar("T")


class TeamArtifacts:
    """The artifacts of run ``run_id`` in ``objects``; local copies under
    ``cache_root/<run_id>/``. ``on_write`` is called after each write that changed the
    bucket (the store marks the run, so that its manifest comes to name the files)."""

    def __init__(
        self,
        objects: ObjectStore,
        run_id: str,
        cache_root: Path,
        on_write: Callable[[], None] | None = None,
    ) -> None:
        self.objects = objects
        self._on_write = on_write
        self.run_id = validate_run_id(run_id)  # it names a folder of the cache
        self.bucket = ArtifactObjects(objects, run_id)
        self._cache = ArtifactCache(Path(cache_root), run_id)
        self._key_room = MAX_KEY_BYTES - _store_prefix_bytes(objects.url)

    @property
    def root(self) -> Path:
        """The local cache of the run's artifacts (what ``resolve`` fetched or a caller
        wrote there; the bucket holds the artifacts)."""
        return self._cache.root

    # -- writing -------------------------------------------------------------------------------

    def log_file(self, local_path: str | os.PathLike[str], artifact_path: str | None = None) -> str:
        """Upload one file to ``<artifact_path>/<its name>``; returns its artifact path."""
        source = Path(local_path)
        if not source.is_file():
            raise NotFoundError(f"no such file: {source}")
        relative = join_artifact_path(artifact_path, source.name)
        self._refuse_misplaced([relative], None)
        self._upload([(source, relative)])
        self._written()
        return relative

    def log_dir(
        self,
        local_dir: str | os.PathLike[str],
        artifact_path: str | None = None,
        progress: CopyProgress | None = None,
    ) -> list[str]:
        """Upload a directory's contents under ``artifact_path``; returns the files' paths.
        Links are followed only inside ``local_dir`` (the others are skipped with a
        SkippedFileWarning); every destination is checked before the first upload."""
        source = Path(local_dir)
        if not source.is_dir():
            raise NotFoundError(f"no such directory: {source}")
        folder = normalize_artifact_path(artifact_path) if artifact_path else ""
        tree = walk_tree(source)
        planned = [
            (item.path, join_artifact_path(artifact_path, item.relative))
            for item in sorted(tree.files, key=lambda f: f.relative)
        ]
        self._refuse_misplaced([relative for _, relative in planned], folder)
        tree.warn()
        self._upload(planned, progress)
        if planned:
            self._written()
        return [relative for _, relative in planned]

    def write_bytes(self, artifact_file: str, data: bytes) -> str:
        relative = join_artifact_path(None, artifact_file)
        self._refuse_misplaced([relative], None)
        self.objects.put(self.bucket.key(relative), data)
        self._written()
        return relative

    def writable(self, relative: str) -> Path:
        """The cache path to write the artifact ``relative`` to before :meth:`publish`,
        once neither the bucket nor the cache has something in the way (a folder there
        in the cache may be what a caller wrote and has not published yet: refused, not
        replaced); InvalidInputError otherwise."""
        relative = normalize_artifact_path(relative)
        if not relative:
            raise InvalidInputError("invalid artifact path ''")
        self._refuse_misplaced([relative], None)
        if self._cache.repository.resolve(relative, must_exist=False).is_dir():
            raise InvalidInputError(f"cannot write artifact {shown_path(relative)}: it is a folder")
        return self._cache.place(relative)

    def publish(self, relative: str) -> None:
        """Upload what the caller wrote at ``resolve(relative, must_exist=False)`` (a file
        or a folder); the cached copy then is the artifact."""
        relative = normalize_artifact_path(relative)
        local = self._cache.repository.resolve(relative, must_exist=False)
        folder: str | None = None
        if local.is_file():
            planned = [(local, relative)]
        elif local.is_dir():
            folder, tree = relative, walk_tree(local)
            planned = [
                (item.path, join_artifact_path(relative or None, item.relative))
                for item in sorted(tree.files, key=lambda f: f.relative)
            ]
            tree.warn()
        else:
            raise NotFoundError(f"nothing was written at artifact {shown_path(relative)}")
        self._refuse_misplaced([target for _, target in planned], folder)
        self._upload(planned)
        if planned:
            self._written()
        listed: dict[str, ObjectInfo | None] = (
            dict(self.bucket.under(folder))
            if folder is not None
            else {relative: self.bucket.file(relative)}
        )
        for _, target in planned:
            found = listed.get(target)
            if found is not None:
                self._cache.remember(target, found)

    def check_upload(self, relative: str) -> str:
        """The key (in ``objects``) that a file streamed straight to the bucket may take
        at ``relative`` (the server's artifact proxy), once nothing is in the way;
        InvalidInputError otherwise. Call :meth:`uploaded` once the file is there."""
        relative = normalize_artifact_path(relative)
        if not relative:
            raise InvalidInputError("invalid artifact path ''")
        self._refuse_misplaced([relative], None)
        return self.bucket.key(relative)

    def uploaded(self) -> None:
        """A file streamed straight to the bucket is there (see :meth:`check_upload`)."""
        self._written()

    # -- reading -------------------------------------------------------------------------------

    def list(self, path: str | None = None) -> list[FileInfo]:
        """The entries directly inside ``path`` (the root when None), directories first;
        a file lists as itself. NotFoundError when ``path`` names nothing."""
        relative = normalize_artifact_path(path) if path else ""
        if relative:
            found = self.bucket.file(relative)
            if found is not None:
                return [FileInfo(relative, False, found.size)]
        inside = self.bucket.under(relative)
        if relative and not inside:
            raise NotFoundError(f"no artifact {shown_path(relative)}")
        entries: dict[str, FileInfo] = {}
        for child, found in inside:
            name, below, _ = child[len(relative) + 1 if relative else 0 :].partition("/")
            entry = posixpath.join(relative, name) if relative else name
            if below:
                entries[entry] = FileInfo(entry, True, None)
            else:
                entries.setdefault(entry, FileInfo(entry, False, found.size))
        return sorted(entries.values(), key=lambda f: (not f.is_dir, f.path))

    def list_all(self) -> builtins.list[FileInfo]:  # `list` is a method here
        """Every file, recursively, sorted by path."""
        return [FileInfo(relative, False, found.size) for relative, found in self.bucket.under("")]

    def resolve(self, relative: str, must_exist: bool = True) -> Path:
        """The cached copy of an artifact file or folder, (re-)downloaded where the bucket
        holds another object than the copy (NotFoundError when it has none); with
        ``must_exist=False``, the cache path where a new artifact may be written (then
        :meth:`publish` it), downloading nothing."""
        relative = normalize_artifact_path(relative)
        target = self._cache.repository.resolve(relative, must_exist=False)
        if not must_exist:
            return target
        found = self.bucket.file(relative) if relative else None
        if found is not None:
            if not self._cache.is_fresh(relative, found):
                self._cache.fetch(self.objects, self.bucket.key(relative), relative, found)
            return target
        inside = self.bucket.under(relative)
        if relative and not inside:
            raise NotFoundError(f"no artifact {shown_path(relative)}")
        stale = [(child, f) for child, f in inside if not self._cache.is_fresh(child, f)]
        _in_parallel(
            lambda item: self._cache.fetch(self.objects, self.bucket.key(item[0]), *item), stale
        )
        return target

    def download(self, path: str, destination: str | os.PathLike[str]) -> Path:
        """Download an artifact file or folder into ``destination``; returns its path."""
        relative = normalize_artifact_path(path)
        target = Path(destination) / (posixpath.basename(relative) or "artifacts")
        found = self.bucket.file(relative) if relative else None
        if found is not None:
            target.parent.mkdir(parents=True, exist_ok=True)
            self.objects.download_file(self.bucket.key(relative), target, found.size)
            return target
        inside = self.bucket.under(relative)
        if relative and not inside:
            raise NotFoundError(f"no artifact {shown_path(relative)}")
        target.mkdir(parents=True, exist_ok=True)
        skip = len(relative) + 1 if relative else 0

        def fetch(item: tuple[str, ObjectInfo]) -> None:
            local = target / item[0][skip:]
            local.parent.mkdir(parents=True, exist_ok=True)
            self.objects.download_file(self.bucket.key(item[0]), local, item[1].size)

        _in_parallel(fetch, inside)
        return target

    # -- internals -----------------------------------------------------------------------------

    def _written(self) -> None:
        if self._on_write is not None:
            self._on_write()

    def _refuse_misplaced(self, relatives: Sequence[str], folder: str | None) -> None:
        """What :meth:`ArtifactRepository.writable` refuses, for each of ``relatives``,
        against the bucket: a name too long, a key too long, a file where a folder must
        be, a folder where a file would go. With ``folder`` (the folder they all lie
        in), what lies beneath it is read from one listing."""
        file_above = functools.cache(lambda where: self.bucket.file(where) is not None)
        is_file: Callable[[str], bool] = file_above
        is_folder: Callable[[str], bool] = self.bucket.is_folder
        if folder is not None:
            files = {relative for relative, _ in self.bucket.under(folder)}
            folders = {p for f in files for p in _parents(f)}
            inside = folder + "/" if folder else ""

            def is_file(where: str) -> bool:
                return where in files if where.startswith(inside) else file_above(where)

            is_folder = folders.__contains__
        for relative in relatives:
            check_artifact_names(relative)
            if len(self.bucket.key(relative).encode("utf-8", "surrogateescape")) > self._key_room:
                raise InvalidInputError(
                    f"cannot write artifact {shown_path(relative)}: the path is too long for "
                    f"an object key (at most {MAX_KEY_BYTES} bytes)"
                )
            for where in _parents(relative):
                if is_file(where):
                    raise InvalidInputError(
                        f"cannot write artifact {shown_path(relative)}: {shown_path(where)} "
                        "is a file"
                    )
            if is_folder(relative):
                raise InvalidInputError(
                    f"cannot write artifact {shown_path(relative)}: it is a folder"
                )

    def _upload(
        self, planned: Sequence[tuple[Path, str]], progress: CopyProgress | None = None
    ) -> None:
        """Upload each (local file, artifact path), several at a time."""
        sizes = [path.stat().st_size for path, _ in planned]
        total, moved = sum(sizes), [0]

        def upload(index: int) -> None:
            path, relative = planned[index]
            self.objects.upload_file(self.bucket.key(relative), path)

        def uploaded(index: int) -> None:
            moved[0] += sizes[index]
            if progress:
                progress(moved[0], total)

        _in_parallel(upload, range(len(planned)), uploaded)


class ArtifactObjects:
    """The objects of run ``run_id``'s artifacts, as files and folders."""

    def __init__(self, objects: ObjectStore, run_id: str) -> None:
        self.objects = objects
        self.run_id = run_id
        self._prefix = keys.run_artifact_key(run_id, "")

    def key(self, relative: str) -> str:
        return keys.run_artifact_key(self.run_id, relative)

    def file(self, relative: str) -> ObjectInfo | None:
        """The object of the artifact file ``relative``, or None (a folder, or nothing).
        Its key, when it exists, sorts first among the keys it begins."""
        key = self.key(relative)
        first = next(iter(self.objects.list(key)), None)
        return first if first is not None and first.key == key else None

    def is_folder(self, relative: str) -> bool:
        return next(iter(self.objects.list(self.key(relative) + "/")), None) is not None

    def in_the_way(self, relative: str) -> bool:
        """Whether something already lies at ``relative``: a file there or above it, or
        a folder there."""
        above = any(self.file(where) is not None for where in _parents(relative))
        return above or self.file(relative) is not None or self.is_folder(relative)

    def under(self, folder: str) -> builtins.list[tuple[str, ObjectInfo]]:
        """(artifact path, object) of every file beneath ``folder``, sorted by path."""
        prefix = self.key(folder) + "/" if folder else self._prefix
        found = []
        for info in self.objects.list(prefix):
            relative = info.key[len(self._prefix) :]
            if relative.endswith("/"):
                continue  # a folder marker some tools write
            if _plain(relative):
                found.append((relative, info))
            else:
                warnings.warn(
                    f"skipped {relative!r}: not an artifact path (another tool wrote it)",
                    SkippedFileWarning,
                    3,
                )
        return sorted(found, key=lambda item: item[0])


def _parents(relative: str) -> builtins.list[str]:
    """``a``, ``a/b`` for ``a/b/c``: the folders an artifact path lies in."""
    parts = relative.split("/")
    return ["/".join(parts[:depth]) for depth in range(1, len(parts))]


def _plain(relative: str) -> bool:
    try:
        return normalize_artifact_path(relative) == relative != ""
    except InvalidInputError:
        return False


def _store_prefix_bytes(url: str) -> int:
    """What the store's own prefix adds to each key of an ``s3://bucket/prefix``."""
    if not url.startswith("s3://"):
        return 0
    prefix = url.removeprefix("s3://").partition("/")[2].strip("/")
    return len(prefix.encode()) + 1 if prefix else 0


def _in_parallel(
    work: Callable[[T], object], items: Sequence[T], done: Callable[[T], None] | None = None
) -> None:
    """``work`` on each item, several at a time; ``done(item)`` in this thread as each
    one ends. The first failure cancels what has not started, and is raised."""
    if len(items) <= 1:
        for item in items:
            work(item)
            if done:
                done(item)
        return
    with ThreadPoolExecutor(max_workers=min(WORKERS, len(items))) as pool:
        futures = {pool.submit(work, item): item for item in items}
        try:
            for future in as_completed(futures):
                future.result()
                if done:
                    done(futures[future])
        finally:
            for future in futures:
                future.cancel()
