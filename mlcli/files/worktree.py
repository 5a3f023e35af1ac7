"""Finding the git work tree around a folder, without running git."""

from __future__ import annotations

from pathlib import Path


def git_toplevel(start: Path) -> Path | None:
    """The top of the git work tree enclosing ``start`` (found without running git)."""
    for directory in (start, *start.parents):
        if (directory / ".git").exists():
            return directory
    return None
