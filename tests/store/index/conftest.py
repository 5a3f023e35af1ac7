"""What a test of the index saw the code open and list, through Python's audit events
(``open``, ``os.listdir``, ``os.scandir``), which every file opened from Python
raises."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

_events: list[tuple[str, str]] | None = None  # recording when not None


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if _events is not None and event in ("open", "os.listdir", "os.scandir") and args:
        path = args[0]
        if isinstance(path, (str, bytes, os.PathLike)):
            _events.append((event, os.fsdecode(path)))


sys.addaudithook(_audit)  # hooks cannot be removed: this one records only when asked


class Reads:
    """What the code under ``recording`` opened and listed, within one store."""

    def __init__(self, root: Path) -> None:
        self.runs_dir = str(root / "runs")
        self.events: list[tuple[str, str]] = []

    def listings_of_runs_dir(self) -> int:
        return sum(
            1
            for event, path in self.events
            if event != "open" and os.path.normpath(path) == self.runs_dir
        )

    def run_files_opened(self) -> dict[str, set[str]]:
        """Run id -> names of the files opened in its folder."""
        opened: dict[str, set[str]] = {}
        prefix = self.runs_dir + os.sep
        for event, path in self.events:
            if event == "open" and path.startswith(prefix):
                run_id, _, name = path[len(prefix) :].partition(os.sep)
                opened.setdefault(run_id, set()).add(name)
        return opened


@pytest.fixture
def recording(store_root: Path) -> Any:
    """``with recording() as reads:`` records what the block opens and lists in the
    store at ``store_root`` (or ``recording(root)``: in that one)."""

    @contextlib.contextmanager
    def record(root: Path | None = None) -> Iterator[Reads]:
        global _events
        reads = Reads(root or store_root)
        _events = reads.events
        try:
            yield reads
        finally:
            _events = None

    return record
