"""Logging an entry point's output scalars while it runs.

``ScalarStream.feed`` receives stdout chunk by chunk (from the thread that copies the
output to the terminal and the log file), cuts it into lines, and hands each point to
the process's metric buffer, which writes them in batches at least once a second.
"""

from __future__ import annotations

import logging
import re

from mlcli.capture.scalars import MAX_LINE, ScalarParser, ScalarPatterns
from mlcli.clock import now_ms
from mlcli.store import RunRecords
from mlcli.tracking.metric_buffer import MetricBuffer, metric_buffer

_LINE_END = re.compile(rb"\r\n|\r|\n")
_log = logging.getLogger("mlcli")


class ScalarStream:
    def __init__(
        self,
        runs: RunRecords,
        run_id: str,
        patterns: ScalarPatterns,
        buffer: MetricBuffer | None = None,
    ) -> None:
        self.runs = runs
        self.run_id = run_id
        self.parser = ScalarParser(patterns)
        self.buffer = buffer or metric_buffer()
        self.logged = 0
        self._tail = b""
        self._broken = False

    def feed(self, data: bytes) -> None:
        """Take a chunk of stdout. Never raises: the output must keep flowing even if
        a point cannot be logged."""
        if self._broken or not data:
            return
        try:
            parts = _LINE_END.split(self._tail + data)
            self._tail = parts.pop()
            if len(self._tail) > MAX_LINE:
                self._tail = b""  # a line too long to be a scalar: skip the rest of it
                self.parser.line_number += 1
            for line in parts:
                self._line(line)
        except Exception as exc:  # a bug here must not stop the output
            self._broken = True
            _log.warning("mlcli: output scalars stopped: %s", exc)

    def close(self) -> int:
        """Parse the last unterminated line and write every pending point; the number
        of points logged."""
        if self._tail and not self._broken:
            self._line(self._tail)
            self._tail = b""
        self.buffer.flush(self.run_id)
        return self.logged

    def _line(self, raw: bytes) -> None:
        scalars = self.parser.parse_line(raw.decode("utf-8", errors="replace"))
        if not scalars:
            return
        timestamp = now_ms()
        for scalar in scalars:
            self.buffer.add(
                self.runs, self.run_id, scalar.key, scalar.value, scalar.step, timestamp
            )
        self.logged += len(scalars)
