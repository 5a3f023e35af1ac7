"""Git lineage: which commit, branch and remote a run's code came from, and whether
the work tree had uncommitted changes.

Collected once per run into one frozen record, with two or three ``git`` commands
(``status --porcelain=v2`` gives commit, branch and changes at once). Credentials
are stripped from remote URLs. Only git's own failures are caught: a directory
outside any repository, or a repository git refuses to read, has no lineage.
"""

from __future__ import annotations

import logging
import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from mlcli import system_tags
from mlcli.files.worktree import git_toplevel

_log = logging.getLogger("mlcli")
_EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"
_URL_CREDENTIALS = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*://)[^/@\s]+@")
DIFF_ARTIFACT = "source/uncommitted.diff"


@dataclass(frozen=True)
class GitLineage:
    root: Path
    commit: str | None
    branch: str | None
    repo_url: str | None
    dirty: bool
    diff: str = ""
    untracked: tuple[str, ...] = ()

    def tags(self) -> dict[str, str]:
        """The ``mlcli.source.git.*`` tags (absent values are left out)."""
        tags = {system_tags.GIT_DIRTY: "true" if self.dirty else "false"}
        if self.commit:
            tags[system_tags.GIT_COMMIT] = self.commit
        if self.branch:
            tags[system_tags.GIT_BRANCH] = self.branch
        if self.repo_url:
            tags[system_tags.GIT_REPO_URL] = self.repo_url
        return tags

    def uncommitted_changes(self) -> str | None:
        """The text of ``source/uncommitted.diff``: a header naming the untracked files
        (``git apply`` skips it), then the diff of tracked files against the commit.
        None when the tree is clean."""
        if not self.dirty:
            return None
        base = self.commit or "the empty tree (no commit yet)"
        lines = [f"# mlcli: uncommitted changes in {self.root} against {base}"]
        if self.untracked:
            lines.append("# Untracked files (their contents are not in this diff):")
            lines += [f"#   {path}" for path in self.untracked]
        header = "\n".join(lines) + "\n"
        return header + self.diff


def collect_lineage(directory: Path) -> GitLineage | None:
    """The lineage of the work tree holding ``directory``; None outside git."""
    if git_toplevel(directory.resolve()) is None:
        return None
    try:
        status = _git(directory, "status", "--porcelain=v2", "--branch", "-z")
        root = Path(_git(directory, "rev-parse", "--show-toplevel").strip())
        commit, branch, upstream, changed, untracked = _parse_status(status)
        dirty = bool(changed or untracked)
        diff = ""
        if changed:
            diff = _git(
                root, "diff", commit or _EMPTY_TREE, "--binary", "--no-color", "--no-ext-diff"
            )
        return GitLineage(
            root=root,
            commit=commit,
            branch=branch,
            repo_url=_remote_url(root, upstream),
            dirty=dirty,
            diff=diff,
            untracked=tuple(untracked),
        )
    except subprocess.CalledProcessError as exc:
        message = (exc.stderr or "").strip().splitlines()
        _log.warning("no git lineage for %s: %s", directory, message[-1] if message else exc)
        return None
    except FileNotFoundError:  # git itself is not installed
        _log.warning("no git lineage for %s: git is not installed", directory)
        return None


def strip_credentials(url: str) -> str:
    """``https://user:token@host/repo.git`` -> ``https://host/repo.git``; scp-style
    ``git@host:repo`` and local paths are returned unchanged."""
    if "://" not in url:
        return url
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment))


def redact_credentials(text: str) -> str:
    """Remove ``user:secret@`` from every URL in a message (git's errors quote URLs)."""
    return _URL_CREDENTIALS.sub(r"\1", text)


def _parse_status(
    output: str,
) -> tuple[str | None, str | None, str | None, list[str], list[str]]:
    commit = branch = upstream = None
    changed: list[str] = []
    untracked: list[str] = []
    records = iter(output.split("\0"))
    for record in records:
        if record.startswith("# branch.oid "):
            oid = record.split(" ", 2)[2]
            commit = None if oid == "(initial)" else oid
        elif record.startswith("# branch.head "):
            head = record.split(" ", 2)[2]
            branch = None if head == "(detached)" else head
        elif record.startswith("# branch.upstream "):
            upstream = record.split(" ", 2)[2]
        elif record.startswith("? "):
            untracked.append(record[2:])
        elif record.startswith(("1 ", "u ")):
            changed.append(record.split(" ")[-1])
        elif record.startswith("2 "):
            changed.append(record.split(" ")[-1])
            next(records, None)  # a rename's original path follows as its own record
    return commit, branch, upstream, changed, untracked


def _remote_url(root: Path, upstream: str | None) -> str | None:
    """The URL of the upstream branch's remote, else ``origin``, else the first remote."""
    result = subprocess.run(
        ["git", "-C", str(root), "config", "--get-regexp", r"^remote\..*\.url$"],
        capture_output=True,
        text=True,
        env=_git_env(),
    )
    urls: dict[str, str] = {}
    for line in result.stdout.splitlines():
        key, _, url = line.partition(" ")
        match = re.fullmatch(r"remote\.(.+)\.url", key)
        if match and url:
            urls.setdefault(match.group(1), url)
    if not urls:
        return None
    preferred = [name for name in urls if upstream and upstream.startswith(f"{name}/")]
    name = max(preferred, key=len) if preferred else "origin" if "origin" in urls else None
    return strip_credentials(urls[name] if name else next(iter(urls.values())))


def _git(directory: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(directory), *args],
        capture_output=True,
        text=True,
        check=True,
        env=_git_env(),
        errors="replace",
    ).stdout


def _git_env() -> dict[str, str]:
    # No pager, no prompt for credentials, and stable (untranslated) output.
    return {**os.environ, "GIT_TERMINAL_PROMPT": "0", "GIT_PAGER": "cat", "LC_ALL": "C"}
