"""The change journal: which run folders came or went, and which runs changed after
they stopped being live.

The index re-reads live (RUNNING, SCHEDULED) runs on every refresh, and finished
runs never, so that a query over many finished runs reads none of them. A write
that touches a run that is no longer live (a tag on a finished run, a delete, a
restore, a late metric) therefore appends the run id here, and readers re-read
exactly the runs named after the offset their index has consumed. A run created
or purged is named too, after its folder came or went: a reader that can account
for every folder that came or went by the runs named here does not list ``runs/``
(see ``index/refresh.py``).

The index also keeps finished runs' *summaries* here (``index/summaries.py``): lines
that begin ``{"summary":``, which name no change, and which readers of changes skip
without parsing them.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from mlcli.files.fileio import append_bytes, parse_lines, read_log_chunks

SUMMARY_PREFIX = b'{"summary":'


class ChangeJournal:
    def __init__(self, path: Path) -> None:
        self.path = path

    def note(self, run_id: str) -> None:
        append_bytes(self.path, json.dumps({"run_id": run_id}).encode() + b"\n")

    def read(self, offset: int) -> tuple[set[str], int]:
        """The run ids named from ``offset`` on, and the offset to resume at (the
        journal is read a chunk at a time: on a new host it is read whole)."""
        touched: set[str] = set()
        end = offset
        for data, chunk_end in read_log_chunks(self.path, offset):
            if SUMMARY_PREFIX in data:
                data = b"".join(
                    line
                    for line in data.splitlines(keepends=True)
                    if not line.startswith(SUMMARY_PREFIX)
                )
            touched.update(
                r["run_id"] for r in parse_lines(data) if isinstance(r.get("run_id"), str)
            )
            end = chunk_end
        return touched, end

    def append(self, lines: bytes) -> None:
        """Append complete lines (summaries, several notes) in one write."""
        if lines:
            append_bytes(self.path, lines)

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
