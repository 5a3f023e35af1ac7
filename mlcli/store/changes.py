"""The change journal: which runs changed after they stopped being live.

The index re-reads live (RUNNING, SCHEDULED) runs on every refresh, and finished
runs never, so that a query over many finished runs costs one directory listing.
A write that touches a run that is no longer live (a tag on a finished run, a
delete, a restore, a late metric) therefore appends the run id here, and readers
re-read exactly the runs named after the offset their index has consumed.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from mlcli.store.fileio import append_bytes, read_log


class ChangeJournal:
    def __init__(self, path: Path) -> None:
        self.path = path

    def note(self, run_id: str) -> None:
        append_bytes(self.path, json.dumps({"run_id": run_id}).encode() + b"\n")

    def read(self, offset: int) -> tuple[set[str], int]:
        records, end = read_log(self.path, offset)
        return {r["run_id"] for r in records if isinstance(r.get("run_id"), str)}, end

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
