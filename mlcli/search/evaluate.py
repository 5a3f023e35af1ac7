"""The filter and order semantics in plain Python, over ``Run`` objects.

This is the reference the SQL compiler is tested against. One comparison means what
``semantics.py`` says (shared with every other search); in addition:

- ``NOT`` is plain boolean negation: ``NOT (params.x = 'a')`` matches runs without x.
- Sorting puts missing values and NaN last in either direction; ties fall to the
  next key, then to ``start_time DESC, run_id ASC``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

from mlcli.search.nodes import And, Field, Node, Not, Or, OrderKey
from mlcli.search.semantics import compare
from mlcli.store import Run

TIEBREAK = (
    OrderKey(Field("attribute", "start_time"), descending=True),
    OrderKey(Field("attribute", "run_id"), descending=False),
)


def evaluate(node: Node | None, run: Run) -> bool:
    """Whether ``run`` matches the filter (None, the empty filter, matches all)."""
    if node is None:
        return True
    if isinstance(node, And):
        return all(evaluate(item, run) for item in node.items)
    if isinstance(node, Or):
        return any(evaluate(item, run) for item in node.items)
    if isinstance(node, Not):
        return not evaluate(node.item, run)
    return compare(field_value(node.field, run), node.op, node.value)


def field_value(field: Field, run: Run) -> str | float | int | None:
    """The run's value for ``field``: None when missing, NaN for a NaN metric."""
    data = run.data
    if field.kind == "metric":
        metric = data.latest_metrics.get(field.key)
        return None if metric is None else metric.value
    if field.kind == "param":
        return data.params.get(field.key)
    if field.kind == "tag":
        return data.tags.get(field.key)
    if field.key == "duration":
        end = run.info.end_time
        return None if end is None else end - run.info.start_time
    value: str | int | None = getattr(run.info, field.key)
    return value


def order_runs(runs: Iterable[Run], keys: Sequence[OrderKey]) -> list[Run]:
    """``runs`` sorted by ``keys`` and then by the default order."""
    result = list(runs)
    for key in reversed([*keys, *TIEBREAK]):  # stable sorts, least significant first
        present: list[tuple[Any, Run]] = []
        missing: list[Run] = []
        for run in result:
            value = field_value(key.field, run)
            if value is None or (isinstance(value, float) and math.isnan(value)):
                missing.append(run)
            else:
                present.append((value, run))
        present.sort(key=lambda pair: pair[0], reverse=key.descending)
        result = [run for _, run in present] + missing
    return result
