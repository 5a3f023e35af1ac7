"""A run's artifacts on a team server, through its artifact proxy
(``/api/2.0/mlflow-artifacts/artifacts/<experiment_id>/<run_id>/artifacts/<path>``).

Paths are checked as the local store checks them (:func:`normalize_artifact_path`:
relative, no ``..``) before anything is sent. Uploads and downloads stream: a file is
never held in memory whole.

Reading a file or folder (``resolve``) copies it into a local cache folder, ``root``,
and returns the cached path, as the local store returns the file in place. Every
cached file is downloaded to a temporary name beside it, flushed to disk and renamed
into place once whole. A file or folder is listed on the server each time it is
resolved, and the files missing from the cache, or of another size than the server's
(one cut short, or replaced on the server by another client), are fetched again.

Writing in place (a model saved straight into the run's folder) goes through the
cache: ``resolve(path, must_exist=False)`` is where the caller writes, and
``publish(path)`` uploads what it wrote.
"""

from __future__ import annotations

import builtins
import contextlib
import os
import posixpath
import shutil
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO
from urllib.parse import quote

from mlcli.errors import InvalidInputError, NotFoundError, StoreError
from mlcli.files.fileio import create_temp_file
from mlcli.files.trees import SkippedFileWarning, is_inside, walk_tree
from mlcli.store.artifacts import (
    MAX_ARTIFACT_NAME_BYTES,
    join_artifact_path,
    normalize_artifact_path,
)
from mlcli.store.entities import FileInfo
from mlcli.store.rest.connection import ARTIFACTS, ServerConnection, ServerUnavailable

if TYPE_CHECKING:
    import urllib3

CopyProgress = Callable[[int, int], None]
CHUNK_BYTES = 1 << 20


@dataclass(frozen=True)
class _Entry:
    """One file of a folder on the server, relative to the folder."""

    relative: str
    size: int | None


