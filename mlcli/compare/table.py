"""A side-by-side comparison of runs: one row per run, one column per fact, param or
metric, knowing which columns differ between the runs and which value of each metric
is the best."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from mlcli import system_tags
from mlcli.compare.columns import IDENTITY, Column, choose_columns
from mlcli.compare.direction import Directions
from mlcli.store import Run, json_number

Value = str | int | float | None


@dataclass(frozen=True)
class Comparison:
    runs: tuple[Run, ...]
    columns: tuple[Column, ...]
    changed: frozenset[str] = frozenset()  # keys of the columns whose values differ
    best: dict[str, frozenset[int]] = field(default_factory=dict)  # metric key -> rows
    lower_is_better: dict[str, bool] = field(default_factory=dict)  # metric name -> bool

    def value(self, row: int, column: Column) -> Value:
        return cell_value(self.runs[row], column)

    def records(self) -> list[dict[str, Any]]:
        """The rows as JSON objects keyed by column key (the ``--json`` shape);
        non-finite metric values are the strings "NaN", "Infinity", "-Infinity"."""
        return [
            {c.key: _jsonable(self.value(row, c)) for c in self.columns}
            for row in range(len(self.runs))
        ]


def build_comparison(
    runs: Sequence[Run],
    columns: Sequence[str] | None = None,
    only_changed: bool = False,
    directions: Directions | None = None,
) -> Comparison:
    """Compare ``runs`` (in the order given) over the ``--columns`` spec (see
    :func:`choose_columns`); ``only_changed`` keeps, besides the run's id and name,
    only the columns whose values differ."""
    directions = directions or Directions()
    chosen = choose_columns(runs, columns)
    changed = frozenset(c.key for c in chosen if _differs([cell_value(r, c) for r in runs]))
    if only_changed:
        chosen = [c for c in chosen if c.key in IDENTITY or c.key in changed]
    metrics = [c for c in chosen if c.kind == "metric"]
    lower = {c.name: directions.lower_is_better(c.name) for c in metrics}
    best = {
        c.key: _best_rows([cell_value(r, c) for r in runs], lower[c.name])
        for c in metrics
        if c.key in changed
    }
    return Comparison(tuple(runs), tuple(chosen), changed, best, lower)


def cell_value(run: Run, column: Column) -> Value:
    """The raw value of one cell: text, an integer (times in ms), a float, or None."""
    if column.kind == "param":
        return run.data.params.get(column.name)
    if column.kind == "tag":
        return run.data.tags.get(column.name)
    if column.kind == "metric":
        metric = run.data.latest_metrics.get(column.name)
        return None if metric is None else metric.value
    info = run.info
    if column.name == "duration_ms":
        return None if info.end_time is None else info.end_time - info.start_time
    if column.name == "git_commit":
        return run.data.tags.get(system_tags.GIT_COMMIT)
    value: Value = getattr(info, column.name)
    return value


def _differs(values: list[Value]) -> bool:
    return len({"NaN" if isinstance(v, float) and math.isnan(v) else v for v in values}) > 1


def _best_rows(values: list[Value], lower_is_better: bool) -> frozenset[int]:
    finite = [v for v in values if isinstance(v, float) and math.isfinite(v)]
    if not finite:
        return frozenset()
    target = min(finite) if lower_is_better else max(finite)
    return frozenset(i for i, v in enumerate(values) if v == target)


def _jsonable(value: Value) -> Value:
    return json_number(value) if isinstance(value, float) else value
