"""How the core tells a person what it is doing, without printing.

The CLI passes its ``Output`` (notices and progress bars on stderr, only on a
terminal); library callers get silence by default.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from typing import Protocol

ProgressCallback = Callable[[int, int], None]


class Feedback(Protocol):
    def info(self, text: str) -> None:
        """A one-line notice."""

    def progress(self, description: str) -> AbstractContextManager[ProgressCallback]:
        """A long step; the callback takes (done, total)."""


class SilentFeedback:
    def info(self, text: str) -> None:
        pass

    @contextlib.contextmanager
    def progress(self, description: str) -> Iterator[ProgressCallback]:
        yield lambda done, total: None
