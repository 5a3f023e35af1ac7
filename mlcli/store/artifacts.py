"""A run's artifacts: plain files under ``runs/<run_id>/artifacts``.

Every path a caller gives is relative to that folder and may not leave it, neither
with ``..`` nor through a symlink. Files are copied to a temporary name beside their
destination and renamed into place, so a reader never sees half a file.

Symbolic links never carry a file across the store's edge (see :mod:`mlcli.files.trees`):
a folder copied in or out is walked without following a link out of it (such links
are skipped with a :class:`~mlcli.files.trees.SkippedFileWarning`), a link in the
store that leads outside the artifacts is never resolved, and listings show a link as
a link (``FileInfo.symlink``), never as what it points to. A write the file system
would refuse for a reason the caller controls (a name too long, a file where a folder
must be, a folder where the file would go) is an InvalidInputError, checked before the
first file is written.
"""

from __future__ import annotations

import builtins
import contextlib
import errno
import os
import posixpath
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

from mlcli.errors import InvalidInputError, NotFoundError
from mlcli.files.fileio import create_temp_file
from mlcli.files.trees import copy_tree, is_inside, walk_tree
from mlcli.store.entities import FileInfo

CopyProgress = Callable[[int, int], None]

NAME_MAX_BYTES = 255
"""The longest file name common file systems allow (NAME_MAX), in bytes."""
TEMP_NAME_ROOM = len("." + "." + "0123abcd" + ".tmp")
"""What a write adds to a name for its temporary file: ``.<name>.<8 hex>.tmp``."""
MAX_ARTIFACT_NAME_BYTES = NAME_MAX_BYTES - TEMP_NAME_ROOM
"""The longest name of a file or folder in an artifact path, in UTF-8 bytes (241)."""
PATH_MAX_BYTES = 4096
"""The longest path Linux accepts (PATH_MAX), in bytes."""


