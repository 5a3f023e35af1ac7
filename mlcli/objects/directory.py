"""Object storage over a directory: a remote named by a path or ``file://`` URL, on a
local disk or a shared filesystem (NFS, Lustre).

Each object is a plain file at ``root/<key>``. The conditional writes map onto the
filesystem's atomic operations:

- create: a temporary file hard-linked to the final name (``link`` fails when the name
  is taken, and readers never see a half-written file);
- replace: the ETag checked and a temporary file renamed over the object, both under a
  lock file, one per key, in ``root/.mlcli-locks``. ``delete`` takes the same lock, so
  that a replace never brings back an object deleted after its check. ``put`` takes
  none: an unconditional write wins over whatever else happens to the key, as on S3.

An ETag is the SHA-256 of the content, quoted like S3's, computed whenever an object
is read or listed (a listing reads every file it lists). Temporary files (hidden names,
``fileio.temp_name``) and the lock folder are never listed. No object is reached
through a symbolic link, and listings skip links: a store holds plain files.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

from mlcli.errors import InvalidInputError, NotFoundError, StoreError
from mlcli.files.fileio import create_temp_file, is_temp_name
from mlcli.files.lock import FileLock
from mlcli.objects.base import ObjectInfo
from mlcli.objects.keys import check_key, check_prefix

LOCKS = ".mlcli-locks"
_HASH_CHUNK = 1 << 20


def content_etag(data: bytes) -> str:
    """The ETag of an object holding ``data``: its SHA-256, quoted."""
    return f'"{hashlib.sha256(data).hexdigest()}"'


class DirectoryObjects:
    def __init__(self, root: Path, url: str | None = None) -> None:
        self.root = root
        self._url = url if url is not None else str(root)

    @property
    def url(self) -> str:
        return self._url

    def get(self, key: str) -> tuple[bytes, str]:
        found = self.get_if_present(key)
        if found is None:
            raise NotFoundError(f"{self.url}: no object {key!r}")
        return found

    def get_if_present(self, key: str) -> tuple[bytes, str] | None:
        path = self._path(key)
        try:
            data = path.read_bytes()
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            return None
        return data, content_etag(data)

    def put(self, key: str, data: bytes) -> str:
        self._write(self._path(key), lambda handle: handle.write(data), exclusive=False)
        return content_etag(data)

    def create(self, key: str, data: bytes) -> str | None:
        if not self._write(self._path(key), lambda handle: handle.write(data), exclusive=True):
            return None
        return content_etag(data)

    def replace(self, key: str, data: bytes, etag: str) -> str | None:
        path = self._path(key)
        with self._lock(key):
            current = self.get_if_present(key)
            if current is None or current[1] != etag:
                return None
            self._write(path, lambda handle: handle.write(data), exclusive=False)
        return content_etag(data)

    def delete(self, key: str) -> None:
        path = self._path(key)
        if not path.is_file():
            return  # nothing to delete: no lock file for a key that never existed
        with self._lock(key), contextlib.suppress(FileNotFoundError, NotADirectoryError):
            os.unlink(path)

    def list(self, prefix: str, start_after: str | None = None) -> Iterator[ObjectInfo]:
        check_prefix(prefix)
        folder = prefix.rpartition("/")[0]
        yield from self._walk(self._folder(folder), _as_base(folder), prefix, start_after)

    def list_prefixes(self, prefix: str) -> Iterator[str]:
        check_prefix(prefix)
        folder = prefix.rpartition("/")[0]
        for key, entry, is_folder in _entries(self._folder(folder), _as_base(folder)):
            if is_folder and key.startswith(prefix) and _holds_an_object(entry.path):
                yield key

    def upload_file(self, key: str, source: Path) -> None:
        with open(source, "rb") as handle:
            self._write(
                self._path(key),
                lambda out: shutil.copyfileobj(handle, out, _HASH_CHUNK),
                exclusive=False,
            )

    def download_file(self, key: str, destination: Path, size: int | None = None) -> None:
        try:
            source = open(self._path(key), "rb")  # noqa: SIM115 - closed below
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            raise NotFoundError(f"{self.url}: no object {key!r}") from None
        with source:
            _write_atomic(destination, lambda out: shutil.copyfileobj(source, out, _HASH_CHUNK))

    # --- paths, locks, writes

    def _path(self, key: str) -> Path:
        """Where the object ``key`` lives; StoreError when reaching it would go through
        a symbolic link (inside the store or out of it)."""
        check_key(key)
        parts = key.split("/")
        if parts[0] == LOCKS or any(is_temp_name(part) for part in parts):
            raise InvalidInputError(f"{self.url}: {key!r} is a name the store keeps for itself")
        path = self.root / key
        if os.path.realpath(path) != os.path.join(os.path.realpath(self.root), *parts):
            raise StoreError(
                f"{self.url}: {key!r} goes through a symbolic link; a store holds plain files"
            )
        return path

    def _folder(self, folder_key: str) -> Path:
        return self._path(folder_key) if folder_key else self.root

    def _lock(self, key: str) -> FileLock:
        locks = self.root / LOCKS
        locks.mkdir(parents=True, exist_ok=True)
        return FileLock(locks / f"{hashlib.sha256(key.encode()).hexdigest()}.lock")

    def _write(self, path: Path, fill: Callable[[BinaryIO], object], *, exclusive: bool) -> bool:
        """Write the object at ``path`` through a temporary file: renamed over it, or,
        when ``exclusive``, linked to it only if the name is free (False when taken)."""
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except (FileExistsError, NotADirectoryError):
            raise StoreError(
                f"{self.url}: cannot write {path.relative_to(self.root).as_posix()!r}: "
                "an object stands where its folder would be"
            ) from None
        try:
            return self._write_into(path, fill, exclusive=exclusive)
        except IsADirectoryError:
            raise StoreError(
                f"{self.url}: cannot write {path.relative_to(self.root).as_posix()!r}: "
                "a folder of other objects stands there"
            ) from None

    def _write_into(
        self, path: Path, fill: Callable[[BinaryIO], object], *, exclusive: bool
    ) -> bool:
        if not exclusive:
            _write_atomic(path, fill)
            return True
        fd, tmp = create_temp_file(path)
        try:
            _fill_and_sync(fd, fill)
            try:
                os.link(tmp, path)
            except FileExistsError:
                return False
            except OSError as exc:
                if exc.errno in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP):
                    raise StoreError(
                        f"{self.url}: this filesystem has no hard links, which mlcli needs "
                        f"for exclusive creates ({exc.strerror})"
                    ) from None
                raise
            return True
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)

    def _walk(
        self, folder: Path, base: str, prefix: str, start_after: str | None
    ) -> Iterator[ObjectInfo]:
        for key, entry, is_folder in _entries(folder, base):
            if is_folder:
                if not (key.startswith(prefix) or prefix.startswith(key)):
                    continue
                if start_after is not None and _wholly_before(key, start_after):
                    continue
                yield from self._walk(Path(entry.path), key, prefix, start_after)
            elif key.startswith(prefix) and (start_after is None or key > start_after):
                info = _file_info(key, entry.path)
                if info is not None:
                    yield info


def _entries(folder: Path, base: str) -> list[tuple[str, os.DirEntry[str], bool]]:
    """(key or folder prefix, entry, is a folder) for what ``folder`` holds, in key
    order; hidden: temporary files, the lock folder, links and special files."""
    try:
        with os.scandir(folder) as scan:
            entries = list(scan)
    except (FileNotFoundError, NotADirectoryError):
        return []
    found = []
    for entry in entries:
        if is_temp_name(entry.name) or (not base and entry.name == LOCKS):
            continue
        if entry.is_dir(follow_symlinks=False):
            found.append((f"{base}{entry.name}/", entry, True))
        elif entry.is_file(follow_symlinks=False):
            found.append((f"{base}{entry.name}", entry, False))
    # "a.txt" sorts before "a/b" ("." < "/"): sorting the keys, not the names, keeps
    # the whole listing in key order
    found.sort(key=lambda item: item[0])
    return found


def _wholly_before(folder_key: str, start_after: str) -> bool:
    """Whether every key in the folder ``folder_key`` (``"a/"``) sorts before
    ``start_after``: they all start with ``folder_key``, so they do when it sorts before
    ``start_after`` without being its beginning."""
    return folder_key <= start_after and not start_after.startswith(folder_key)


def _as_base(folder_key: str) -> str:
    return f"{folder_key}/" if folder_key else ""


def _file_info(key: str, path: str) -> ObjectInfo | None:
    digest = hashlib.sha256()
    size = 0
    try:
        with open(path, "rb") as handle:
            while chunk := handle.read(_HASH_CHUNK):
                digest.update(chunk)
                size += len(chunk)
    except FileNotFoundError:
        return None  # deleted since the folder was read
    return ObjectInfo(key=key, size=size, etag=f'"{digest.hexdigest()}"')


def _holds_an_object(folder: str) -> bool:
    """Whether a file that a listing would show lies anywhere under ``folder``."""
    try:
        with os.scandir(folder) as scan:
            entries = list(scan)
    except (FileNotFoundError, NotADirectoryError):
        return False
    for entry in entries:
        if is_temp_name(entry.name):
            continue
        if entry.is_file(follow_symlinks=False):
            return True
    return any(
        _holds_an_object(entry.path)
        for entry in entries
        if not is_temp_name(entry.name) and entry.is_dir(follow_symlinks=False)
    )


def _write_atomic(path: Path, fill: Callable[[BinaryIO], object]) -> None:
    """Fill a temporary file beside ``path`` (mode 0666 less the umask), sync it, and
    rename it over ``path``."""
    fd, tmp = create_temp_file(path)
    try:
        _fill_and_sync(fd, fill)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def _fill_and_sync(fd: int, fill: Callable[[BinaryIO], object]) -> None:
    with os.fdopen(fd, "wb") as handle:
        fill(handle)
        handle.flush()
        os.fsync(handle.fileno())
