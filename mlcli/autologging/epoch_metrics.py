"""Metrics a training reports each epoch, written a batch at a time: once a second has
passed since the last write, and when the training ends (``flush``)."""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

from mlcli.autologging.safety import safely

FLUSH_SECONDS = 1.0


class EpochMetrics:
    def __init__(self, client: Any, run_id: str) -> None:
        self.client = client
        self.run_id = run_id
        self.pending: list[tuple[str, float, int]] = []
        self.flushed_at = time.monotonic()

    def add(self, values: Iterable[tuple[str, Any]], step: int, prefix: str = "") -> None:
        """The values that are numbers (a tensor of one value too), under ``prefix``."""
        for key, value in values:
            try:
                self.pending.append((prefix + key, float(value), step))
            except (TypeError, ValueError, RuntimeError):
                continue
        if time.monotonic() - self.flushed_at >= FLUSH_SECONDS:
            safely("the metrics", self.flush)

    def flush(self) -> None:
        pending, self.pending = self.pending, []
        self.flushed_at = time.monotonic()
        if pending:
            self.client.log_batch(self.run_id, metrics=pending)