class ArtifactRepository:
    """A folder of artifacts. ``on_write`` is called before the first write through
    this object (the store notes the run as changed, so that a push sees it)."""

    def __init__(self, root: Path, on_write: Callable[[], None] | None = None) -> None:
        self.root = root
        self._on_write = on_write

    def log_file(self, local_path: str | os.PathLike[str], artifact_path: str | None = None) -> str:
        """Copy one file to ``<artifact_path>/<its name>``; returns its artifact path."""
        source = Path(local_path)
        if not source.is_file():
            raise NotFoundError(f"no such file: {source}")
        relative = join_artifact_path(artifact_path, source.name)
        target = self.writable(relative)
        with artifact_write_errors(relative):
            _copy_atomic(source, target)
        return relative

    def log_dir(
        self,
        local_dir: str | os.PathLike[str],
        artifact_path: str | None = None,
        progress: CopyProgress | None = None,
    ) -> list[str]:
        """Copy a directory's contents under ``artifact_path``; returns the files' paths.

        Symbolic links are followed only to files and folders inside ``local_dir``;
        the others are skipped, each with a SkippedFileWarning. Every destination is
        checked before the first file is copied."""
        source = Path(local_dir)
        if not source.is_dir():
            raise NotFoundError(f"no such directory: {source}")
        tree = walk_tree(source)
        files = sorted(tree.files, key=lambda f: f.relative)
        planned = []
        for item in files:
            relative = join_artifact_path(artifact_path, item.relative)
            planned.append((item, relative, self.writable(relative)))
        tree.warn()
        total = sum(item.size for item in files)
        done, logged = 0, []
        for item, relative, target in planned:
            with artifact_write_errors(relative):
                _copy_atomic(item.path, target)
            logged.append(relative)
            done += item.size
            if progress:
                progress(done, total)
        return logged

    def write_bytes(self, artifact_file: str, data: bytes) -> str:
        relative = join_artifact_path(None, artifact_file)
        target = self.writable(relative)
        with artifact_write_errors(relative):
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = create_temp_file(target)
            try:
                with os.fdopen(fd, "wb") as handle:
                    handle.write(data)
                os.replace(tmp, target)
            except BaseException:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(tmp)
                raise
        return relative

    def list(self, path: str | None = None) -> list[FileInfo]:
        """The entries directly inside ``path`` (the root when None), directories first.
        A symbolic link is listed as itself (``symlink`` holds where it points), never
        as the file or folder it leads to."""
        relative = normalize_artifact_path(path) if path else ""
        if relative and (self.root / relative).is_symlink():
            self.resolve(posixpath.dirname(relative))  # the folder holding it is inside
            real = os.path.realpath(self.root / relative)
            if not (is_inside(real, os.path.realpath(self.root)) and os.path.isdir(real)):
                return [_link_info(relative, self.root / relative)]
        directory = self.resolve(relative) if relative else self.root
        if directory.is_file():
            return [FileInfo(relative, False, directory.stat().st_size)]
        if not directory.is_dir():  # no artifacts yet, or a FIFO someone put there
            return [FileInfo(relative, False, None)] if relative else []
        entries = []
        for entry in os.scandir(directory):
            if entry.name.startswith(".") and entry.name.endswith(".tmp"):
                continue
            child = posixpath.join(relative, entry.name) if relative else entry.name
            if entry.is_symlink():
                entries.append(_link_info(child, Path(entry.path)))
                continue
            is_dir = entry.is_dir()
            entries.append(FileInfo(child, is_dir, None if is_dir else entry.stat().st_size))
        return sorted(entries, key=lambda f: (not f.is_dir, f.path))

    def list_all(self) -> builtins.list[FileInfo]:  # `list` is a method here
        """Every file, recursively; symbolic links are listed as links, not followed."""
        if not self.root.is_dir():
            return []
        found = []
        for directory, folders, names in os.walk(self.root):
            base = Path(directory)
            links = [f for f in folders if (base / f).is_symlink()]
            for name in names + links:
                path = base / name
                child = path.relative_to(self.root).as_posix()
                if path.is_symlink():
                    found.append(_link_info(child, path))
                elif path.is_file():
                    found.append(FileInfo(child, False, path.stat().st_size))
        return sorted(found, key=lambda f: f.path)

    def download(self, path: str, destination: str | os.PathLike[str]) -> Path:
        """Copy an artifact file or directory to ``destination``; returns the copy's path.
        A folder is copied without following a link out of it (each one skipped is a
        SkippedFileWarning)."""
        relative = normalize_artifact_path(path)
        source = self.resolve(relative)
        target = Path(destination) / (posixpath.basename(relative) or source.name)
        if source.is_dir():
            copy_tree(source, target).warn()
        elif source.is_file():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
        else:
            raise InvalidInputError(f"artifact {relative!r} is not a regular file or folder")
        return target

    def writable(self, relative: str) -> Path:
        """The local path to write the artifact ``relative`` to, once it is sure the
        write can succeed: no name too long, no file where a folder must be, no folder
        where the file would go. InvalidInputError otherwise."""
        relative = normalize_artifact_path(relative)
        check_artifact_names(relative)
        target = self.resolve(relative, must_exist=False)
        if len(os.fsencode(str(target))) + TEMP_NAME_ROOM >= PATH_MAX_BYTES:
            raise InvalidInputError(
                f"cannot write artifact {shown_path(relative)}: the path is too long for the "
                "file system"
            )
        parts = relative.split("/")
        for depth in range(1, len(parts)):
            folder = self.root.joinpath(*parts[:depth])
            if os.path.lexists(folder) and not os.path.isdir(folder):
                where = "/".join(parts[:depth])
                raise InvalidInputError(
                    f"cannot write artifact {shown_path(relative)}: {shown_path(where)} is a file"
                )
        if os.path.isdir(target):
            raise InvalidInputError(f"cannot write artifact {shown_path(relative)}: it is a folder")
        if self._on_write is not None:
            on_write, self._on_write = self._on_write, None
            on_write()
        return target

    def resolve(self, relative: str, must_exist: bool = True) -> Path:
        """The local path of an artifact, refusing anything outside the artifact root
        (through ``..`` or through a symbolic link)."""
        relative = normalize_artifact_path(relative)
        root = os.path.realpath(self.root)
        # os.path.realpath, unlike Path.resolve, returns a loop of links as it is
        # instead of raising RuntimeError; it then does not exist.
        target = os.path.realpath(os.path.join(root, relative))
        if not is_inside(target, root):
            raise InvalidInputError(
                f"artifact path {shown_path(relative)} escapes the run's artifacts through a "
                "symbolic link"
            )
        if must_exist and not os.path.exists(target):
            raise NotFoundError(f"no artifact {shown_path(relative)}")
        return Path(target)

    def publish(self, relative: str) -> None:
        """Nothing to do: what is written at ``resolve(relative, must_exist=False)`` is
        already in the store."""


