"""The packages of the running Python, as ``pip freeze --all`` lists them, printed as
one JSON line. Run as a script by an environment's own ``python`` (any Python 3.7+,
the standard library only: it must not import mlcli), or imported by mlcli.

Each ``*.dist-info``/``*.egg-info`` on ``sys.path`` gives a name and version from
its metadata headers (the first found wins, as for imports); ``direct_url.json`` makes
it a direct reference (``name @ url``) or an editable install. An editable install
whose source is a git checkout with a remote is written as pip writes it,
``-e git+<remote>@<commit>#egg=<name>``, so the listing pins the code as well as the
packages; any other is ``-e <location>``.
"""

from __future__ import annotations

import json
import os
import platform
import re
import subprocess
import sys
from typing import Any


def _headers(path: str) -> dict[str, str]:
    found: dict[str, str] = {}
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            for line in handle:
                if not line.strip():
                    break
                key, sep, value = line.partition(":")
                if sep and key in ("Name", "Version") and key not in found:
                    found[key] = value.strip()
    except OSError:
        pass
    return found


#: ``git@host:path``, git's shorthand for ``ssh://git@host/path``.
_SCP_REMOTE = re.compile(r"^(\w+@)?([^/:]+):(\w[^:]*)$")


def _git(location: str, *args: str) -> str | None:
    try:
        done = subprocess.run(
            ["git", *args],
            cwd=location,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            timeout=30,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout if done.returncode == 0 else None


def _remote_url(url: str) -> str | None:
    """A git remote as a URL pip accepts, or None when it is neither a URL, an
    existing local repository nor scp shorthand."""
    if re.match(r"\w+://", url):
        return url
    if os.path.exists(url):
        return "file://" + os.path.abspath(url)
    scp = _SCP_REMOTE.match(url)
    if scp:
        return "ssh://{}{}/{}".format(scp.group(1) or "", scp.group(2), scp.group(3))
    return None


def _git_requirement(location: str, name: str) -> str | None:
    """``git+<remote>@<commit>#egg=<name>`` for an editable source in a git checkout
    with a remote (``origin`` first), as ``pip freeze`` writes it; None otherwise."""
    top = _git(location, "rev-parse", "--show-toplevel", "HEAD")
    lines = top.splitlines() if top else []  # a path may hold spaces: one per line
    if len(lines) != 2:
        return None  # not a git checkout (or no commit yet): no need to ask more
    remotes = _git(location, "config", "--get-regexp", r"remote\..*\.url")
    if not remotes:
        return None
    root, commit = lines
    found = remotes.splitlines()
    chosen = next((r for r in found if r.startswith("remote.origin.url ")), found[0])
    url = _remote_url(chosen.partition(" ")[2].strip())
    if url is None:
        return None
    if not url.lower().startswith("git:"):
        url = "git+" + url
    requirement = "{}@{}#egg={}".format(url, commit, name.replace("-", "_"))
    # git prints the top level with symlinks resolved; the location may have some.
    root, project = os.path.realpath(root), os.path.realpath(location)
    if os.path.normcase(root) != os.path.normcase(project):
        requirement += "&subdirectory=" + os.path.relpath(project, root)
    return requirement


def _reference(folder: str, name: str) -> str | None:
    try:
        with open(os.path.join(folder, "direct_url.json"), encoding="utf-8") as handle:
            direct = json.load(handle)
    except (OSError, ValueError):
        return None
    url = direct.get("url")
    if not url:
        return None
    vcs = direct.get("vcs_info")
    if vcs:
        url = "{}+{}@{}".format(vcs.get("vcs", "git"), url, vcs.get("commit_id", ""))
    if (direct.get("dir_info") or {}).get("editable"):
        if url.startswith("file://") and not vcs:
            location = os.path.normcase(os.path.abspath(url[7:]))
            return "-e " + (_git_requirement(location, name) or location)
        return "-e " + url
    return f"{name} @ {url}"


def packages(paths: list[str]) -> list[list[Any]]:
    """``[name, version, reference or None]`` per distribution, by normalised name."""
    found: dict[str, list[Any]] = {}
    for entry in paths:
        # "" is the working directory: the project's source, not the environment.
        if not entry or not os.path.isdir(entry):
            continue
        try:
            names = sorted(os.listdir(entry))
        except OSError:
            continue
        for item in names:
            folder = os.path.join(entry, item)
            if item.endswith(".dist-info"):
                meta = os.path.join(folder, "METADATA")
            elif item.endswith(".egg-info"):
                meta = os.path.join(folder, "PKG-INFO") if os.path.isdir(folder) else folder
            else:
                continue
            info = _headers(meta)
            if "Name" not in info or "Version" not in info:
                continue
            key = re.sub(r"[-_.]+", "-", info["Name"]).lower()
            if key not in found:
                reference = _reference(folder, info["Name"]) if os.path.isdir(folder) else None
                found[key] = [info["Name"], info["Version"], reference]
    return [found[key] for key in sorted(found)]


def describe() -> dict[str, Any]:
    return {
        "python": platform.python_version(),
        "executable": sys.executable,
        "packages": packages(sys.path),
    }


if __name__ == "__main__":
    sys.stdout.write(json.dumps(describe()) + "\n")
