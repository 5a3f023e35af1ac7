"""The output of a sweep's array tasks, copied to the terminal as it grows.

Each task writes ``trial-<task>.out`` and ``trial-<task>.err`` in the sweep's output
folder (on the shared filesystem); the follower reads what each file gained since
its last poll and copies whole lines, prefixed with the trial's number (``[3] loss:
0.2``), as a local sweep does. A line still being written waits for its end, or for
the sweep's."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import IO

from mlcli.sweeps.process import OutputRelay

_STREAMS = ("out", "err")
_READ_AT_MOST = 1 << 20  # per file and poll: a chatty trial cannot stall the follower


class TrialOutputTail:
    """Follows the output files of the tasks ``numbers`` maps to trial numbers."""

    def __init__(self, folder: Path, numbers: Mapping[int, int], echo: IO[bytes] | None):
        self.folder = folder
        self.numbers = dict(numbers)
        self.relay = OutputRelay(echo)
        self.enabled = echo is not None
        self.offsets: dict[Path, int] = {}
        self.partial: dict[Path, bytes] = {}

    def poll(self) -> None:
        """Copy the whole lines every task's files gained."""
        if not self.enabled:
            return
        for task, number in self.numbers.items():
            for stream in _STREAMS:
                self._read(self.folder / f"trial-{task}.{stream}", number)

    def close(self) -> None:
        """Copy what is left, unfinished lines too."""
        self.poll()
        for path, rest in self.partial.items():
            if rest:
                self.relay.write_line(self._number(path), rest)
        self.partial.clear()

    def _read(self, path: Path, number: int) -> None:
        offset = self.offsets.get(path, 0)
        try:
            with path.open("rb") as handle:
                handle.seek(offset)
                data = handle.read(_READ_AT_MOST)
        except OSError:
            return  # not written yet (a pending task), or not visible here yet
        if not data:
            return
        self.offsets[path] = offset + len(data)
        *lines, rest = (self.partial.get(path, b"") + data).split(b"\n")
        self.partial[path] = rest
        for line in lines:
            self.relay.write_line(number, line)

    def _number(self, path: Path) -> int:
        task = path.name.split("-", 1)[1].split(".", 1)[0]
        return self.numbers.get(int(task), 0)
