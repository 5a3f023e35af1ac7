"""Walking a folder that is copied into or out of the store, without following a
symbolic link out of it.

A folder may hold links that someone else planted (a model downloaded from elsewhere,
a run folder synced from another machine). Copying it must never carry a file from
outside the folder along, so a walk follows a link only when it leads to a file or a
folder inside the folder being copied; such a link is copied as what it leads to (the
store holds plain files). Every other link is skipped and reported:

- a link leading outside the folder (``secret -> /etc/passwd``),
- a link that leads nowhere (dangling, or a loop of links),
- a link to a folder that contains it (a loop: ``here -> ..``),

and so is anything that is neither a file nor a folder (a FIFO, a socket, a device).
The folder named by the caller is itself followed when it is a link: the user chose it.
"""

from __future__ import annotations

import fnmatch
import os
import shutil
import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path


class SkippedFileWarning(UserWarning):
    """A file or link left out of a copy (see :class:`SkippedEntry`)."""


@dataclass(frozen=True)
class SkippedEntry:
    """Something a copy left out, and why."""

    relative: str  # POSIX path inside the folder
    kind: str  # "outside", "dangling", "loop", "special" or "unreadable"
    reason: str
    link: str | None = None  # what a symbolic link holds

    def __str__(self) -> str:
        arrow = f" -> {self.link}" if self.link is not None else ""
        return f"skipped {self.relative}{arrow}: {self.reason}"


@dataclass(frozen=True)
class TreeFile:
    relative: str  # POSIX path inside the folder
    path: Path  # where to read it: a path without links (all resolved inside the folder)
    size: int


@dataclass
class Tree:
    """What a walk found: the files to copy, the folders (empty ones included), and
    what was skipped."""

    root: Path
    ignore: tuple[str, ...] = ()  # name patterns left out without a word (``*.pyc``)
    files: list[TreeFile] = field(default_factory=list)
    folders: list[str] = field(default_factory=list)
    skipped: list[SkippedEntry] = field(default_factory=list)

    def warn(self) -> None:
        """Report each skipped entry as a :class:`SkippedFileWarning` (the CLI prints
        them as one-line warnings)."""
        for entry in self.skipped:
            warnings.warn(str(entry), SkippedFileWarning, stacklevel=3)


def walk_tree(source: str | os.PathLike[str], ignore: Iterable[str] = ()) -> Tree:
    """Every file and folder under ``source`` reachable without leaving it, sorted;
    entries whose name matches a pattern of ``ignore`` are left out silently."""
    root = os.path.realpath(source)
    tree = Tree(Path(source), tuple(ignore))
    _visit(tree, root, root, "", (root,))
    return tree


def copy_tree(
    source: str | os.PathLike[str], target: str | os.PathLike[str], ignore: Iterable[str] = ()
) -> Tree:
    """Copy ``source`` to ``target`` (created; existing files are replaced) as
    :func:`walk_tree` finds it; returns the walk, whose ``skipped`` the caller reports."""
    tree = walk_tree(source, ignore)
    destination = Path(target)
    destination.mkdir(parents=True, exist_ok=True)
    for folder in tree.folders:
        (destination / folder).mkdir(parents=True, exist_ok=True)
    for item in tree.files:
        shutil.copy2(item.path, destination / item.relative)
    return tree


def links_leading_outside(source: str | os.PathLike[str]) -> list[SkippedEntry]:
    """The links under ``source`` that lead outside it (whether or not their target
    exists)."""
    return [e for e in walk_tree(source).skipped if e.kind == "outside"]


def is_inside(path: str, root: str) -> bool:
    """Whether the resolved ``path`` is ``root`` or lies beneath it."""
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def _visit(
    tree: Tree, root: str, directory: str, relative: str, ancestors: tuple[str, ...]
) -> None:
    try:
        entries = sorted(os.scandir(directory), key=lambda e: e.name)
    except OSError as exc:
        reason = f"the folder cannot be read ({exc.strerror})"
        tree.skipped.append(SkippedEntry(relative or ".", "unreadable", reason))
        return
    for entry in entries:
        if any(fnmatch.fnmatch(entry.name, pattern) for pattern in tree.ignore):
            continue
        child = f"{relative}/{entry.name}" if relative else entry.name
        path = os.path.join(directory, entry.name)
        if entry.is_symlink():
            _visit_link(tree, root, path, child, ancestors)
        elif entry.is_dir(follow_symlinks=False):
            tree.folders.append(child)
            _visit(tree, root, path, child, (*ancestors, path))
        elif entry.is_file(follow_symlinks=False):
            size = entry.stat(follow_symlinks=False).st_size
            tree.files.append(TreeFile(child, Path(path), size))
        else:
            tree.skipped.append(SkippedEntry(child, "special", "not a regular file or folder"))


def _visit_link(
    tree: Tree, root: str, path: str, relative: str, ancestors: tuple[str, ...]
) -> None:
    try:
        link: str | None = os.readlink(path)
    except OSError:
        link = None
    real = os.path.realpath(path)
    if not is_inside(real, root):
        reason = f"a symbolic link leading outside {tree.root}"
        tree.skipped.append(SkippedEntry(relative, "outside", reason, link))
    elif not os.path.exists(real):
        reason = "a symbolic link that leads nowhere"
        tree.skipped.append(SkippedEntry(relative, "dangling", reason, link))
    elif os.path.isdir(real):
        if real in ancestors:
            reason = "a symbolic link to a folder that holds it (a loop)"
            tree.skipped.append(SkippedEntry(relative, "loop", reason, link))
            return
        tree.folders.append(relative)
        _visit(tree, root, real, relative, (*ancestors, real))
    elif os.path.isfile(real):
        tree.files.append(TreeFile(relative, Path(real), os.stat(real).st_size))
    else:
        reason = "a symbolic link to something that is not a regular file or folder"
        tree.skipped.append(SkippedEntry(relative, "special", reason, link))