class ServerArtifacts:
    """The artifacts of run ``run_id`` (of experiment ``experiment_id``) on the server of
    ``connection``; ``cache_dir`` holds the files read or written locally."""

    def __init__(
        self, connection: ServerConnection, run_id: str, experiment_id: str, cache_dir: Path
    ) -> None:
        self.connection = connection
        self.run_id = run_id
        self.experiment_id = experiment_id
        self._root = Path(cache_dir)

    @property
    def root(self) -> Path:
        return self._root

    # -- writing -----------------------------------------------------------------------------

    def log_file(self, local_path: str | os.PathLike[str], artifact_path: str | None = None) -> str:
        """Upload one file to ``<artifact_path>/<its name>``; returns its artifact path."""
        source = Path(local_path)
        if not source.is_file():
            raise NotFoundError(f"no such file: {source}")
        relative = join_artifact_path(artifact_path, source.name)
        _check_names(relative)
        self._upload(source, relative)
        return relative

    def log_dir(
        self,
        local_dir: str | os.PathLike[str],
        artifact_path: str | None = None,
        progress: CopyProgress | None = None,
    ) -> list[str]:
        """Upload a directory's contents under ``artifact_path``; returns the files' paths.
        Links are followed only inside ``local_dir`` (the others are skipped with a
        SkippedFileWarning); every path is checked before the first file is sent."""
        source = Path(local_dir)
        if not source.is_dir():
            raise NotFoundError(f"no such directory: {source}")
        tree = walk_tree(source)
        files = sorted(tree.files, key=lambda f: f.relative)
        planned = []
        for item in files:
            relative = join_artifact_path(artifact_path, item.relative)
            _check_names(relative)
            planned.append((item, relative))
        tree.warn()
        total = sum(item.size for item in files)
        done, logged = 0, []
        for item, relative in planned:
            self._upload(item.path, relative)
            logged.append(relative)
            done += item.size
            if progress:
                progress(done, total)
        return logged

    def write_bytes(self, artifact_file: str, data: bytes) -> str:
        relative = join_artifact_path(None, artifact_file)
        _check_names(relative)
        self._forget(relative)
        self.connection.request(
            "PUT",
            self._file_url(relative),
            body=data,
            headers={"Content-Type": "application/octet-stream"},
        )
        return relative

    def writable(self, relative: str) -> Path:
        """The cache path to write the artifact ``relative`` to before :meth:`publish`;
        InvalidInputError for a name too long or a folder where the file would go."""
        relative = normalize_artifact_path(relative)
        if not relative:
            raise InvalidInputError("invalid artifact path ''")
        _check_names(relative)
        target = self.resolve(relative, must_exist=False)
        if os.path.isdir(target):
            raise InvalidInputError(f"cannot write artifact {_shown(relative)}: it is a folder")
        return target

    def publish(self, relative: str) -> None:
        """Upload what the caller wrote at ``resolve(relative, must_exist=False)`` (a file
        or a folder) to the server; the cached copy then is the artifact."""
        relative = normalize_artifact_path(relative)
        local = self.resolve(relative, must_exist=False)
        if local.is_file():
            self._upload(local, relative, keep_cached=True)
            return
        if not local.is_dir():
            raise NotFoundError(f"nothing was written at artifact {_shown(relative)}")
        tree = walk_tree(local)
        planned = []
        for item in sorted(tree.files, key=lambda f: f.relative):
            target = join_artifact_path(relative or None, item.relative)
            _check_names(target)
            planned.append((item.path, target))
        tree.warn()
        for path, target in planned:
            self._upload(path, target, keep_cached=True)

    # -- reading -----------------------------------------------------------------------------

    def list(self, path: str | None = None) -> list[FileInfo]:
        """The entries directly inside ``path`` (the root when None), directories first;
        a file lists as itself. NotFoundError when ``path`` names nothing."""
        relative = normalize_artifact_path(path) if path else ""
        found = self._list(relative)
        name = posixpath.basename(relative)
        if relative and (not found or (len(found) == 1 and found[0].path == name)):
            kind = self._kind(relative)  # empty, or a file listed as itself: ask its folder
            if kind is None:
                raise NotFoundError(f"no artifact {_shown(relative)}")
            if not kind.is_dir:
                return [FileInfo(relative, False, kind.file_size)]
        entries = [
            FileInfo(
                posixpath.join(relative, f.path) if relative else f.path, f.is_dir, f.file_size
            )
            for f in found
        ]
        return sorted(entries, key=lambda f: (not f.is_dir, f.path))

    def list_all(self) -> builtins.list[FileInfo]:  # `list` is a method here
        """Every file, recursively, sorted by path."""
        return [FileInfo(entry.relative, False, entry.size) for entry in self._files_under("")]

    def resolve(self, relative: str, must_exist: bool = True) -> Path:
        """The cached copy of an artifact, downloaded first if need be (NotFoundError when
        the server has none); with ``must_exist=False``, the cache path where a new
        artifact may be written (then :meth:`publish` it), downloading nothing."""
        relative = normalize_artifact_path(relative)
        target = self._cache_path(relative)
        if not must_exist:
            return target
        self._fetch(relative, target, reuse=True)
        return target

    def download(self, path: str, destination: str | os.PathLike[str]) -> Path:
        """Download an artifact file or folder into ``destination``; returns its path."""
        relative = normalize_artifact_path(path)
        target = Path(destination) / (posixpath.basename(relative) or "artifacts")
        self._fetch(relative, target, reuse=False)
        return target

    # -- internals ---------------------------------------------------------------------------

    def _location(self, relative: str) -> str:
        base = f"{self.experiment_id}/{self.run_id}/artifacts"
        return f"{base}/{relative}" if relative else base

    def _file_url(self, relative: str) -> str:
        return f"{ARTIFACTS}/{quote(self._location(relative), safe='/')}"

    def _cache_path(self, relative: str) -> Path:
        root = os.path.realpath(self._root)
        target = os.path.realpath(os.path.join(root, relative))
        if not is_inside(target, root):
            raise InvalidInputError(
                f"artifact path {_shown(relative)} escapes the run's artifacts through a "
                "symbolic link"
            )
        return Path(target)

    def _list(self, relative: str) -> builtins.list[FileInfo]:
        reply = self.connection.call(
            "GET", "", query={"path": self._location(relative)}, api=ARTIFACTS
        )
        entries = []
        for item in reply.get("files") or []:
            size = item.get("file_size")
            entries.append(
                FileInfo(
                    _listed_name(item.get("path"), relative),
                    bool(item.get("is_dir")),
                    None if size is None else int(size),
                )
            )
        return entries

    def _kind(self, relative: str) -> FileInfo | None:
        """The entry of ``relative`` in its folder's listing, or None if it has none."""
        name = posixpath.basename(relative)
        for entry in self._list(posixpath.dirname(relative)):
            if entry.path == name:
                return entry
        return None

    def _files_under(self, relative: str) -> builtins.list[_Entry]:
        """Every file of the folder ``relative``, relative to the root, sorted."""
        files: builtins.list[_Entry] = []
        pending = [relative]
        while pending:
            folder = pending.pop()
            for entry in self._list(folder):
                child = posixpath.join(folder, entry.path) if folder else entry.path
                if entry.is_dir:
                    pending.append(child)
                else:
                    files.append(_Entry(child, entry.file_size))
        return sorted(files, key=lambda e: e.relative)

    def _fetch(self, relative: str, target: Path, *, reuse: bool) -> None:
        """Download the file or folder ``relative`` to ``target``; with ``reuse``, files
        already there with the server's size are kept."""
        kind = self._kind(relative) if relative else FileInfo("", True, None)
        if kind is None:
            raise NotFoundError(f"no artifact {_shown(relative)}")
        if not kind.is_dir:
            if not (reuse and target.is_file() and _same_size(target, kind.file_size)):
                self._download_file(relative, target)
            return
        target.mkdir(parents=True, exist_ok=True)
        prefix = relative + "/" if relative else ""
        for entry in self._files_under(relative):
            local = target / entry.relative[len(prefix) :]
            if reuse and local.is_file() and _same_size(local, entry.size):
                continue
            try:
                self._download_file(entry.relative, local)
            except InvalidInputError as error:  # a link the server will not follow
                warnings.warn(f"skipped {entry.relative}: {error}", SkippedFileWarning, 2)

    def _download_file(self, relative: str, target: Path) -> None:
        """Stream one file into a temporary name beside ``target``, renamed when whole."""
        response = self.connection.request(
            "GET", self._file_url(relative), stream=True, missing_ok=True
        )
        try:
            if response.status == 404:
                raise NotFoundError(f"no artifact {_shown(relative)}")
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, temporary = create_temp_file(target)
            try:
                with os.fdopen(fd, "wb") as handle:
                    for chunk in _chunks(response, relative, self.connection.url):
                        handle.write(chunk)
                    handle.flush()
                    os.fsync(handle.fileno())  # never a renamed file cut short by a crash
                os.replace(temporary, target)
            except BaseException:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(temporary)
                raise
        finally:
            response.release_conn()

    def _upload(self, source: Path, relative: str, keep_cached: bool = False) -> None:
        """Stream one file to the server (the declared length lets it refuse early)."""
        if not keep_cached:
            self._forget(relative)
        with open(source, "rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            body: BinaryIO = handle
            self.connection.request(
                "PUT",
                self._file_url(relative),
                body=body,
                headers={
                    "Content-Type": "application/octet-stream",
                    "Content-Length": str(size),
                },
            )

    def _forget(self, relative: str) -> None:
        """Drop the cached copy of a file about to be replaced on the server."""
        try:
            cached = self._cache_path(relative)
        except InvalidInputError:
            return
        if cached.is_file() or cached.is_symlink():
            cached.unlink()
        elif cached.is_dir():
            shutil.rmtree(cached, ignore_errors=True)


def _chunks(response: urllib3.BaseHTTPResponse, relative: str, url: str) -> Iterator[bytes]:
    """The body a chunk at a time; a body cut short (the connection lost, fewer bytes
    than announced) is a one-line ServerUnavailable, never taken as the whole file."""
    import urllib3

    try:
        yield from response.stream(CHUNK_BYTES)
    except urllib3.exceptions.HTTPError as error:
        raise ServerUnavailable(
            f"the download of artifact {_shown(relative)} from {url} was cut short: "
            f"{type(error).__name__}"
        ) from None


def _listed_name(name: object, folder: str) -> str:
    """A name the server listed in ``folder``: one plain name, so that neither a
    compromised server nor a proxy can make the client write outside its cache or the
    destination folder (``/etc/x``, ``../x``, ``a/../../x``)."""
    if (
        not isinstance(name, str)
        or name in ("", ".", "..")
        or "/" in name
        or "\\" in name
        or "\0" in name
    ):
        raise StoreError(
            f"the server listed {name!r} in the artifact folder {_shown(folder)}: not a file "
            "name (refused: it would be written outside the folder)"
        )
    return name


def _check_names(relative: str) -> None:
    for name in relative.split("/"):
        size = len(os.fsencode(name))
        if size > MAX_ARTIFACT_NAME_BYTES:
            raise InvalidInputError(
                f"cannot write artifact {_shown(relative)}: the name {_shown(name)} is "
                f"{size} bytes long, longer than the {MAX_ARTIFACT_NAME_BYTES} an "
                "artifact name may have"
            )


def _same_size(path: Path, size: int | None) -> bool:
    return size is None or path.stat().st_size == size


def _shown(text: str) -> str:
    if len(text) > 100:
        text = f"{text[:60]}...{text[-20:]}"
    return repr(text)
