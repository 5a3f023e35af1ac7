"""Where projects keep what they build once and reuse: git checkouts, environments.

``MLCLI_CACHE_DIR`` moves the whole cache (default ``$XDG_CACHE_HOME/mlcli``, else
``~/.cache/mlcli``); ``MLCLI_ENV_ROOT`` moves only the environments. Everything is
published the same way: built in a temporary directory beside its final place and
renamed into it, so that a failed or interrupted build leaves nothing half made and
two processes building the same thing at once both end up using one complete copy.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
from collections.abc import Iterable, Iterator
from pathlib import Path

from mlcli.files.fileio import create_temp_dir


def cache_root() -> Path:
    override = os.environ.get("MLCLI_CACHE_DIR")
    if override:
        return Path(override).expanduser().resolve()
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base).resolve() / "mlcli"


def env_root() -> Path:
    override = os.environ.get("MLCLI_ENV_ROOT")
    return Path(override).expanduser().resolve() if override else cache_root() / "envs"


def digest(parts: Iterable[str | bytes], length: int = 20) -> str:
    """A short, stable hex digest of ``parts`` (each one delimited, so that
    ``("ab", "c")`` and ``("a", "bc")`` differ)."""
    hasher = hashlib.sha256()
    for part in parts:
        data = part.encode() if isinstance(part, str) else part
        hasher.update(len(data).to_bytes(8, "big"))
        hasher.update(data)
    return hasher.hexdigest()[:length]


@contextlib.contextmanager
def publishing(final: Path) -> Iterator[Path]:
    """Yield a fresh temporary directory; when the block succeeds it becomes ``final``.

    If another process published ``final`` first, its copy is kept and ours removed.
    On any error (or interruption) the temporary directory is removed."""
    final.parent.mkdir(parents=True, exist_ok=True)
    staging = create_temp_dir(final)  # readable as the umask allows, unlike mkdtemp's
    try:
        yield staging
        try:
            os.rename(staging, final)
        except OSError:
            if not final.is_dir():
                raise
            shutil.rmtree(staging, ignore_errors=True)  # lost a race: use the winner's
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
