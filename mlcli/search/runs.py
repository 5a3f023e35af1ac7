"""Searching runs: a filter and an order compiled to SQL over a store's index.

Search sits on the store facade (``mlcli.store.TrackingStore``), not inside it: any
backend keeps the local index fresh, and these functions query it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from mlcli.search.parser import parse_filter
from mlcli.search.sql import compile_filter, compile_search
from mlcli.store import Run, SearchesOnServer, TrackingStore, ViewType


def search_runs(
    store: TrackingStore,
    experiment_ids: Sequence[str] | None = None,
    filter_string: str | None = None,
    order_by: Sequence[str] | None = None,
    max_results: int | None = None,
    view: str = ViewType.ACTIVE_ONLY,
    offset: int = 0,
) -> list[Run]:
    """Runs of the given experiments (all active ones when None) matching the filter;
    ``offset`` skips that many of them first (paging, with ``max_results``)."""
    if isinstance(store, SearchesOnServer):
        compile_search(filter_string, order_by)  # a bad filter is refused here, in one line
        return store.search_runs(experiment_ids, filter_string, order_by, max_results, view, offset)
    store.index.refresh()
    compiled = compile_search(filter_string, order_by)
    conditions, args = _scope_conditions(experiment_ids, view)
    if compiled.where_sql:
        conditions.append(f"({compiled.where_sql})")
        args += compiled.where_args
    sql = (
        f"SELECT r.run_id FROM runs r WHERE {' AND '.join(conditions)} "
        f"ORDER BY {compiled.order_sql}"
    )
    args += compiled.order_args
    if max_results is not None or offset:
        sql += " LIMIT ? OFFSET ?"
        args += [-1 if max_results is None else int(max_results), int(offset)]
    run_ids = [row[0] for row in store.index.query(sql, args)]
    return store.runs_by_id(run_ids)


def count_matching_runs(
    store: TrackingStore,
    experiment_ids: Sequence[str] | None = None,
    filter_string: str | None = None,
    view: str = ViewType.ACTIVE_ONLY,
) -> int:
    """How many runs :func:`search_runs` would find without a limit."""
    if isinstance(store, SearchesOnServer):
        parse_filter(filter_string)
        return store.count_matching_runs(experiment_ids, filter_string, view)
    store.index.refresh()
    where_sql, where_args = compile_filter(parse_filter(filter_string))
    conditions, args = _scope_conditions(experiment_ids, view)
    if where_sql:
        conditions.append(f"({where_sql})")
        args += where_args
    sql = f"SELECT count(*) FROM runs r WHERE {' AND '.join(conditions)}"
    return int(store.index.query(sql, args)[0][0])


def _scope_conditions(
    experiment_ids: Sequence[str] | None, view: str
) -> tuple[list[str], list[Any]]:
    conditions: list[str] = []
    args: list[Any] = []
    if view == ViewType.ACTIVE_ONLY:
        conditions.append("r.lifecycle_stage = 'active'")
    elif view == ViewType.DELETED_ONLY:
        conditions.append("r.lifecycle_stage = 'deleted'")
    if experiment_ids is None:
        conditions.append(
            "r.experiment_id IN (SELECT experiment_id FROM experiments "
            "WHERE lifecycle_stage = 'active')"
        )
    else:
        ids = list(experiment_ids)
        conditions.append(f"r.experiment_id IN ({','.join('?' * len(ids)) or 'NULL'})")
        args += ids
    return conditions or ["1"], args
