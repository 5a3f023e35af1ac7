"""The whole run search as one statement over an index's tables, for a dialect: the
scope (experiments, lifecycle view), the filter, the order and the page. The local
store runs it on its SQLite index (``runs.py``), a team store on its PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from mlcli.search.dialect import SQLITE, Dialect
from mlcli.search.ordered import ordered_search_sql
from mlcli.search.parser import parse_filter, parse_order_by
from mlcli.search.sql import compile_filter, compile_search
from mlcli.store import ViewType

#: The experiments searched when none are named.
ACTIVE_EXPERIMENTS = "SELECT experiment_id FROM experiments WHERE lifecycle_stage = 'active'"


def run_search_sql(
    experiment_ids: Sequence[str] | None,
    filter_string: str | None,
    order_by: Sequence[str] | None,
    max_results: int | None = None,
    view: str = ViewType.ACTIVE_ONLY,
    offset: int = 0,
    dialect: Dialect = SQLITE,
    general: bool = False,
) -> tuple[str, list[Any]]:
    """``SELECT ... run_id ...`` of the matching runs in order, and its arguments;
    FilterSyntaxError (one line) on a bad filter or order.

    On SQLite a search with a LIMIT and one order key walks an index and stops after
    the page (``ordered.py``); ``general`` asks for the statement that sorts every run
    in scope, which answers every search (and is the one PostgreSQL gets)."""
    compiled = compile_search(filter_string, order_by, dialect)
    conditions, args = scope_conditions(experiment_ids, view, dialect)
    scope = (list(conditions), list(args))
    if compiled.where_sql:
        conditions.append(f"({compiled.where_sql})")
        args += compiled.where_args
    sql = (
        f"SELECT r.run_id FROM runs r WHERE {' AND '.join(conditions)} "
        f"ORDER BY {compiled.order_sql}"
    )
    args += compiled.order_args
    if dialect is SQLITE and not general:
        walk = ordered_search_sql(
            experiment_ids,
            parse_filter(filter_string),
            parse_order_by(order_by),
            max_results,
            offset,
            scope,
            (sql, args),
        )
        if walk is not None:
            return walk
    limit_sql, limit_args = dialect.limit(max_results, offset)
    return sql + limit_sql, args + limit_args


def run_count_sql(
    experiment_ids: Sequence[str] | None,
    filter_string: str | None,
    view: str = ViewType.ACTIVE_ONLY,
    dialect: Dialect = SQLITE,
) -> tuple[str, list[Any]]:
    """``SELECT count(*) ...`` of the runs :func:`run_search_sql` finds without a limit.

    SQLite, knowing nothing of how many runs an experiment holds, would count them
    through ``runs_by_experiment``, reading each run's row at random (for its lifecycle
    stage, for the filter): ten times the cost of reading the table in its order. So
    without a filter the runs are counted in ``runs_by_stage`` (experiment, lifecycle
    stage) alone; with one, the statement first counts the experiments' runs in
    ``runs_by_experiment`` and reads the table in order when they are more than a
    quarter of it."""
    where_sql, where_args = compile_filter(parse_filter(filter_string), dialect)
    conditions, args = scope_conditions(experiment_ids, view, dialect)
    in_experiments, experiment_args = conditions[-1], list(args)  # the experiments' test
    if where_sql:
        conditions.append(f"({where_sql})")
        args += where_args
    where = " AND ".join(conditions)
    if dialect is not SQLITE:
        return f"SELECT count(*) FROM runs r WHERE {where}", args
    if not where_sql:  # the experiments and the view alone: counted in an index
        return f"SELECT count(*) FROM runs r INDEXED BY runs_by_stage WHERE {where}", args
    share = f"SELECT count(*) FROM runs r INDEXED BY runs_by_experiment WHERE {in_experiments}"
    sql = (
        f"SELECT CASE WHEN 4 * ({share}) > (SELECT coalesce(max(rowid), 0) FROM runs) "
        f"THEN (SELECT count(*) FROM runs r NOT INDEXED WHERE {where}) "
        f"ELSE (SELECT count(*) FROM runs r WHERE {where}) END"
    )
    return sql, [*experiment_args, *args, *args]


def scope_conditions(
    experiment_ids: Sequence[str] | None, view: str, dialect: Dialect = SQLITE
) -> tuple[list[str], list[Any]]:
    """Conditions on ``runs r``: its lifecycle stage by ``view``, and its experiment
    among ``experiment_ids`` (None: among the active experiments)."""
    conditions: list[str] = []
    args: list[Any] = []
    if view == ViewType.ACTIVE_ONLY:
        conditions.append("r.lifecycle_stage = 'active'")
    elif view == ViewType.DELETED_ONLY:
        conditions.append("r.lifecycle_stage = 'deleted'")
    if experiment_ids is None:
        conditions.append(f"r.experiment_id IN ({ACTIVE_EXPERIMENTS})")
    else:
        ids = list(experiment_ids)
        conditions.append(f"r.experiment_id IN ({','.join([dialect.param] * len(ids)) or 'NULL'})")
        args += ids
    return conditions or [dialect.true], args
