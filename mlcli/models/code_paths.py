"""A model's ``code/`` folder: MLflow's ``code_paths``.

Saving copies each file or folder named in ``code_paths=[...]`` into ``<model>/code/``
(a folder keeps its name, ``__pycache__`` left out), as MLflow lays it out, and the
flavor sections of ``MLmodel`` say ``code: code``. Loading puts that folder first on
``sys.path``, so that the model's pickle or code can import those modules; MLflow's
loaders do the same with a model mlcli wrote.

The modules run when imported, so the folder loads only as a pickle does
(:mod:`mlcli.models.trust`): when mlcli wrote every file in it (their digests are
recorded when the model is saved) or with the user's opt-in. The files are read once,
checked, and the checked bytes are what Python imports: they are written to a private
folder of this process, which goes on ``sys.path``, so a file changed (or a stale
``__pycache__`` planted) after the check is never imported.
"""

from __future__ import annotations

import atexit
import os
import shutil
import sys
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from mlcli.errors import InvalidInputError, NotFoundError
from mlcli.models.trust import ModelTrust, digest_of, read_model_file

CODE_DIR = "code"
_SKIPPED = "__pycache__"
_staged: dict[tuple[str, tuple[str, ...]], Path] = {}


def copy_code_paths(code_paths: Any, directory: Path) -> tuple[str | None, list[str]]:
    """Copy ``code_paths`` (a list of files and folders) into ``directory/code``; the
    folder's name inside the model (None without code paths) and the digests of the
    files written."""
    if code_paths is None:
        return None, []
    if isinstance(code_paths, str | os.PathLike) or not isinstance(code_paths, list | tuple):
        raise InvalidInputError(
            f"code_paths must be a list of files and folders, not {type(code_paths).__name__}"
        )
    target_root = directory / CODE_DIR
    target_root.mkdir(exist_ok=True)
    digests: list[str] = []
    for entry in code_paths:
        if not isinstance(entry, str | os.PathLike):
            raise InvalidInputError(
                f"code_paths must name files and folders, not {type(entry).__name__}"
            )
        source = Path(entry)
        if not source.exists():
            raise NotFoundError(f"code path {str(entry)!r}: no such file or directory")
        name = source.resolve().name
        target = target_root / name
        if target.exists():
            raise InvalidInputError(f"code_paths name two files or folders called {name!r}")
        if source.is_dir():
            shutil.copytree(source, target, ignore=shutil.ignore_patterns(_SKIPPED))
        else:
            shutil.copy2(source, target)
    for path in sorted(target_root.rglob("*")):
        if path.is_file() and not path.is_symlink():
            digests.append(digest_of(path.read_bytes()))
    return CODE_DIR, digests


def code_folder_of(directory: Path, confs: Iterable[dict[str, Any] | None]) -> Path | None:
    """The model's code folder, named by the first flavor section that has one."""
    for conf in confs:
        code = (conf or {}).get(CODE_DIR)
        if isinstance(code, str) and code:
            folder = directory / code
            if not _inside(folder, directory):
                raise InvalidInputError(f"{directory}/MLmodel names a code folder outside it")
            return folder if folder.is_dir() else None
    return None


def checked_code(folder: Path, trust: ModelTrust) -> dict[str, bytes]:
    """The files of a code folder by relative path, read once, when ``trust`` lets them
    run: every one recorded as written by mlcli, or the opt-in. UntrustedModelError
    (one line) otherwise."""
    files: dict[str, bytes] = {}
    trusted = True
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder)
        if _SKIPPED in relative.parts:
            continue
        if path.is_symlink():
            trusted = False
            continue
        if path.is_file():
            data = read_model_file(path)
            files[relative.as_posix()] = data
            trusted = trusted and trust.is_recorded(digest_of(data))
    if not trusted:
        trust.check_code_folder(folder)  # raises without the opt-in
    return files


def add_code_to_sys_path(folder: Path, trust: ModelTrust) -> Path:
    """Put the checked contents of a model's code folder first on ``sys.path`` (once per
    content in a process); returns the folder Python imports from."""
    files = checked_code(folder, trust)
    key = (str(folder.resolve()), tuple(sorted(digest_of(d) + p for p, d in files.items())))
    staged = _staged.get(key)
    if staged is None:
        staged = Path(tempfile.mkdtemp(prefix="mlcli-model-code-"))
        atexit.register(shutil.rmtree, staged, True)
        for relative, data in files.items():
            target = staged / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        _staged[key] = staged
    if str(staged) not in sys.path:
        sys.path.insert(0, str(staged))
    return staged


def _inside(path: Path, root: Path) -> bool:
    return os.path.normpath(path).startswith(os.path.normpath(root) + os.sep)
