"""Finding a project's files: a local directory used in place, or a git repository at
a version, checked out into the cache.

Git projects are kept as one bare mirror per URL (``<cache>/git/``), updated with
``git fetch``, and one read-only-by-convention checkout per commit
(``<cache>/checkouts/<sha>``), so a second run of the same commit costs a fetch and
nothing else. The user's own repository is only ever read: unlike MLflow, mlcli
never adds a remote to it or moves its HEAD.
"""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from mlcli.errors import EnvironmentFailure, InvalidInputError, NotFoundError
from mlcli.files.lock import FileLock
from mlcli.projects.cache import cache_root, digest, publishing
from mlcli.projects.lineage import GitLineage, redact_credentials, strip_credentials

_GIT_URL = re.compile(r"^([a-z][a-z0-9+.-]*://|[\w.-]+@[\w.-]+:)", re.IGNORECASE)


@dataclass(frozen=True)
class ProjectSource:
    """Where the project's files are, and what to record about where they came from."""

    directory: Path
    name: str
    lineage: GitLineage | None = None
    remote: bool = False


def is_git_url(uri: str) -> bool:
    return bool(_GIT_URL.match(uri))


def fetch_project(uri: str = ".", version: str | None = None) -> ProjectSource:
    """Resolve ``uri`` (a directory, or a git URL or repository path, optionally with
    ``#subdirectory``) at ``version`` (a branch, tag or commit)."""
    remote = is_git_url(uri)
    if not remote and version is None:
        directory = Path(uri).expanduser().resolve()
        if not directory.is_dir():
            raise NotFoundError(f"no such project directory: {uri}")
        return ProjectSource(directory=directory, name=str(directory))
    location, _, subdirectory = uri.partition("#") if remote or "#" in uri else (uri, "", "")
    if not remote:
        repository = Path(location).expanduser().resolve()
        if not (repository / ".git").exists() and not (repository / "HEAD").is_file():
            raise InvalidInputError(f"--version needs a git repository, but {location} is not one")
        location = str(repository)
    checkout, lineage = _checkout(location, version)
    directory = _subdirectory(checkout, subdirectory)
    shown = uri if remote else location + (f"#{subdirectory}" if subdirectory else "")
    return ProjectSource(
        directory=directory, name=strip_credentials(shown), lineage=lineage, remote=True
    )


def _checkout(url: str, version: str | None) -> tuple[Path, GitLineage]:
    mirror = _update_mirror(url)
    ref = version or "HEAD"
    commit = _git(mirror, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}", check=False)
    if not commit.strip():
        raise NotFoundError(
            f"version {ref!r} is not a branch, tag or commit of {strip_credentials(url)}"
        )
    commit = commit.strip()
    branch = _branch(mirror, version)
    target = cache_root() / "checkouts" / commit
    if not target.is_dir():
        with publishing(target) as staging:
            _git(staging.parent, "clone", "--quiet", "--no-checkout", str(mirror), str(staging))
            _git(staging, "checkout", "--quiet", "--detach", commit)
            _git(staging, "remote", "set-url", "origin", strip_credentials(url))
    lineage = GitLineage(
        root=target, commit=commit, branch=branch, repo_url=strip_credentials(url), dirty=False
    )
    return target, lineage


def _update_mirror(url: str) -> Path:
    """The bare mirror of ``url``, cloned or fetched (one process at a time)."""
    mirror = cache_root() / "git" / digest([url], 24)
    locks = mirror.parent / ".locks"
    locks.mkdir(parents=True, exist_ok=True)
    with FileLock(locks / f"{mirror.name}.lock"):
        if mirror.is_dir():
            refspec = "+refs/heads/*:refs/heads/*"
            _git(mirror, "fetch", "--quiet", "--prune", "--force", "--tags", "origin", refspec)
            return mirror
        with publishing(mirror) as staging:
            _git(staging.parent, "clone", "--quiet", "--bare", url, str(staging))
    return mirror


def _branch(mirror: Path, version: str | None) -> str | None:
    if version is None:
        head = _git(mirror, "symbolic-ref", "--quiet", "--short", "HEAD", check=False).strip()
        return head or None
    exists = subprocess.run(
        ["git", "-C", str(mirror), "show-ref", "--verify", "--quiet", f"refs/heads/{version}"],
        env=_env(),
    )
    return version if exists.returncode == 0 else None


def _subdirectory(checkout: Path, subdirectory: str) -> Path:
    if not subdirectory:
        return checkout
    directory = (checkout / subdirectory).resolve()
    if checkout.resolve() not in directory.parents:
        raise InvalidInputError(f"the subdirectory {subdirectory!r} leaves the repository")
    if not directory.is_dir():
        raise NotFoundError(f"the repository has no directory {subdirectory!r}")
    return directory


def _git(directory: Path, *args: str, check: bool = True) -> str:
    try:
        result = subprocess.run(
            ["git", "-C", str(directory), *args],
            capture_output=True,
            text=True,
            env=_env(),
            errors="replace",
        )
    except FileNotFoundError:
        raise EnvironmentFailure("git is not installed; it is needed to run git projects") from None
    if check and result.returncode != 0:
        lines = [line for line in result.stderr.strip().splitlines() if line.strip()]
        reason = lines[-1] if lines else f"exit code {result.returncode}"
        raise EnvironmentFailure(f"git {args[0]} failed: {redact_credentials(reason)}")
    return result.stdout


def _env() -> dict[str, str]:
    return {**os.environ, "GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C"}
