"""What killed writers leave in a store, and removing it (``mlcli gc``, ``mlcli fsck``).

Every write builds its result under a hidden name and renames it into place, so a
writer killed half-way leaves that hidden thing behind, and nothing else lists it:

    .<name>.<random>.tmp   a file or folder being written (documents, artifacts,
                           server uploads, logged models): see ``fileio.temp_name``
    runs/.new-<id>         a run being created; models/<m>/versions/.new-<x> a version
    .purge-<id>            a run or experiment being removed for good

A temporary name is only an orphan once nothing has written to it for a while (a
slow upload keeps its file's modification time fresh): ``older_than`` seconds, an
hour by default. A ``.purge-`` folder is an orphan at any age: it was already on its
way out.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from mlcli.files.fileio import is_temp_name
from mlcli.store.layout import StoreLayout

ORPHAN_AFTER_SECONDS = 3600


@dataclass(frozen=True)
class Leftover:
    path: Path
    size: int  # bytes, of everything beneath a folder
    is_dir: bool


def find_leftovers(
    layout: StoreLayout, older_than: float = ORPHAN_AFTER_SECONDS, now: float | None = None
) -> list[Leftover]:
    """The orphans of killed writers anywhere in the store, oldest path order."""
    limit = (time.time() if now is None else now) - older_than
    found = []
    for path, is_dir in _candidates(layout.root):
        try:
            size, newest = _size_and_newest_change(path, is_dir)
        except FileNotFoundError:
            continue  # its writer finished (or gave up) meanwhile
        if path.name.startswith(".purge-") or newest < limit:
            found.append(Leftover(path, size, is_dir))
    return sorted(found, key=lambda leftover: str(leftover.path))


def remove_leftover(leftover: Leftover) -> None:
    if leftover.is_dir:
        shutil.rmtree(leftover.path, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(leftover.path)


def _candidates(root: Path) -> Iterator[tuple[Path, bool]]:
    for directory, folders, files in os.walk(root):
        here = Path(directory)
        for name in files:
            if is_temp_name(name):
                yield here / name, False
        kept = []
        for name in folders:
            if is_temp_name(name) or name.startswith((".new-", ".purge-")):
                yield here / name, True  # not walked into: it goes (or stays) whole
            else:
                kept.append(name)
        folders[:] = kept


def _size_and_newest_change(path: Path, is_dir: bool) -> tuple[int, float]:
    st = os.lstat(path)
    if not is_dir:
        return st.st_size, st.st_mtime
    size, newest = 0, st.st_mtime
    for directory, _, files in os.walk(path):
        for name in files:
            try:
                inner = os.lstat(os.path.join(directory, name))
            except FileNotFoundError:
                continue
            size += inner.st_size
            newest = max(newest, inner.st_mtime)
    return size, newest
