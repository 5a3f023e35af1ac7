"""Helpers shared by the sweep tests: reading a sweep's runs, finding processes, git."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from mlcli.store import Run
from mlcli.tracking import TrackingClient


def store_runs(store: Path) -> list[Run]:
    if not store.exists():
        return []
    return TrackingClient(store).search_runs()


def sweep_runs(store: Path) -> tuple[Run, list[Run]]:
    """The one parent run of the store and its children, in trial order."""
    runs = store_runs(store)
    parents = [r for r in runs if r.info.parent_run_id is None]
    assert len(parents) == 1, f"expected one parent, found {len(parents)}"
    (parent,) = parents
    children = [r for r in runs if r.info.parent_run_id == parent.run_id]
    assert len(children) == len(runs) - 1, "a run is neither the parent nor its child"
    children.sort(key=lambda r: int(r.data.tags["mlcli.sweep.trial"]))
    return parent, children


def processes_under(directory: Path) -> list[str]:
    """Live processes (not zombies) whose command line or working directory is inside
    ``directory``, as 'pid: command' (Linux /proc)."""
    found = []
    marker = str(directory)
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            status = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            cwd = os.readlink(entry / "cwd")
        except (OSError, IndexError):
            continue
        if status != "Z" and (marker in command or cwd.startswith(marker)):
            found.append(f"{entry.name}: {command}")
    return found


GIT_IDENTITY = {
    "GIT_AUTHOR_NAME": "Test",
    "GIT_AUTHOR_EMAIL": "test@example.com",
    "GIT_COMMITTER_NAME": "Test",
    "GIT_COMMITTER_EMAIL": "test@example.com",
}


def git_commit_all(directory: Path, message: str = "initial") -> str:
    """Make ``directory`` a git repository with everything committed; the commit id."""

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", "-C", str(directory), *args],
            capture_output=True,
            text=True,
            env={**os.environ, **GIT_IDENTITY},
            check=True,
        ).stdout

    if not (directory / ".git").exists():
        git("init", "-q", "-b", "main")
    git("add", "-A")
    git("commit", "-q", "-m", message)
    return git("rev-parse", "HEAD").strip()
