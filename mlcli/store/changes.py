"""The change journal: which run folders came or went, and which runs changed after
they stopped being live.

The index re-reads live (RUNNING, SCHEDULED) runs on every refresh, and finished
runs never, so that a query over many finished runs reads none of them. A write
that touches a run that is no longer live (a tag on a finished run, a delete, a
restore, a late metric) therefore appends the run id here, and readers re-read
exactly the runs named after the offset their index has consumed. A run created
or purged is named too, after its folder came or went, with the stamps of ``runs/``
just before and just after: a reader that can account for every folder that came or
went by the runs named here does not list ``runs/`` (see ``index/refresh.py``).

The index also keeps finished runs' *summaries* here (``index/summaries.py``): lines
that begin ``{"summary":``, which name no change, and which readers of changes skip
without parsing them.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from mlcli.files.fileio import append_bytes, parse_lines, read_log_chunks

SUMMARY_PREFIX = b'{"summary":'


def folder_stamp(path: str | os.PathLike[str]) -> str:
    """A folder's modification and change times (ns), which every entry created,
    renamed or removed in it moves; "" when it cannot be read."""
    try:
        st = os.stat(path)
    except OSError:
        return ""
    return f"{st.st_mtime_ns}:{st.st_ctime_ns}"


class ChangeJournal:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._passed: int | None = None  # see ``pass_own_summaries``
        self._stopped = False

    def note(self, run_id: str, folder: tuple[str, str] | None = None) -> None:
        """Name a run that changed; ``folder``: when the change created or removed its
        folder, the stamps of ``runs/`` (``folder_stamp``) just before and just after."""
        record: dict[str, Any] = {"run_id": run_id}
        if folder is not None and all(folder):
            record["runs_dir"] = list(folder)
        append_bytes(self.path, json.dumps(record).encode() + b"\n")

    def read(self, offset: int) -> tuple[set[str], int]:
        """The run ids named from ``offset`` on, and the offset to resume at (the
        journal is read a chunk at a time: on a new host it is read whole)."""
        touched, _chain, end = self.read_changes(offset)
        return touched, end

    def read_changes(self, offset: int) -> tuple[set[str], list[tuple[str, str]], int]:
        """``read``, with the chain of stamps of ``runs/`` that the creates and purges
        named since ``offset`` recorded, in order (``folder_stamp``: before, after)."""
        touched: set[str] = set()
        chain: list[tuple[str, str]] = []
        end = offset
        for data, chunk_end in read_log_chunks(self.path, offset):
            if SUMMARY_PREFIX in data:
                data = b"".join(
                    line
                    for line in data.splitlines(keepends=True)
                    if not line.startswith(SUMMARY_PREFIX)
                )
            for record in parse_lines(data):
                if isinstance(record.get("run_id"), str):
                    touched.add(record["run_id"])
                    stamps = record.get("runs_dir")
                    if isinstance(stamps, list) and len(stamps) == 2:
                        chain.append((str(stamps[0]), str(stamps[1])))
            end = chunk_end
        return touched, chain, end

    def append(self, lines: bytes, *, summaries: bool = False) -> None:
        """Append complete lines (``summaries``, or several notes) in one write."""
        if not lines:
            return
        start = append_bytes(self.path, lines)
        if self._passed is not None and not self._stopped:
            # Summaries right where the last ones ended can be passed over; anything
            # else (a note, another writer's line first) must be read.
            if summaries and start == self._passed:
                self._passed = start + len(lines)
            else:
                self._stopped = True

    @contextlib.contextmanager
    def pass_own_summaries(self, offset: int) -> Iterator[Callable[[], int]]:
        """Within the block, follow this object's summary appends from ``offset``: the
        function given says how far a reader that consumed up to ``offset`` may skip,
        past the summaries appended here one after another with nothing between, but
        never past a note (the index's own writes need not be read back)."""
        self._passed, self._stopped = offset, False
        try:
            yield lambda: offset if self._passed is None else self._passed
        finally:
            self._passed = None

    def touch(self) -> None:
        """Create the journal, empty, if there is none."""
        with open(self.path, "ab"):
            pass

    def entries(self) -> Iterator[list[dict[str, Any]]]:
        """Every line of the journal as JSON objects, a chunk at a time, in order."""
        for data, _end in read_log_chunks(self.path, 0):
            yield parse_lines(data)

    def identity(self) -> str:
        """Changes when the file is replaced (rsync, restore from backup)."""
        try:
            stat = os.stat(self.path)
        except FileNotFoundError:
            return ""
        return f"{stat.st_dev}:{stat.st_ino}"

    def size(self) -> int:
        try:
            return os.stat(self.path).st_size
        except FileNotFoundError:
            return 0
