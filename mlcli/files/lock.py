"""An exclusive inter-process lock held on a lock file with ``flock``.

Used only where the store must serialise a read-modify-write: the experiment name
table, one run's ``run.json`` and params, one registered model. Appends and run
creation never take a lock.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from types import TracebackType

from mlcli.errors import NotFoundError


class FileLock:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def __enter__(self) -> FileLock:
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
        except FileNotFoundError:  # its folder is gone (a run purged meanwhile, say)
            raise NotFoundError(f"{self.path.parent} no longer exists") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None
