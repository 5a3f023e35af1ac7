"""Helpers shared by the project tests: real git repositories and reading the store."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from pathlib import Path

from mlcli.store import Run
from mlcli.tracking import TrackingClient

MakeProject = Callable[..., Path]

GIT_IDENTITY = {
    "GIT_AUTHOR_NAME": "Test",
    "GIT_AUTHOR_EMAIL": "test@example.com",
    "GIT_COMMITTER_NAME": "Test",
    "GIT_COMMITTER_EMAIL": "test@example.com",
}


def git(directory: Path, *args: str) -> str:
    """Run git in ``directory`` (a real repository), returning its stdout."""
    result = subprocess.run(
        ["git", "-C", str(directory), *args],
        capture_output=True,
        text=True,
        env={**os.environ, **GIT_IDENTITY},
        check=True,
    )
    return result.stdout


def git_repository(directory: Path, message: str = "initial") -> str:
    """Make ``directory`` a repository with everything committed; the commit id."""
    git(directory, "init", "-q", "-b", "main")
    git(directory, "add", "-A")
    git(directory, "commit", "-q", "-m", message)
    return git(directory, "rev-parse", "HEAD").strip()


def all_runs(workdir: Path) -> list[Run]:
    store = workdir / ".mlruns"
    if not store.exists():
        return []
    return TrackingClient(store).search_runs()


def only_run(workdir: Path) -> Run:
    runs = all_runs(workdir)
    assert len(runs) == 1, f"expected one run, found {len(runs)}"
    return runs[0]


def artifact_text(workdir: Path, run: Run, path: str) -> str:
    return TrackingClient(workdir / ".mlruns").artifact_path(run.info.run_id, path).read_text()
