"""The syntax tree compiled to a parameterised SQL condition and ORDER BY, for SQLite
(the local index) or PostgreSQL (a team store's index): ``dialect.py`` says how the
two differ.

Every literal goes into the argument list; only table, column and fixed guard text
is written into the SQL. Each condition is two-valued (never NULL), so
``NOT`` is plain boolean negation, as in ``evaluate.py``. Keys are looked up with
correlated subqueries on the (run_id, key) primary keys.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from mlcli.search.dialect import SQLITE, Dialect
from mlcli.search.keys import ATTRIBUTES
from mlcli.search.nodes import (
    EQUALITY,
    ORDERING,
    And,
    Compare,
    Node,
    Not,
    Or,
    OrderKey,
    Scalar,
)
from mlcli.search.parser import parse_filter, parse_order_by
from mlcli.search.patterns import compile_like

DEFAULT_ORDER = SQLITE.default_order
_TABLES = {"metric": ("latest_metrics", "m"), "param": ("params", "p"), "tag": ("tags", "t")}
_FLAT_LIMIT = 16  # longer AND/OR chains nest in halves, to stay under SQLite's depth limit


@dataclass(frozen=True)
class CompiledSearch:
    """A filter and an order as SQL over the runs table aliased ``r``."""

    where_sql: str = ""
    where_args: list[Any] = field(default_factory=list)
    order_sql: str = DEFAULT_ORDER
    order_args: list[Any] = field(default_factory=list)


def compile_search(
    filter_string: str | None, order_by: Sequence[str] | None, dialect: Dialect = SQLITE
) -> CompiledSearch:
    """Parse and compile; FilterSyntaxError (an InvalidInputError) on bad input."""
    where_sql, where_args = compile_filter(parse_filter(filter_string), dialect)
    order_sql, order_args = compile_order(parse_order_by(order_by), dialect)
    return CompiledSearch(where_sql, where_args, order_sql, order_args)


def compile_filter(
    node: Node | None, dialect: Dialect = SQLITE, correlated: bool = False
) -> tuple[str, list[Any]]:
    """A boolean SQL expression and its arguments; ("", []) for no filter.

    A key is looked up as ``r.run_id IN (SELECT ... WHERE key = ?...)``, a set the
    database builds once (cheap when the query visits most runs), or, ``correlated``,
    as ``EXISTS (SELECT ... WHERE run_id = r.run_id AND key = ?...)``, one primary-key
    probe per run visited (cheap when an ordered walk stops after a few runs)."""
    if node is None:
        return "", []
    args: list[Any] = []
    return _condition(node, args, _Context(dialect, correlated)), args


def compile_order(keys: Sequence[OrderKey], dialect: Dialect = SQLITE) -> tuple[str, list[Any]]:
    """ORDER BY terms putting NULL (missing, NaN) last, then the default order."""
    terms: list[str] = []
    args: list[Any] = []
    for key in keys:
        if key.field.kind == "attribute":
            attribute = ATTRIBUTES[key.field.key]
            terms += dialect.order_terms(
                attribute.sql, key.descending, not attribute.numeric, attribute.nullable
            )
            continue
        table, alias = _TABLES[key.field.kind]
        value = (
            f"(SELECT {alias}.value FROM {table} {alias} "
            f"WHERE {alias}.run_id = r.run_id AND {alias}.key = {dialect.param})"
        )
        # a missing key (or a NaN metric) is NULL; where NULL sorts lowest, it comes
        # last in a descending order without help
        nullable = not (key.descending and dialect.nulls_sort_low)
        added = dialect.order_terms(value, key.descending, key.field.kind != "metric", nullable)
        terms += added
        args += [key.field.key] * len(added)
    terms.append(dialect.default_order)
    return ", ".join(terms), args


@dataclass(frozen=True)
class _Context:
    dialect: Dialect
    correlated: bool

    def lookup(self, table: str, alias: str) -> str:
        """The start of a test that the run has a row in ``table`` with the key given
        next as an argument (the caller adds conditions on ``alias`` and a ``)``)."""
        param = self.dialect.param
        if self.correlated:
            return (
                f"EXISTS (SELECT 1 FROM {table} {alias} "
                f"WHERE {alias}.run_id = r.run_id AND {alias}.key = {param}"
            )
        return (
            f"r.run_id IN (SELECT {alias}.run_id FROM {table} {alias} WHERE {alias}.key = {param}"
        )


def _condition(node: Node, args: list[Any], context: _Context) -> str:
    if isinstance(node, Compare):
        return _compare(node, args, context)
    if isinstance(node, Not):
        return f"NOT ({_condition(node.item, args, context)})"
    joiner = " AND " if isinstance(node, And) else " OR "
    assert isinstance(node, (And, Or))
    return _join(joiner, [_condition(item, args, context) for item in node.items])


def _join(joiner: str, parts: list[str]) -> str:
    if len(parts) <= _FLAT_LIMIT:
        return "(" + joiner.join(parts) + ")"
    half = len(parts) // 2
    return f"({_join(joiner, parts[:half])}{joiner}{_join(joiner, parts[half:])})"


def _compare(node: Compare, args: list[Any], context: _Context) -> str:
    dialect = context.dialect
    kind, op = node.field.kind, node.op
    if kind == "attribute":
        attribute = ATTRIBUTES[node.field.key]
        column = attribute.sql
        if op in ("IS NULL", "IS NOT NULL"):
            return f"({column} {op})"
        condition = _value_condition(column, node, attribute.numeric, args, dialect)
        if attribute.nullable:
            return f"({column} IS NOT NULL AND {condition})"
        return condition
    return _stored(node, args, context)


def _stored(node: Compare, args: list[Any], context: _Context) -> str:
    """The test of a metric, param or tag as the run stores it (missing: no match)."""
    kind, op = node.field.kind, node.op
    table, alias = _TABLES[kind]
    lookup = context.lookup(table, alias)
    args.append(node.field.key)
    if op == "IS NULL":
        return f"NOT {lookup})"
    if op == "IS NOT NULL":
        return f"{lookup})"
    condition = _value_condition(f"{alias}.value", node, kind == "metric", args, context.dialect)
    return f"{lookup} AND {condition})"


def _value_condition(
    column: str, node: Compare, numeric: bool, args: list[Any], dialect: Dialect
) -> str:
    """The test of one non-NULL stored value (a NaN metric is NULL and fails it)."""
    op, value = node.op, node.value
    if op in ("IN", "NOT IN"):
        assert isinstance(value, tuple)
        return _membership(column, op, value, numeric, args, dialect)
    if op in EQUALITY + ORDERING:
        assert isinstance(value, (str, float))
        args.append(value)
        if numeric:
            return f"{column} {op} {dialect.param}"
        if isinstance(value, str):
            if op in ORDERING:  # text order is byte order (equality needs no collation)
                column = dialect.collated(column)
            return f"{column} {op} {dialect.param}"
        return dialect.number_test(column, f"{op} {dialect.param}")
    assert isinstance(value, str)
    pattern = compile_like(value, ignore_case="ILIKE" in op)
    test, argument = dialect.pattern(column, pattern, negated=op.startswith("NOT"))
    args.append(argument)
    return test


def _membership(
    column: str,
    op: str,
    values: tuple[Scalar, ...],
    numeric: bool,
    args: list[Any],
    dialect: Dialect,
) -> str:
    texts = [v for v in values if isinstance(v, str)]
    numbers = [v for v in values if not isinstance(v, str)]
    parts: list[str] = []
    if texts:
        parts.append(f"{column} {op} ({dialect.params(len(texts))})")
        args += texts
    if numbers:
        test = f"{op} ({dialect.params(len(numbers))})"
        parts.append(f"{column} {test}" if numeric else dialect.number_test(column, test))
        args += numbers
    return "(" + (" OR " if op == "IN" else " AND ").join(parts) + ")"
