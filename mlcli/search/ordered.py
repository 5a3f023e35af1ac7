"""The common searches as SQLite statements that walk an index in the order wanted
and stop after the page: a first page of a million runs costs about the page.

``statements.run_search_sql`` (the general statement) sorts every run in scope; for
one order key with a LIMIT, SQLite can instead read the key's index (``metrics_by_key``
and its kin: key, value) in value order, or an experiment's runs in start-time order
(``runs_by_experiment``), test the filter on each run it meets (correlated lookups,
``sql.compile_filter(correlated=True)``) and stop after LIMIT + OFFSET matches. Ties
(equal values, equal start times) are sorted in small groups as they come ("USE TEMP
B-TREE FOR RIGHT PART OF ORDER BY").

Each statement returns exactly the runs of the general statement, in its order:

- ordered by a metric, param or tag: first the runs with a value for the key (a
  NaN metric is NULL: no value), by value, then by the default order; then the
  runs without one, by the default order. The general statement puts NULL last in
  both directions (``sql.compile_order``), so this is its order; the second part is
  left out when the filter itself requires a value for the key, and is only read
  when the first runs out before the page is full;
- in the default order (or by start_time): one experiment's runs, newest first.

A walk is slow when few runs match (it visits about wanted * runs / matches of
them): when a condition every match meets (``params.model = 'rf'``) selects few
runs by its own index, the statement reads just those and sorts them in the general
order instead. The choice is made inside the statement, once, from counts of the
conditions' index entries (``plan``), so callers still run one statement.

Several experiments' runs in start-time order are each experiment's, read in that
order from ``runs_by_experiment``, merged: a compound ``UNION ALL ... ORDER BY`` whose
parts are sorted, which SQLite merges as it reads ("MERGE (UNION ALL)").

Without a LIMIT (``runs list``, a stream) the same walks are read to their end: the
first run comes at once, and nothing holds more than a group of ties, however many
runs match. (A condition's few runs, sorted, or the general statement, are still
chosen where they read far fewer runs.)

Anything else (ORDER BY several keys or another attribute, the default order over
the active experiments unnamed or over more than ``MERGED_EXPERIMENTS``) is left to
the general statement (None here).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from mlcli.search.dialect import SQLITE
from mlcli.search.nodes import NULL_TEST, ORDERING, And, Compare, Field, Node, OrderKey
from mlcli.search.sql import compile_filter, compile_order

# table, its (key, value) index
_KEYED = {
    "metric": ("latest_metrics", "metrics_by_key"),
    "param": ("params", "params_by_key"),
    "tag": ("tags", "tags_by_key"),
}
_NEWEST_FIRST = "r.start_time DESC, r.run_id ASC"  # SQLITE.default_order
_MAX_LOOKUPS = 3
#: The most experiments whose runs are merged in start-time order (one compound part
#: each; SQLite allows 500, and a run passes through each part's comparison).
MERGED_EXPERIMENTS = 32
_NO_LIMIT = -1  # SQLite's LIMIT of every row
_SAMPLE = 2000  # entries of a key's index read to judge a walk
# a walk's first entries (FROM ... LIMIT), their arguments, the search's WHERE on r and
# its arguments
_Sample = tuple[str, list[Any], str, list[Any]]


def ordered_search_sql(
    experiment_ids: Sequence[str] | None,
    node: Node | None,
    keys: Sequence[OrderKey],
    max_results: int | None,
    offset: int,
    scope: tuple[list[str], list[Any]],
    general: tuple[str, list[Any]],
) -> tuple[str, list[Any]] | None:
    """The SQLite statement walking an index for this search, and its arguments; None
    when the general statement is the better (or the only) one. ``scope`` is
    ``statements.scope_conditions``'s conditions on ``r`` and their arguments,
    ``general`` the general statement without its LIMIT; ``max_results`` None (or
    negative): every match."""
    if offset < 0:
        return None
    limit = _NO_LIMIT if max_results is None or int(max_results) < 0 else int(max_results)
    wanted = _NO_LIMIT if limit == _NO_LIMIT else limit + int(offset)
    lookups = [lookup for lookup in _lookups(node) if not keys or lookup.field != keys[0].field]
    planned = bool(lookups) or bool(keys and keys[0].field.kind in _KEYED)
    found = _walk(experiment_ids, node, keys, wanted, scope, _gate(0) if planned else "")
    if found is None:
        return None
    walk, sample = found
    if not planned:
        return _compound([_part(sql, args) for sql, args in walk], limit, offset)
    # Which runs to read is settled once, before reading any (``plan``):
    # - the runs of the filter's condition that selects the fewest (its index counts
    #   them, up to a cap), when they are few (n * n < wanted * runs);
    # - else the walk, unless it would visit more than a quarter of the runs: judged
    #   from how many of its first _SAMPLE entries match (a filter such as
    #   ``run_name = 'x'`` matches few runs, and no index counts them); then the
    #   general statement, which reads every run once.
    # Without a LIMIT the walk reads every entry of the key's index (and, unless the
    # filter requires a value, every run), as the general statement does: it is the
    # better one unless few of those entries match.
    cap = _count_cap(wanted)
    columns = [
        f"(SELECT count(*) FROM (SELECT 1 {lookup.source} LIMIT {cap})) AS n{i}"
        for i, lookup in enumerate(lookups, 1)
    ]
    plan_args: list[Any] = [arg for lookup in lookups for arg in lookup.args]
    if sample is not None:
        entries, entries_args, where, where_args = sample
        columns.append(f"(SELECT count(*) FROM (SELECT 1 {entries})) AS sampled")
        columns.append(
            f"(SELECT count(*) FROM (SELECT o.run_id {entries}) o CROSS JOIN runs r "
            f"WHERE r.run_id = o.run_id AND {where}) AS matched"
        )
        plan_args += [*entries_args, *entries_args, *where_args]
    names = [f"n{i}" for i in range(1, len(lookups) + 1)]
    cases = []
    if names:
        fewest = f"min({', '.join(names)})" if len(names) > 1 else names[0]
        choices = " ".join(f"WHEN {name} = {fewest} THEN {i}" for i, name in enumerate(names, 1))
        few = f"{fewest} < {cap}"
        if wanted != _NO_LIMIT:
            few += f" AND {fewest} * {fewest} < ? * total"
            plan_args.append(wanted)
        cases.append(f"WHEN {few} THEN CASE {choices} END")
    if sample is not None and wanted == _NO_LIMIT:
        cases.append(f"WHEN sampled < {_SAMPLE} OR 8 * matched >= {_SAMPLE} THEN 0 ELSE -1")
    elif sample is not None:
        cases.append(
            f"WHEN sampled < {_SAMPLE} OR matched >= ? OR matched * total >= 4 * ? * {_SAMPLE} "
            f"THEN 0 ELSE -1"
        )
        plan_args += [wanted, wanted]
    else:
        cases.append("ELSE 0")
    plan = (
        f"WITH counts AS MATERIALIZED (SELECT {', '.join(columns)}, "
        f"coalesce((SELECT max(rowid) FROM runs), 0) AS total), "
        f"plan AS MATERIALIZED (SELECT CASE {' '.join(cases)} END AS way FROM counts) "
    )
    parts = [
        _part(*_driven_by(lookup, keys, scope, node, wanted, _gate(i)))
        for i, lookup in enumerate(lookups, 1)
    ]
    parts += [_part(sql, args) for sql, args in walk]
    if sample is not None:
        head, where, tail = general[0].partition(" WHERE ")
        assert where and "(" not in head  # the statement's own WHERE, not a subquery's
        parts.append(_part(f"{head} WHERE {_gate(-1)}{tail} LIMIT ?", [*general[1], wanted]))
    sql, args = _compound(parts, limit, offset)
    return plan + sql, plan_args + args


def _count_cap(wanted: int) -> int:
    """How far to count a condition's runs: past sqrt(wanted * runs) for stores of up to
    about ten million runs (a count costs what it counts), and at most 100,000."""
    if wanted == _NO_LIMIT:
        return 100_000
    return min(100_000, int(3200 * math.sqrt(wanted)) + 1)


def _gate(way: int) -> str:
    """The start of a part's WHERE that reads it only when the plan's ``way`` is this
    one: a term naming no table, which SQLite tests once before its loops."""
    return f"(SELECT way FROM plan) = {way} AND "


def _compound(parts: list[tuple[str, list[Any]]], limit: int, offset: int) -> tuple[str, list[Any]]:
    sql = " UNION ALL ".join(part[0] for part in parts) + " LIMIT ? OFFSET ?"
    return sql, [arg for part in parts for arg in part[1]] + [limit, int(offset)]


def _part(sql: str, args: list[Any]) -> tuple[str, list[Any]]:
    """``sql`` (``SELECT ... ORDER BY ... LIMIT ?``) as a part of the compound. The
    subquery keeps its order (it has a LIMIT, -1 for none, so SQLite neither flattens
    it into the compound nor drops its ORDER BY)."""
    return f"SELECT run_id FROM ({sql})", args


def _walk(
    experiment_ids: Sequence[str] | None,
    node: Node | None,
    keys: Sequence[OrderKey],
    wanted: int,
    scope: tuple[list[str], list[Any]],
    gate: str,
) -> tuple[list[tuple[str, list[Any]]], _Sample | None] | None:
    """The statements (each ending in a LIMIT ?, given the last argument) whose results
    one after the other are the search's, walking an index, each read only when the
    plan's ``gate`` (or "") holds, and for a walk of a key's index, its first entries to
    sample; None when there is no such walk."""
    ids = None if experiment_ids is None else list(dict.fromkeys(experiment_ids))
    where, args = _where(scope, node)
    if not keys or (len(keys) == 1 and keys[0].field == Field("attribute", "start_time")):
        newest_first = not keys or keys[0].descending
        walk = _by_start_time(ids, gate + where, args, newest_first)
        return None if walk is None else ([(walk[0] + " LIMIT ?", [*walk[1], wanted])], None)
    if len(keys) != 1 or keys[0].field.kind not in _KEYED:
        return None
    key = keys[0]
    table, index = _KEYED[key.field.kind]
    bounds, bound_args = _bounds(node, key.field)
    with_value = (
        f"SELECT r.run_id FROM {table} o INDEXED BY {index} CROSS JOIN runs r "
        f"WHERE {gate}o.key = ? AND o.value IS NOT NULL{bounds} AND r.run_id = o.run_id "
        f"AND {where} "
        f"ORDER BY o.value {'DESC' if key.descending else 'ASC'}, {_NEWEST_FIRST} LIMIT ?"
    )
    parts = [(with_value, [key.field.key, *bound_args, *args, wanted])]
    entries = (
        f"FROM {table} o INDEXED BY {index} WHERE o.key = ? AND o.value IS NOT NULL{bounds} "
        f"ORDER BY o.value {'DESC' if key.descending else 'ASC'} LIMIT {_SAMPLE}"
    )
    sample = (entries, [key.field.key, *bound_args], where, args)
    if _requires_value(node, key.field):
        return parts, sample
    lacking = (
        f"{where} AND NOT EXISTS (SELECT 1 FROM {table} o "
        f"WHERE o.run_id = r.run_id AND o.key = ? AND o.value IS NOT NULL)"
    )
    lacking_args = [*args, key.field.key]
    without_value = _by_start_time(ids, gate + lacking, lacking_args, True) or (
        f"SELECT r.run_id FROM runs r WHERE {gate}{lacking} ORDER BY {_NEWEST_FIRST}",
        lacking_args,
    )
    return [*parts, (without_value[0] + " LIMIT ?", [*without_value[1], wanted])], sample


@dataclass(frozen=True)
class _Lookup:
    """The rows of an index a condition of the filter selects (``s``): every run the
    filter matches has one."""

    field: Field
    table: str
    index: str
    condition: str
    args: list[Any]

    @property
    def source(self) -> str:
        return f"FROM {self.table} s INDEXED BY {self.index} WHERE {self.condition}"


def _lookups(node: Node | None) -> list[_Lookup]:
    """The filter's conditions every match meets that an index finds the runs of:
    ``params.model = 'rf'``, ``tags.team = 'a'``, ``metrics.acc > 0.9``."""
    found: list[_Lookup] = []
    for item in _conjuncts(node):
        if not isinstance(item, Compare) or item.field.kind not in _KEYED:
            continue
        table, index = _KEYED[item.field.kind]
        kind, op, value = item.field.kind, item.op, item.value
        metric = kind == "metric" and isinstance(value, float) and op in (*ORDERING, "=")
        text = kind != "metric" and isinstance(value, str) and op == "="
        if not (metric or text):  # (the same tests as sql._value_condition's)
            continue
        condition = f"s.key = ? AND s.value {op} ?"
        found.append(_Lookup(item.field, table, index, condition, [item.field.key, value]))
    return found[:_MAX_LOOKUPS]


def _driven_by(
    lookup: _Lookup,
    keys: Sequence[OrderKey],
    scope: tuple[list[str], list[Any]],
    node: Node | None,
    wanted: int,
    gate: str,
) -> tuple[str, list[Any]]:
    """The search reading only the runs ``lookup`` finds, then sorting them in the
    general statement's order."""
    where, args = _where(scope, node)
    order_sql, order_args = compile_order(keys, SQLITE)
    sql = (
        f"SELECT r.run_id FROM {lookup.table} s INDEXED BY {lookup.index} CROSS JOIN runs r "
        f"WHERE {gate}{lookup.condition} AND r.run_id = s.run_id AND {where} "
        f"ORDER BY {order_sql} LIMIT ?"
    )
    return sql, [*lookup.args, *args, *order_args, wanted]


