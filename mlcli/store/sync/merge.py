"""Three-way merges of the documents two stores both changed, and the rule each field
follows (docs/remotes.md, "When both sides changed the same thing").

A field changed on one side only takes that side's value. A field both sides changed
to different values is a conflict, settled per field:

- a run's ``status`` and ``end_time`` (together): a finished status beats a live one;
  of two finished ones, the later end wins;
- a tag or a param-like map entry: the side that writes now wins (a push: ours; a
  pull: theirs), and the conflict is reported, never silent;
- anything else: the same as a tag.

Nothing is lost: the losing value is named in the report the command prints.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mlcli.store.entities import RunStatus

_MISSING = object()
_STATUS_FIELDS = ("status", "end_time")


@dataclass(frozen=True)
class Conflict:
    what: str  # e.g. "run 3f2a91c0 status", "experiment 'nlp' tag team"
    kept: Any
    dropped: Any

    def describe(self) -> str:
        return f"{self.what}: both sides changed it; kept {self.kept!r}, not {self.dropped!r}"

    def to_dict(self) -> dict[str, Any]:
        return {"what": self.what, "kept": self.kept, "dropped": self.dropped}

    @classmethod
    def from_dict(cls, entry: dict[str, Any]) -> Conflict:
        return cls(str(entry.get("what", "")), entry.get("kept"), entry.get("dropped"))


def merge_fields(
    base: dict[str, Any] | None,
    ours: dict[str, Any],
    theirs: dict[str, Any],
    what: str,
    ours_wins: bool,
    skip: tuple[str, ...] = (),
) -> tuple[dict[str, Any], list[Conflict]]:
    """Merge two versions of a flat document against their common ``base``."""
    merged: dict[str, Any] = {}
    conflicts: list[Conflict] = []
    for key in sorted({*ours, *theirs} - set(skip)):
        mine, other = ours.get(key, _MISSING), theirs.get(key, _MISSING)
        was = _MISSING if base is None else base.get(key, _MISSING)
        if mine == other or other == was:
            value = mine
        elif mine == was:
            value = other
        else:
            value, lost = (mine, other) if ours_wins else (other, mine)
            conflicts.append(Conflict(f"{what} {key}", _shown(value), _shown(lost)))
        if value is not _MISSING:
            merged[key] = value
    return merged, conflicts


def merge_document(
    base: dict[str, Any] | None,
    ours: dict[str, Any],
    theirs: dict[str, Any],
    what: str,
    ours_wins: bool,
) -> tuple[dict[str, Any], list[Conflict]]:
    """Merge an experiment's or a model's document: fields as :func:`merge_fields`,
    ``tags`` key by key, and ``creation_time`` the earlier (the first to make it; two
    stores that each made "Default" made one experiment, not a conflict)."""
    skip = ("tags", "creation_time")
    merged, conflicts = merge_fields(base, ours, theirs, what, ours_wins, skip=skip)
    created = [t for t in (ours.get("creation_time"), theirs.get("creation_time")) if t]
    merged["creation_time"] = min(created) if created else None
    return merged, conflicts + _merge_tags(merged, base, ours, theirs, what, ours_wins)


def merge_run(
    base: dict[str, Any] | None, ours: dict[str, Any], theirs: dict[str, Any], ours_wins: bool
) -> tuple[dict[str, Any], list[Conflict]]:
    """Merge two versions of a run document (as kept on the remote)."""
    what = f"run {str(ours.get('run_id', ''))[:8]}"
    skip = (*_STATUS_FIELDS, "tags")
    merged, conflicts = merge_fields(base, ours, theirs, what, ours_wins, skip=skip)
    conflicts += _merge_tags(merged, base, ours, theirs, what, ours_wins)
    status = _merge_status(base, ours, theirs)
    merged.update(status)
    return merged, conflicts


def _merge_tags(
    merged: dict[str, Any],
    base: dict[str, Any] | None,
    ours: dict[str, Any],
    theirs: dict[str, Any],
    what: str,
    ours_wins: bool,
) -> list[Conflict]:
    """Merge the ``tags`` of two documents key by key into ``merged``."""
    if "tags" not in ours and "tags" not in theirs:
        return []
    tags, conflicts = merge_fields(
        None if base is None else base.get("tags") or {},
        ours.get("tags") or {},
        theirs.get("tags") or {},
        f"{what} tag",
        ours_wins,
    )
    merged["tags"] = tags
    return conflicts


def _merge_status(
    base: dict[str, Any] | None, ours: dict[str, Any], theirs: dict[str, Any]
) -> dict[str, Any]:
    mine = {k: ours.get(k) for k in _STATUS_FIELDS}
    other = {k: theirs.get(k) for k in _STATUS_FIELDS}
    was = None if base is None else {k: base.get(k) for k in _STATUS_FIELDS}
    if mine == other or other == was:
        return mine
    if mine == was:
        return other
    mine_done = mine["status"] in RunStatus.TERMINAL
    other_done = other["status"] in RunStatus.TERMINAL
    if mine_done != other_done:
        return mine if mine_done else other
    return mine if (mine["end_time"] or 0) >= (other["end_time"] or 0) else other


def _shown(value: Any) -> Any:
    return None if value is _MISSING else value
