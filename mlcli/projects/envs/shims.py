"""Launchers that make this mlcli, and the Python running it, reachable from an
entry point's environment.

- ``python/``: ``python`` and ``python3`` scripts that exec the interpreter running
  mlcli: in the ``local`` environment ``python train.py`` means this interpreter,
  whatever else is on PATH.
- ``bin/``: an ``mlcli`` script that runs this mlcli, so ``mlcli log ...`` inside any
  environment writes with the same code that created the run.
- ``lib/``: a folder holding only a link to this mlcli package, put on PYTHONPATH in
  environments that lack mlcli, so ``import mlcli`` works there (the tracking API
  needs nothing beyond the standard library) without exposing anything else.

They live in the cache, one set per interpreter and package location, created once.
"""

from __future__ import annotations

import os
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path

from mlcli.projects.cache import cache_root, digest, publishing


@dataclass(frozen=True)
class Shims:
    python_dir: Path
    bin_dir: Path
    lib_dir: Path


def mlcli_package_dir() -> Path:
    import mlcli

    return Path(mlcli.__file__).resolve().parent


def host_shims() -> Shims:
    package = mlcli_package_dir()
    root = cache_root() / "shims" / digest([sys.executable, str(package)], 16)
    shims = Shims(root / "python", root / "bin", root / "lib")
    if not root.is_dir():
        with publishing(root) as staging:
            _write_shims(staging, package)
    return shims


def _write_shims(root: Path, package: Path) -> None:
    interpreter = shlex.quote(sys.executable)
    for directory in ("python", "bin", "lib"):
        (root / directory).mkdir()
    for name in ("python", "python3"):
        _script(root / "python" / name, f'exec {interpreter} "$@"')
    _script(root / "bin" / "mlcli", f'exec {interpreter} -m mlcli "$@"')
    os.symlink(package, root / "lib" / "mlcli", target_is_directory=True)


def _script(path: Path, line: str) -> None:
    path.write_text(f"#!/bin/sh\n{line}\n")
    path.chmod(0o755)


def prepend_path(*directories: Path) -> str:
    """PATH with ``directories`` in front."""
    current = os.environ.get("PATH", os.defpath)
    return os.pathsep.join([*(str(d) for d in directories), current])


def has_own_mlcli(prefix: Path) -> bool:
    """Whether the environment at ``prefix`` has mlcli installed itself."""
    return any(prefix.glob("lib/python*/site-packages/mlcli"))


def pythonpath_with_mlcli(shims: Shims) -> str:
    """PYTHONPATH with the folder holding only this mlcli in front."""
    existing = os.environ.get("PYTHONPATH")
    return os.pathsep.join([str(shims.lib_dir), *([existing] if existing else [])])
