"""The code side of a run diff: the commits between the runs' recorded commits, the
``git diff --stat`` between them, and the uncommitted changes each run recorded.

Git runs as a subprocess with read-only commands (``cat-file``, ``log``, ``diff``
between two commits) and ``GIT_OPTIONAL_LOCKS=0``, so a diff never changes a repository.
The repository is the one named, else the one enclosing the working directory, else
one enclosing a run's ``mlcli.source.name`` when that is a local path; the first that
holds both commits is used. When none does, the diff says so instead of failing.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypedDict

from mlcli import system_tags
from mlcli.files.worktree import git_toplevel

# The artifact ``mlcli run`` records when the work tree had uncommitted changes
# (mlcli/projects/lineage.py: DIFF_ARTIFACT).
UNCOMMITTED_DIFF = "source/uncommitted.diff"
_GIT_TIMEOUT = 60


@dataclass(frozen=True)
class Commit:
    sha: str
    subject: str

    def to_dict(self) -> dict[str, str]:
        return {"commit": self.sha, "subject": self.subject}


@dataclass(frozen=True)
class FileChange:
    path: str
    insertions: int | None  # None for a binary file
    deletions: int | None

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "insertions": self.insertions, "deletions": self.deletions}


@dataclass(frozen=True)
class UncommittedChanges:
    """A run's recorded ``source/uncommitted.diff``."""

    artifact: Path
    files: tuple[str, ...]
    untracked: tuple[str, ...]
    text: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "artifact": str(self.artifact),
            "files": list(self.files),
            "untracked": list(self.untracked),
            "text": self.text,
        }


class _Uncommitted(TypedDict):
    """The uncommitted changes of both runs, passed to every :class:`CodeDiff`."""

    uncommitted_a: UncommittedChanges | None
    uncommitted_b: UncommittedChanges | None


@dataclass(frozen=True)
class CodeDiff:
    commit_a: str | None
    commit_b: str | None
    repository: Path | None = None
    note: str | None = None  # why commits and stat are missing, when they are
    commits: tuple[Commit, ...] = ()  # in B and not in A: git log A..B
    commits_back: tuple[Commit, ...] = ()  # in A and not in B: git log B..A
    files: tuple[FileChange, ...] = ()
    stat: str = ""
    uncommitted_a: UncommittedChanges | None = None
    uncommitted_b: UncommittedChanges | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "commit_a": self.commit_a,
            "commit_b": self.commit_b,
            "repository": None if self.repository is None else str(self.repository),
            "note": self.note,
            "commits": [c.to_dict() for c in self.commits],
            "commits_back": [c.to_dict() for c in self.commits_back],
            "files": [f.to_dict() for f in self.files],
            "stat": self.stat,
            "uncommitted_a": None if self.uncommitted_a is None else self.uncommitted_a.to_dict(),
            "uncommitted_b": None if self.uncommitted_b is None else self.uncommitted_b.to_dict(),
        }


def diff_code(
    tags_a: Mapping[str, str],
    tags_b: Mapping[str, str],
    *,
    artifacts_a: Path,
    artifacts_b: Path,
    cwd: Path,
    repository: Path | None = None,
) -> CodeDiff:
    commit_a, commit_b = tags_a.get(system_tags.GIT_COMMIT), tags_b.get(system_tags.GIT_COMMIT)
    uncommitted: _Uncommitted = {
        "uncommitted_a": read_uncommitted(artifacts_a),
        "uncommitted_b": read_uncommitted(artifacts_b),
    }
    if not commit_a or not commit_b:
        which = "neither run" if not commit_a and not commit_b else "only one run"
        note = f"{which} recorded a git commit (tag {system_tags.GIT_COMMIT})"
        return CodeDiff(commit_a, commit_b, note=note, **uncommitted)
    candidates = _candidate_repositories(cwd, repository, (tags_a, tags_b))
    try:
        repo = next((r for r in candidates if _has_commits(r, (commit_a, commit_b))), None)
    except FileNotFoundError:
        return CodeDiff(commit_a, commit_b, note="git is not installed", **uncommitted)
    if repo is None:
        looked = ", ".join(str(r) for r in candidates) or "no repository found"
        note = (
            f"commits {commit_a[:7]} and {commit_b[:7]} are not both in any local git "
            f"repository (looked in: {looked})"
        )
        return CodeDiff(commit_a, commit_b, note=note, **uncommitted)
    if commit_a == commit_b:
        return CodeDiff(
            commit_a, commit_b, repo, note="both runs used the same commit", **uncommitted
        )
    return CodeDiff(
        commit_a,
        commit_b,
        repo,
        commits=_log(repo, commit_a, commit_b),
        commits_back=_log(repo, commit_b, commit_a),
        files=_numstat(repo, commit_a, commit_b),
        stat=_git(repo, "diff", "--stat", "--no-color", "--no-ext-diff", commit_a, commit_b),
        **uncommitted,
    )


