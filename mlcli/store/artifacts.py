"""A run's artifacts: plain files under ``runs/<run_id>/artifacts``.

Every path a caller gives is relative to that folder and may not leave it, neither
with ``..`` nor through a symlink. Files are copied to a temporary name beside their
destination and renamed into place, so a reader never sees half a file.
"""

from __future__ import annotations

import contextlib
import os
import posixpath
import shutil
from collections.abc import Callable
from pathlib import Path

from mlcli.errors import InvalidInputError, NotFoundError
from mlcli.store.entities import FileInfo
from mlcli.store.fileio import create_temp_file

CopyProgress = Callable[[int, int], None]


class ArtifactRepository:
    def __init__(self, root: Path) -> None:
        self.root = root

    def log_file(self, local_path: str | os.PathLike[str], artifact_path: str | None = None) -> str:
        """Copy one file to ``<artifact_path>/<its name>``; returns its artifact path."""
        source = Path(local_path)
        if not source.is_file():
            raise NotFoundError(f"no such file: {source}")
        relative = join_artifact_path(artifact_path, source.name)
        _copy_atomic(source, self.resolve(relative, must_exist=False))
        return relative

    def log_dir(
        self,
        local_dir: str | os.PathLike[str],
        artifact_path: str | None = None,
        progress: CopyProgress | None = None,
    ) -> list[str]:
        """Copy a directory's contents under ``artifact_path``; returns the files' paths."""
        source = Path(local_dir)
        if not source.is_dir():
            raise NotFoundError(f"no such directory: {source}")
        files = sorted(p for p in source.rglob("*") if p.is_file())
        total = sum(p.stat().st_size for p in files)
        done, logged = 0, []
        for path in files:
            relative = join_artifact_path(artifact_path, path.relative_to(source).as_posix())
            _copy_atomic(path, self.resolve(relative, must_exist=False))
            logged.append(relative)
            done += path.stat().st_size
            if progress:
                progress(done, total)
        return logged

    def write_bytes(self, artifact_file: str, data: bytes) -> str:
        relative = join_artifact_path(None, artifact_file)
        target = self.resolve(relative, must_exist=False)
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
        """The entries directly inside ``path`` (the root when None), directories first."""
        relative = normalize_artifact_path(path) if path else ""
        directory = self.resolve(relative) if relative else self.root
        if directory.is_file():
            return [FileInfo(relative, False, directory.stat().st_size)]
        entries = []
        for entry in os.scandir(directory):
            if entry.name.startswith(".") and entry.name.endswith(".tmp"):
                continue
            child = posixpath.join(relative, entry.name) if relative else entry.name
            is_dir = entry.is_dir()
            entries.append(FileInfo(child, is_dir, None if is_dir else entry.stat().st_size))
        return sorted(entries, key=lambda f: (not f.is_dir, f.path))

    def list_all(self) -> list[FileInfo]:
        """Every file, recursively."""
        if not self.root.is_dir():
            return []
        return [
            FileInfo(p.relative_to(self.root).as_posix(), False, p.stat().st_size)
            for p in sorted(self.root.rglob("*"))
            if p.is_file()
        ]

    def download(self, path: str, destination: str | os.PathLike[str]) -> Path:
        """Copy an artifact file or directory to ``destination``; returns the copy's path."""
        source = self.resolve(normalize_artifact_path(path))
        target = Path(destination) / source.name
        if source.is_dir():
            shutil.copytree(source, target, dirs_exist_ok=True)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
        return target

    def resolve(self, relative: str, must_exist: bool = True) -> Path:
        """The local path of an artifact, refusing anything outside the artifact root."""
        relative = normalize_artifact_path(relative)
        root = self.root.resolve()
        target = (root / relative).resolve()
        if target != root and root not in target.parents:
            raise InvalidInputError(f"artifact path {relative!r} escapes the run's artifacts")
        if must_exist and not target.exists():
            raise NotFoundError(f"no artifact {relative!r}")
        return target


def normalize_artifact_path(path: str) -> str:
    """A relative POSIX path inside the artifact root, or InvalidInputError."""
    if not isinstance(path, str):
        raise InvalidInputError(f"invalid artifact path {path!r}")
    text = path.replace("\\", "/")
    if text.startswith("/") or (len(text) > 1 and text[1] == ":"):
        raise InvalidInputError(f"artifact path {path!r} must be relative")
    if ".." in text.split("/") or "\x00" in text:
        raise InvalidInputError(f"artifact path {path!r} escapes the run's artifacts")
    normalized = posixpath.normpath(text) if text else ""
    return "" if normalized == "." else normalized


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
