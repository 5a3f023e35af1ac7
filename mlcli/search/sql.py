"""The syntax tree compiled to a parameterised SQLite condition and ORDER BY.

Every literal goes into the argument list; only table, column and fixed GLOB
guard text is written into the SQL. Each condition is two-valued (never NULL), so
``NOT`` is plain boolean negation, as in ``evaluate.py``. Keys are looked up with
correlated subqueries on the (run_id, key) primary keys.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from mlcli.search.keys import ATTRIBUTES
from mlcli.search.nodes import (
    EQUALITY,
    NULL_TEST,
    ORDERING,
    And,
    Compare,
    Node,
    Not,
    Or,
    OrderKey,
    Scalar,
)
from mlcli.search.numeric import as_number_sql, numeric_guard_sql
from mlcli.search.parser import parse_filter, parse_order_by
from mlcli.search.patterns import compile_like
from mlcli.search.semantics import IMPLIED_TAGS, compare

DEFAULT_ORDER = "r.start_time DESC, r.run_id ASC"
_TABLES = {"metric": ("latest_metrics", "m"), "param": ("params", "p"), "tag": ("tags", "t")}
_FLAT_LIMIT = 16  # longer AND/OR chains nest in halves, to stay under SQLite's depth limit


@dataclass(frozen=True)
class CompiledSearch:
    """A filter and an order as SQL over the runs table aliased ``r``."""

    where_sql: str = ""
    where_args: list[Any] = field(default_factory=list)
    order_sql: str = DEFAULT_ORDER
    order_args: list[Any] = field(default_factory=list)


def compile_search(filter_string: str | None, order_by: Sequence[str] | None) -> CompiledSearch:
    """Parse and compile; FilterSyntaxError (an InvalidInputError) on bad input."""
    where_sql, where_args = compile_filter(parse_filter(filter_string))
    order_sql, order_args = compile_order(parse_order_by(order_by))
    return CompiledSearch(where_sql, where_args, order_sql, order_args)


def compile_filter(node: Node | None) -> tuple[str, list[Any]]:
    """A boolean SQL expression and its arguments; ("", []) for no filter."""
    if node is None:
        return "", []
    args: list[Any] = []
    return _condition(node, args), args


def compile_order(keys: Sequence[OrderKey]) -> tuple[str, list[Any]]:
    """ORDER BY terms putting NULL (missing, NaN) last, then the default order."""
    terms: list[str] = []
    args: list[Any] = []
    for key in keys:
        direction = "DESC" if key.descending else "ASC"
        if key.field.kind == "attribute":
            attribute = ATTRIBUTES[key.field.key]
            column = attribute.sql
            if attribute.nullable:
                terms.append(f"{column} IS NULL")
            terms.append(f"{column} {direction}")
            continue
        table, alias = _TABLES[key.field.kind]
        value = (
            f"(SELECT {alias}.value FROM {table} {alias} "
            f"WHERE {alias}.run_id = r.run_id AND {alias}.key = ?)"
        )
        if key.descending:  # SQLite sorts NULL lowest: last when descending
            terms.append(f"{value} DESC")
            args.append(key.field.key)
        else:
            terms += [f"{value} IS NULL", f"{value} ASC"]
            args += [key.field.key, key.field.key]
    terms.append(DEFAULT_ORDER)
    return ", ".join(terms), args


def _condition(node: Node, args: list[Any]) -> str:
    if isinstance(node, Compare):
        return _compare(node, args)
    if isinstance(node, Not):
        return f"NOT ({_condition(node.item, args)})"
    joiner = " AND " if isinstance(node, And) else " OR "
    assert isinstance(node, (And, Or))
    return _join(joiner, [_condition(item, args) for item in node.items])


def _join(joiner: str, parts: list[str]) -> str:
    if len(parts) <= _FLAT_LIMIT:
        return "(" + joiner.join(parts) + ")"
    half = len(parts) // 2
    return f"({_join(joiner, parts[:half])}{joiner}{_join(joiner, parts[half:])})"


def _compare(node: Compare, args: list[Any]) -> str:
    kind, op = node.field.kind, node.op
    if kind == "attribute":
        attribute = ATTRIBUTES[node.field.key]
        column = attribute.sql
        if op in ("IS NULL", "IS NOT NULL"):
            return f"({column} {op})"
        condition = _value_condition(column, node, attribute.numeric, args)
        if attribute.nullable:
            return f"({column} IS NOT NULL AND {condition})"
        return condition
    if kind == "tag" and node.field.key in IMPLIED_TAGS:
        return _implied_tag(node, args)
    return _stored(node, args)


def _stored(node: Compare, args: list[Any]) -> str:
    """The test of a metric, param or tag as the run stores it (missing: no match)."""
    kind, op = node.field.kind, node.op
    table, alias = _TABLES[kind]
    lookup = f"r.run_id IN (SELECT {alias}.run_id FROM {table} {alias} WHERE {alias}.key = ?"
    args.append(node.field.key)
    if op == "IS NULL":
        return f"NOT {lookup})"
    if op == "IS NOT NULL":
        return f"{lookup})"
    condition = _value_condition(f"{alias}.value", node, kind == "metric", args)
    return f"{lookup} AND {condition})"


def _implied_tag(node: Compare, args: list[Any]) -> str:
    """A tag with a value when missing (``semantics.IMPLIED_TAGS``): the stored value
    when the run has the tag, else the implied one, tested here with ``compare``."""
    key = node.field.key
    if compare(IMPLIED_TAGS[key], node.op, node.value):
        stored = "1" if node.op in NULL_TEST else _stored(node, args)
        args.append(key)
        return f"({stored} OR r.run_id NOT IN (SELECT t.run_id FROM tags t WHERE t.key = ?))"
    if node.op in NULL_TEST:
        return "0"
    return _stored(node, args)


def _value_condition(column: str, node: Compare, numeric: bool, args: list[Any]) -> str:
    """The test of one non-NULL stored value (a NaN metric is NULL and fails it)."""
    op, value = node.op, node.value
    if op in ("IN", "NOT IN"):
        assert isinstance(value, tuple)
        return _membership(column, op, value, numeric, args)
    if op in EQUALITY + ORDERING:
        assert isinstance(value, (str, float))
        args.append(value)
        if isinstance(value, str) or numeric:
            return f"{column} {op} ?"
        return f"({as_number_sql(column)} {op} ? AND {numeric_guard_sql(column)})"
    assert isinstance(value, str)
    args.append(compile_like(value, ignore_case="ILIKE" in op).glob)
    return f"{column} {'NOT GLOB' if op.startswith('NOT') else 'GLOB'} ?"


def _membership(
    column: str, op: str, values: tuple[Scalar, ...], numeric: bool, args: list[Any]
) -> str:
    texts = [v for v in values if isinstance(v, str)]
    numbers = [v for v in values if not isinstance(v, str)]
    parts: list[str] = []
    if texts:
        parts.append(f"{column} {op} ({', '.join('?' * len(texts))})")
        args += texts
    if numbers:
        target = column if numeric else as_number_sql(column)
        test = f"{target} {op} ({', '.join('?' * len(numbers))})"
        parts.append(test if numeric else f"({test} AND {numeric_guard_sql(column)})")
        args += numbers
    return "(" + (" OR " if op == "IN" else " AND ").join(parts) + ")"
