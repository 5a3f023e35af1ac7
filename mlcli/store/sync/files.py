"""The local side of a transfer: reading byte ranges of logs, appending pulled
segments once, listing a run's files, and encoding documents for the remote."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from mlcli.files.fileio import append_bytes, file_size, is_temp_name


def append_once(path: Path, data: bytes) -> int:
    """Append a pulled segment; returns where it starts. A pull killed after an append
    and before its state was saved applies that segment again next time: the segment
    is then already the file's last bytes, and is not appended twice."""
    size = file_size(path)
    if size >= len(data) and read_range(path, size - len(data), size) == data:
        return size - len(data)
    append_bytes(path, data)
    return size


def read_range(path: Path, start: int, end: int) -> bytes:
    with open(path, "rb") as handle:
        handle.seek(start)
        return handle.read(end - start)


def local_files(root: Path) -> list[tuple[str, int, int]]:
    """(relative path, size, mtime in ns) of every regular file under ``root``; links
    and the temporary files of writers are left out."""
    found = []
    for directory, folders, files in os.walk(root):
        folders[:] = sorted(f for f in folders if not is_temp_name(f))
        for name in sorted(files):
            if is_temp_name(name):
                continue
            path = Path(directory, name)
            info = path.lstat()
            if path.is_symlink() or not path.is_file():
                continue
            found.append((path.relative_to(root).as_posix(), info.st_size, info.st_mtime_ns))
    return found


def file_state(path: Path) -> list[int] | None:
    try:
        info = path.lstat()
    except FileNotFoundError:
        return None
    return [info.st_size, info.st_mtime_ns]


def encode_document(document: dict[str, Any]) -> bytes:
    """A manifest or version document as stored on the remote (compact, keys sorted)."""
    return json.dumps(document, sort_keys=True, separators=(",", ":")).encode()
