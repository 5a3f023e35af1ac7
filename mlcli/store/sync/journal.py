"""The remote's journal: one small immutable object per push, naming what it changed,
keyed by time so that a reader lists only what is new since its cursor.

Writers' clocks differ, so a reader starts its listing ``CLOCK_SKEW_MS`` before its
cursor and skips the keys it has already read (kept with the cursor): an entry from
a writer whose clock is up to that much behind is still seen.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, field

from mlcli.clock import now_ms
from mlcli.store.sync import keys
from mlcli.store.sync.context import SyncContext

CLOCK_SKEW_MS = 10 * 60 * 1000
ENTRY_LIMIT = 1000  # names per journal object
_sequence = itertools.count()


@dataclass
class Changes:
    runs: set[str] = field(default_factory=set)
    experiments: set[str] = field(default_factory=set)  # names
    models: set[str] = field(default_factory=set)  # names

    def __bool__(self) -> bool:
        return bool(self.runs or self.experiments or self.models)


def record(ctx: SyncContext, changes: Changes) -> None:
    """Journal what a push changed (after its manifests, before its state is saved)."""
    runs = sorted(changes.runs)
    chunks = [runs[i : i + ENTRY_LIMIT] for i in range(0, len(runs), ENTRY_LIMIT)] or [[]]
    for number, chunk in enumerate(chunks):
        entry = {
            "runs": chunk,
            "experiments": sorted(changes.experiments) if number == 0 else [],
            "models": sorted(changes.models) if number == 0 else [],
        }
        if not any(entry.values()):
            continue
        key = keys.journal_key(now_ms(), ctx.writer, next(_sequence))
        data = json.dumps(entry, sort_keys=True).encode()
        ctx.objects.put(key, data)
        ctx.report.moved(len(data))


def _start_key(cursor_ms: int) -> str:
    return keys.journal_key(max(cursor_ms - CLOCK_SKEW_MS, 0), "", 0)[: len(keys.JOURNAL) + 13]


def recent_keys(ctx: SyncContext, now: int) -> list[str]:
    """The keys of the entries within the clock skew of ``now`` (not their content)."""
    return [info.key for info in ctx.objects.list(keys.JOURNAL, start_after=_start_key(now))]


def read_since(ctx: SyncContext, cursor_ms: int, seen: set[str]) -> tuple[Changes, list[str]]:
    """What the journal names from ``cursor_ms`` (less the clock skew) on, leaving out
    the entries in ``seen``; and the keys read."""
    changes = Changes()
    read: list[str] = []
    for info in ctx.objects.list(keys.JOURNAL, start_after=_start_key(cursor_ms)):
        if info.key in seen:
            continue
        found = ctx.objects.get_if_present(info.key)
        read.append(info.key)
        if found is None:
            continue
        try:
            entry = json.loads(found[0])
        except ValueError:
            ctx.report.notice(f"skipped a damaged journal entry on the remote: {info.key}")
            continue
        changes.runs.update(str(r) for r in entry.get("runs") or [])
        changes.experiments.update(str(e) for e in entry.get("experiments") or [])
        changes.models.update(str(m) for m in entry.get("models") or [])
    return changes, read
