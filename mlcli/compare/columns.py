"""The columns of a comparison: the run's facts, then params, metrics and tags.

A column's key names it everywhere (JSON keys, CSV and Markdown headers, ``--columns``):
``run_id``, ``run_name``, ``status``, ``start_time``, ``duration_ms``, ``git_commit``,
and ``params.<key>``, ``metrics.<key>``, ``tags.<key>`` as in the filter language.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Literal

from mlcli.errors import InvalidInputError
from mlcli.store import Run

ColumnKind = Literal["info", "param", "metric", "tag"]

IDENTITY = ("run_id", "run_name")
INFO = ("status", "start_time", "duration_ms", "git_commit")
_INFO_ALIASES = {"duration": "duration_ms", "commit": "git_commit", "started": "start_time"}
_PREFIXES: dict[str, ColumnKind] = {
    "params.": "param",
    "param.": "param",
    "metrics.": "metric",
    "metric.": "metric",
    "tags.": "tag",
    "tag.": "tag",
}
_PLURAL = {"param": "params", "metric": "metrics", "tag": "tags"}


@dataclass(frozen=True)
class Column:
    kind: ColumnKind
    name: str  # the run attribute, or the param/metric/tag key

    @property
    def key(self) -> str:
        return self.name if self.kind == "info" else f"{_PLURAL[self.kind]}.{self.name}"


def choose_columns(runs: Sequence[Run], spec: Sequence[str] | None) -> list[Column]:
    """The identity columns, then the ``--columns`` spec (items separated by commas:
    column keys, bare param/metric names, or glob patterns of either) or, without a
    spec, every fact, param and metric. A name that is no glob must match something."""
    identity = [Column("info", name) for name in IDENTITY]
    available = _available(runs)
    if not spec:
        return (
            identity
            + [Column("info", n) for n in INFO]
            + [c for c in available if c.kind in ("param", "metric")]
        )
    chosen: list[Column] = []
    for item in _items(spec):
        matches = _match(item, available)
        if not matches and runs and not _is_glob(item):
            raise InvalidInputError(
                f"--columns: no selected run has {item!r} (columns are run facts "
                f"{', '.join(INFO)}, or params.KEY, metrics.KEY, tags.KEY)"
            )
        chosen += [c for c in matches if c not in chosen and c not in identity]
    return identity + chosen


def _items(spec: Sequence[str]) -> list[str]:
    return [item.strip() for text in spec for item in text.split(",") if item.strip()]


def _available(runs: Sequence[Run]) -> list[Column]:
    params = sorted({k for run in runs for k in run.data.params})
    metrics = sorted({k for run in runs for k in run.data.latest_metrics})
    tags = sorted({k for run in runs for k in run.data.tags})
    return (
        [Column("info", n) for n in (*IDENTITY, *INFO)]
        + [Column("param", k) for k in params]
        + [Column("metric", k) for k in metrics]
        + [Column("tag", k) for k in tags]
    )


def _match(item: str, available: list[Column]) -> list[Column]:
    for prefix, kind in _PREFIXES.items():
        if item.lower().startswith(prefix):
            pattern = item[len(prefix) :]
            return [c for c in available if c.kind == kind and fnmatchcase(c.name, pattern)]
    name = _INFO_ALIASES.get(item.lower(), item.lower())
    if name in (*IDENTITY, *INFO):
        return [Column("info", name)]
    return [c for c in available if c.kind in ("param", "metric") and fnmatchcase(c.name, item)]


def _is_glob(item: str) -> bool:
    return any(ch in item for ch in "*?[")