def read_uncommitted(artifacts: Path) -> UncommittedChanges | None:
    """The uncommitted changes a run recorded, or None."""
    path = artifacts / UNCOMMITTED_DIFF
    try:
        text = path.read_text(errors="replace")
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
        return None
    files: list[str] = []
    untracked: list[str] = []
    in_untracked = False
    for line in text.splitlines():
        if line.startswith("diff --git "):
            files.append(line.rsplit(" b/", 1)[-1])
        elif line.startswith("# Untracked files"):
            in_untracked = True
        elif in_untracked and line.startswith("#   "):
            untracked.append(line[4:])
        elif not line.startswith("#"):
            in_untracked = False
    return UncommittedChanges(path, tuple(files), tuple(untracked), text)


def _candidate_repositories(
    cwd: Path, named: Path | None, tag_sets: Iterable[Mapping[str, str]]
) -> list[Path]:
    starts: list[Path] = []
    if named is not None:
        starts.append(named)
    starts.append(cwd)
    for tags in tag_sets:
        source = tags.get(system_tags.SOURCE_NAME)
        if source and os.path.isabs(source) and os.path.exists(source):
            path = Path(source)
            starts.append(path if path.is_dir() else path.parent)
    found: list[Path] = []
    for start in starts:
        top = git_toplevel(start.resolve())
        if top is not None and top not in found:
            found.append(top)
    return found


def _has_commits(repo: Path, commits: Iterable[str]) -> bool:
    for commit in commits:
        result = subprocess.run(
            ["git", "cat-file", "-e", f"{commit}^{{commit}}"],
            cwd=repo,
            env=_git_env(),
            capture_output=True,
            timeout=_GIT_TIMEOUT,
        )
        if result.returncode != 0:
            return False
    return True


def _log(repo: Path, since: str, until: str) -> tuple[Commit, ...]:
    text = _git(repo, "log", "--format=%H%x09%s", f"{since}..{until}")
    commits = []
    for line in text.splitlines():
        sha, _, subject = line.partition("\t")
        commits.append(Commit(sha, subject))
    return tuple(commits)


def _numstat(repo: Path, a: str, b: str) -> tuple[FileChange, ...]:
    text = _git(repo, "-c", "core.quotepath=off", "diff", "--numstat", "--no-ext-diff", a, b)
    changes = []
    for line in text.splitlines():
        added, deleted, path = line.split("\t", 2)
        changes.append(
            FileChange(
                path,
                None if added == "-" else int(added),
                None if deleted == "-" else int(deleted),
            )
        )
    return tuple(changes)


def _git(repo: Path, *args: str) -> str:
    result = subprocess.run(
        ["git", *args],
        cwd=repo,
        env=_git_env(),
        capture_output=True,
        text=True,
        timeout=_GIT_TIMEOUT,
    )
    if result.returncode != 0:
        return ""
    return result.stdout


def _git_env() -> dict[str, str]:
    return {**os.environ, "GIT_OPTIONAL_LOCKS": "0", "GIT_TERMINAL_PROMPT": "0"}
