"""Finding a Python interpreter of a requested version on this machine.

Looked for, in order: the interpreter running mlcli, pyenv's versions, uv's managed
Pythons, and ``python3.X`` on PATH. Nothing is downloaded or compiled (MLflow builds
missing versions with pyenv, minutes per version); a missing version is an error that
names the versions found.
"""

from __future__ import annotations

import glob
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from mlcli.errors import EnvironmentFailure

Version = tuple[int, ...]


@dataclass(frozen=True)
class Interpreter:
    path: Path
    version: Version

    @property
    def version_text(self) -> str:
        return ".".join(map(str, self.version))


def current_interpreter() -> Interpreter:
    return Interpreter(Path(sys.executable), tuple(sys.version_info[:3]))


def parse_version(text: str) -> Version:
    return tuple(int(part) for part in text.split("."))


def matches(version: Version, wanted: Version) -> bool:
    return version[: len(wanted)] == wanted


def find_interpreter(requested: str | None) -> Interpreter:
    """The interpreter for ``requested`` ("3", "3.11" or "3.11.7"; None: this one).
    Prefers the running interpreter, then the newest match."""
    current = current_interpreter()
    if requested is None:
        return current
    wanted = parse_version(requested)
    if matches(current.version, wanted):
        return current
    found = discover()
    candidates = [i for i in found if matches(i.version, wanted)]
    if candidates:
        return max(candidates, key=lambda i: i.version)
    versions = sorted({i.version for i in [current, *found]})
    listed = ", ".join(".".join(map(str, v)) for v in versions) or "none"
    raise EnvironmentFailure(
        f"Python {requested} was not found on this machine (found: {listed}); install it "
        f"(e.g. 'pyenv install {requested}' or 'uv python install {requested}') or change "
        "'python' in python_env.yaml"
    )


def discover() -> list[Interpreter]:
    """Every interpreter found in the usual places (each path once)."""
    found: dict[Path, Interpreter] = {}
    for path, version in _pyenv_versions():
        found.setdefault(path, Interpreter(path, version))
    for path in _uv_pythons() + _path_pythons():
        if path in found:
            continue
        asked = _ask_version(path)
        if asked is not None:
            found[path] = Interpreter(path, asked)
    return list(found.values())


def _pyenv_versions() -> list[tuple[Path, Version]]:
    root = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv") / "versions"
    result = []
    for entry in sorted(root.glob("*")):
        python = entry / "bin" / "python3"
        if re.fullmatch(r"\d+\.\d+\.\d+", entry.name) and python.exists():
            result.append((python, parse_version(entry.name)))
    return result


def _uv_pythons() -> list[Path]:
    base = os.environ.get("UV_PYTHON_INSTALL_DIR") or os.path.join(
        os.environ.get("XDG_DATA_HOME") or os.path.expanduser("~/.local/share"), "uv", "python"
    )
    return [Path(p) for p in sorted(glob.glob(os.path.join(base, "cpython-*", "bin", "python3")))]


def _path_pythons() -> list[Path]:
    found = []
    for directory in os.environ.get("PATH", "").split(os.pathsep):
        if not directory or "shims" in Path(directory).parts:  # pyenv's shims only redirect
            continue
        for path in sorted(glob.glob(os.path.join(directory, "python3.[0-9]*"))):
            if re.search(r"python3\.\d+$", path) and os.access(path, os.X_OK):
                found.append(Path(path))
    python3 = shutil.which("python3")
    if python3 and "shims" not in Path(python3).parts:
        found.append(Path(python3))
    return found


def _ask_version(path: Path) -> Version | None:
    try:
        result = subprocess.run(
            [str(path), "-c", "import sys; print('.'.join(map(str, sys.version_info[:3])))"],
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    text = result.stdout.strip()
    return parse_version(text) if result.returncode == 0 and re.fullmatch(r"[\d.]+", text) else None
