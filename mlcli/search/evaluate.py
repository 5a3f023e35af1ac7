"""The filter and order semantics in plain Python, over ``Run`` objects.

This is the reference the SQL compiler is tested against; both follow these rules:

- A comparison never matches a run that lacks the key, nor a metric whose latest
  value is NaN (``!=``, ``NOT IN`` and ``NOT LIKE`` included). Only ``IS NULL``
  matches a missing key; a NaN metric is present, so it is not NULL.
- ``NOT`` is plain boolean negation: ``NOT (params.x = 'a')`` matches runs without x.
- Text (params, tags, text attributes) compared with a number compares as a number
  when the text is a plain decimal number (see ``numeric.py``), and never otherwise.
- ``IN`` is a chain of ``=`` joined by OR, ``NOT IN`` a chain of ``!=`` joined by AND.
- Sorting puts missing values and NaN last in either direction; ties fall to the
  next key, then to ``start_time DESC, run_id ASC``.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from mlcli.search.nodes import PATTERN, And, Compare, Field, Node, Not, Or, OrderKey, Scalar
from mlcli.search.numeric import is_numeric_text
from mlcli.search.patterns import compile_like
from mlcli.store.entities import Run

_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "=": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}

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
    return _matches(node, field_value(node.field, run))


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


def _matches(node: Compare, stored: str | float | int | None) -> bool:
    op, value = node.op, node.value
    if op == "IS NULL":
        return stored is None
    if op == "IS NOT NULL":
        return stored is not None
    if stored is None or (isinstance(stored, float) and math.isnan(stored)):
        return False
    if op == "IN":
        assert isinstance(value, tuple)
        return any(_test(stored, "=", item) for item in value)
    if op == "NOT IN":
        assert isinstance(value, tuple)
        return all(_test(stored, "!=", item) for item in value)
    assert isinstance(value, (str, float))
    if op in PATTERN:
        assert isinstance(stored, str) and isinstance(value, str)
        found = compile_like(value, ignore_case="ILIKE" in op).matches(stored)
        return found != op.startswith("NOT")
    return _test(stored, op, value)


def _test(stored: str | float | int, op: str, literal: Scalar) -> bool:
    if isinstance(literal, str):
        return isinstance(stored, str) and _OPS[op](stored, literal)
    if isinstance(stored, str):
        if not is_numeric_text(stored):
            return False
        stored = float(stored)
    return _OPS[op](stored, literal)
