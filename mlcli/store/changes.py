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

import json
import os
from collections.abc import Iterator
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
