"""Finding the store the way git finds ``.git``, and creating it on first write.

Precedence: an explicit path (``--store``), then ``MLCLI_STORE`` (or its other name,
``MLCLI_TRACKING_URI``, as MLflow's users write it), then the first
``.mlruns`` found walking up from the working directory. With none, a write creates
``.mlruns`` at the enclosing git work tree's top level (or in the working directory
outside git) and adds it to that directory's ``.gitignore``.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from mlcli.errors import StoreError
from mlcli.files.worktree import git_toplevel
from mlcli.store.layout import STORE_DIRNAME

StoreAnnouncer = Callable[[Path], None]
STORE_VARIABLES = ("MLCLI_STORE", "MLCLI_TRACKING_URI")


def named_store(environ: dict[str, str] | os._Environ[str] | None = None) -> str | None:
    """The store the environment names (a path, a URL or a remote's name), if any."""
    environ = os.environ if environ is None else environ
    return next((environ[v] for v in STORE_VARIABLES if environ.get(v)), None)


def find_store_root(
    explicit: str | os.PathLike[str] | None = None,
    cwd: Path | None = None,
    environ: dict[str, str] | os._Environ[str] | None = None,
) -> Path | None:
    """The store the user named or that encloses ``cwd``; None when there is none
    (and none was named)."""
    named = explicit or named_store(environ)
    if named:
        return _named_store(Path(named).expanduser())
    start = (cwd or Path.cwd()).resolve()
    for directory in (start, *start.parents):
        candidate = directory / STORE_DIRNAME
        if candidate.is_dir():
            return candidate
    return None


def store_location(cwd: Path | None = None) -> str:
    """Where the store the user means is, or would be made by a first write: what the
    environment names, else the nearest ``.mlruns``, else where a write would create it."""
    named = named_store()
    if named:
        return named
    return str(find_store_root(None, cwd) or default_store_root(cwd))


def default_store_root(cwd: Path | None = None) -> Path:
    """Where a first write creates the store: the git top level, else the cwd."""
    start = (cwd or Path.cwd()).resolve()
    return (git_toplevel(start) or start) / STORE_DIRNAME


def ensure_gitignored(store_root: Path) -> bool:
    """Add the store to the ``.gitignore`` beside it when that folder is in a git work
    tree; returns True when the file was changed. Appends, never rewrites."""
    directory = store_root.parent
    if git_toplevel(directory) is None:
        return False
    gitignore = directory / ".gitignore"
    name = store_root.name
    try:
        existing = gitignore.read_text()
    except FileNotFoundError:
        existing = ""
    patterns = {line.strip() for line in existing.splitlines()}
    if patterns & {name, f"{name}/", f"/{name}", f"/{name}/"}:
        return False
    prefix = "" if not existing or existing.endswith("\n") else "\n"
    with open(gitignore, "a") as handle:
        handle.write(f"{prefix}{name}/\n")
    return True


def _named_store(path: Path) -> Path:
    path = path.resolve()
    if (path / "VERSION").is_file():
        return path
    if (path / STORE_DIRNAME).is_dir():
        return path / STORE_DIRNAME
    if path.exists() and not path.is_dir():
        raise StoreError(f"the store path {path} is not a directory")
    return path
