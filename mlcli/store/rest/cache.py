"""The local cache of a team server's client: downloaded artifacts and registered
models under ``$XDG_CACHE_HOME/mlcli/servers/<hash of the URL>/``, never state, and
private to its Unix user (what is cached there is loaded as the server's)."""

from __future__ import annotations

import contextlib
import hashlib
import os
from pathlib import Path

from mlcli.errors import StoreError


def cache_root(url: str) -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    digest = hashlib.sha256(url.encode()).hexdigest()[:16]
    return Path(base).expanduser() / "mlcli" / "servers" / digest


def private_cache(folder: Path) -> None:
    """Make ``folder`` (mode 0700) or check the one there: a real folder of this Unix
    user that no one else may write, since what is cached there is loaded as the
    server's (models are unpickled). Another user's, or one shared through a common
    XDG_CACHE_HOME, is a one-line StoreError; so is a cache that cannot be made."""
    import stat

    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileExistsError):
            folder.mkdir(mode=0o700)
        found = os.lstat(folder)
    except OSError as error:
        raise StoreError(
            f"cannot use the cache folder {folder}: {error.strerror or error}; "
            "set XDG_CACHE_HOME to a folder of your own"
        ) from None
    if not stat.S_ISDIR(found.st_mode):
        problem = "it is not a folder (a symbolic link?)"
    elif found.st_uid != os.geteuid():
        problem = f"it belongs to another user (uid {found.st_uid})"
    elif found.st_mode & 0o022:
        problem = "others may write in it"
    else:
        return
    raise StoreError(
        f"cannot use the cache folder {folder}: {problem}; set XDG_CACHE_HOME to a "
        "folder of your own"
    )
