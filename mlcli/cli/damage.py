"""Saying which runs a listing left out because their files are damaged: a run never
vanishes from ``runs list`` or ``compare`` without a word (the exit code stays that
of the listing; ``mlcli fsck`` reports every damaged file)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mlcli.cli.output import Output

if TYPE_CHECKING:
    from mlcli.store import TrackingStore

SHOWN = 20


def warn_damaged_runs(out: Output, store: TrackingStore) -> None:
    """One warning on stderr per run (or experiment, with its runs) the store's index
    left out (after a listing)."""
    entries = store.left_out()
    for entry in (e for e in entries if e.kind == "experiment"):
        out.warn(
            f"experiment {entry.id} and its runs left out, damaged: {entry.path}: "
            f"{entry.problem}; see 'mlcli fsck'"
        )
    runs = [e for e in entries if e.kind == "run"]
    for entry in runs[:SHOWN]:
        out.warn(
            f"run {entry.id} left out, damaged: {entry.path}: {entry.problem}; see 'mlcli fsck'"
        )
    if len(runs) > SHOWN:
        out.warn(f"{len(runs) - SHOWN} more damaged run(s) left out; see 'mlcli fsck'")