def normalize_artifact_path(path: str) -> str:
    """A relative POSIX path inside the artifact root, or InvalidInputError."""
    if not isinstance(path, str):
        raise InvalidInputError(f"invalid artifact path {path!r}")
    text = path.replace("\\", "/")
    if text.startswith("/") or (len(text) > 1 and text[1] == ":"):
        raise InvalidInputError(f"artifact path {path!r} must be relative")
    if ".." in text.split("/"):
        raise InvalidInputError(f"artifact path {shown_path(path)} escapes the run's artifacts")
    if "\x00" in text:
        raise InvalidInputError(f"artifact path {shown_path(path)} holds a NUL byte")
    try:
        os.fsencode(text)
    except UnicodeEncodeError:
        raise InvalidInputError(f"artifact path {shown_path(path)} is not valid text") from None
    normalized = posixpath.normpath(text) if text else ""
    return "" if normalized == "." else normalized


def check_artifact_names(relative: str) -> None:
    """InvalidInputError when a name in ``relative`` is longer than an artifact name may
    be (:data:`MAX_ARTIFACT_NAME_BYTES`)."""
    for name in relative.split("/"):
        size = len(os.fsencode(name))
        if size > MAX_ARTIFACT_NAME_BYTES:
            raise InvalidInputError(
                f"cannot write artifact {shown_path(relative)}: the name {shown_path(name)} is "
                f"{size} bytes long, longer than the {MAX_ARTIFACT_NAME_BYTES} an "
                "artifact name may have"
            )


def join_artifact_path(directory: str | None, name: str) -> str:
    joined = posixpath.join(normalize_artifact_path(directory), name) if directory else name
    normalized = normalize_artifact_path(joined)
    if not normalized:
        raise InvalidInputError(f"invalid artifact path {joined!r}")
    return normalized


def _copy_atomic(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = create_temp_file(target)
    os.close(fd)
    try:
        shutil.copyfile(source, tmp)
        shutil.copymode(source, tmp)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


_INPUT_ERRNOS = {
    errno.ENAMETOOLONG: "the path is too long for the file system",
    errno.ENOTDIR: "a file is where a folder must be",
    errno.EEXIST: "a file is where a folder must be",
    errno.EISDIR: "it is a folder",
    errno.EINVAL: "the file system refuses the name",
    errno.EILSEQ: "the file system refuses the name",
}


@contextlib.contextmanager
def artifact_write_errors(relative: str) -> Iterator[None]:
    """Turn the OSErrors of a write that the caller's path caused (a race with another
    writer past :meth:`ArtifactRepository.writable`'s checks, a path too long in all)
    into InvalidInputError; other failures (a full disk) stay what they are."""
    try:
        yield
    except OSError as exc:
        reason = _INPUT_ERRNOS.get(exc.errno or 0)
        if reason is None:
            raise
        raise InvalidInputError(f"cannot write artifact {shown_path(relative)}: {reason}") from None


def _link_info(relative: str, path: Path) -> FileInfo:
    try:
        target = os.readlink(path)
    except OSError:
        target = ""
    return FileInfo(relative, False, None, symlink=target)


def shown_path(text: str) -> str:
    """A path for a one-line message: quoted, and cut in the middle when very long."""
    if len(text) > 100:
        text = f"{text[:60]}...{text[-20:]}"
    return repr(text)