def _where(scope: tuple[list[str], list[Any]], node: Node | None) -> tuple[str, list[Any]]:
    conditions, args = list(scope[0]), list(scope[1])
    filter_sql, filter_args = compile_filter(node, SQLITE, correlated=True)
    if filter_sql:
        conditions.append(f"({filter_sql})")
        args += filter_args
    return " AND ".join(conditions), args


def _by_start_time(
    experiment_ids: list[str] | None, where: str, args: list[Any], newest_first: bool
) -> tuple[str, list[Any]] | None:
    """The runs meeting ``where`` (which keeps them to these experiments) in start-time
    order, ties by run id, and the arguments: one experiment's read in that order from
    ``runs_by_experiment``; several experiments' each so, merged. None when the
    experiments are not named, or too many."""
    if experiment_ids is None or not 1 <= len(experiment_ids) <= MERGED_EXPERIMENTS:
        return None
    direction = "DESC" if newest_first else "ASC"
    source = "FROM runs r INDEXED BY runs_by_experiment WHERE"
    if len(experiment_ids) == 1:
        order = f"r.start_time {direction}, r.run_id ASC"
        return f"SELECT r.run_id {source} {where} ORDER BY {order}", args
    arm = f"SELECT r.run_id, r.start_time {source} r.experiment_id = ? AND {where}"
    sql = " UNION ALL ".join([arm] * len(experiment_ids)) + f" ORDER BY 2 {direction}, 1 ASC"
    return sql, [arg for experiment_id in experiment_ids for arg in (experiment_id, *args)]


def _conjuncts(node: Node | None) -> list[Node]:
    if node is None:
        return []
    if isinstance(node, And):
        return [leaf for item in node.items for leaf in _conjuncts(item)]
    return [node]


def _requires_value(node: Node | None, field: Field) -> bool:
    """Whether every run the filter matches has a (non-NULL) value for ``field``: it
    tests that value, other than IS [NOT] NULL (which a NaN metric passes), in a
    condition every match meets."""
    return any(
        isinstance(item, Compare) and item.field == field and item.op not in NULL_TEST
        for item in _conjuncts(node)
    )


def _bounds(node: Node | None, field: Field) -> tuple[str, list[Any]]:
    """The filter's own numeric bounds on a metric (``metrics.acc > 0.9``) as bounds
    on the index walk: the same test of the same row, so the walk starts at them."""
    if field.kind != "metric":
        return "", []
    sql: list[str] = []
    args: list[Any] = []
    for item in _conjuncts(node):
        if (
            isinstance(item, Compare)
            and item.field == field
            and item.op in (*ORDERING, "=")
            and isinstance(item.value, float)
        ):
            sql.append(f" AND o.value {item.op} ?")
            args.append(item.value)
    return "".join(sql), args
