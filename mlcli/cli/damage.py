"""Saying which runs a listing left out because their files are damaged: a run never
vanishes from ``runs list`` or ``compare`` without a word (the exit code stays that
of the listing; ``mlcli fsck`` reports every damaged file)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mlcli.cli.output import Output

if TYPE_CHECKING:
    from mlcli.store import Store

SHOWN = 20


def warn_damaged_runs(out: Output, store: Store) -> None:
    """One warning on stderr per run (or experiment, with its runs) the store's index
    left out (after a listing)."""
    for experiment_id, problem in store.index.damaged_experiments().items():
        path = store.layout.experiment_doc(experiment_id)
        out.warn(
            f"experiment {experiment_id} and its runs left out, damaged: {path}: {problem}; "
            "see 'mlcli fsck'"
        )
    damaged = store.index.damaged_runs()
    for run_id, problem in list(damaged.items())[:SHOWN]:
        path = store.layout.run_doc(run_id)
        out.warn(f"run {run_id} left out, damaged: {path}: {problem}; see 'mlcli fsck'")
    if len(damaged) > SHOWN:
        out.warn(f"{len(damaged) - SHOWN} more damaged run(s) left out; see 'mlcli fsck'")
