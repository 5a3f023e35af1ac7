"""Searching runs: a filter and an order compiled to SQL over a store's index.

Search sits on the store facade (``mlcli.store.TrackingStore``), not inside it: any
backend keeps the local index fresh, and these functions query it.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from mlcli.search.dialect import POSTGRES, SQLITE, Dialect
from mlcli.search.ordered import MERGED_EXPERIMENTS
from mlcli.search.parser import parse_filter
from mlcli.search.sql import compile_search
from mlcli.search.statements import ACTIVE_EXPERIMENTS, run_count_sql, run_search_sql
from mlcli.store import Run, SearchesOnServer, TrackingStore, ViewType

_DIALECTS = {"sqlite": SQLITE, "postgresql": POSTGRES}
#: Runs read at a time by :func:`iter_runs`.
PAGE = 1000


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
    sql, args = run_search_sql(
        _named(store, experiment_ids),
        filter_string,
        order_by,
        max_results,
        view,
        offset,
        _dialect(store),
    )
    run_ids = [row[0] for row in store.index.query(sql, args)]
    return store.runs_by_id(run_ids)


def iter_runs(
    store: TrackingStore,
    experiment_ids: Sequence[str] | None = None,
    filter_string: str | None = None,
    order_by: Sequence[str] | None = None,
    max_results: int | None = None,
    view: str = ViewType.ACTIVE_ONLY,
    page: int | None = None,
) -> Iterator[Run]:
    """The runs :func:`search_runs` finds, as a stream: a page of ``page`` runs read at a
    time (from the local index's cursor, or a team server's pages), so that memory
    stays that of one page and the first run comes at once, however many match."""
    page = page or PAGE
    if isinstance(store, SearchesOnServer):
        compile_search(filter_string, order_by)
        offset = 0
        while max_results is None or offset < max_results:
            wanted = page if max_results is None else min(page, max_results - offset)
            runs = store.search_runs(experiment_ids, filter_string, order_by, wanted, view, offset)
            yield from runs
            if len(runs) < wanted:
                return
            offset += len(runs)
        return
    pages = _id_pages(store, experiment_ids, filter_string, order_by, max_results, view, page)
    for run_ids in pages:
        yield from store.runs_by_id(run_ids)


def iter_run_ids(
    store: TrackingStore,
    experiment_ids: Sequence[str] | None = None,
    filter_string: str | None = None,
    order_by: Sequence[str] | None = None,
    max_results: int | None = None,
    view: str = ViewType.ACTIVE_ONLY,
) -> Iterator[str]:
    """The ids of the runs :func:`iter_runs` finds, without reading the runs
    (``runs list -q``), as a stream."""
    if isinstance(store, SearchesOnServer):
        runs = iter_runs(store, experiment_ids, filter_string, order_by, max_results, view)
        yield from (run.run_id for run in runs)
        return
    for run_ids in _id_pages(store, experiment_ids, filter_string, order_by, max_results, view):
        yield from run_ids


def _id_pages(
    store: TrackingStore,
    experiment_ids: Sequence[str] | None,
    filter_string: str | None,
    order_by: Sequence[str] | None,
    max_results: int | None,
    view: str,
    page: int | None = None,
) -> Iterator[list[str]]:
    """The matching run ids from the store's own index, a page at a time, from one
    statement read as SQLite produces its rows (an index walk where it has one:
    ``ordered.py``)."""
    store.index.refresh()
    sql, args = run_search_sql(
        _named(store, experiment_ids),
        filter_string,
        order_by,
        max_results,
        view,
        0,
        _dialect(store),
    )
    stream = getattr(store.index, "iter_query", None)
    batches = stream(sql, args, page or PAGE) if stream else [store.index.query(sql, args)]
    for rows in batches:
        yield [row[0] for row in rows]


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
    sql, args = run_count_sql(experiment_ids, filter_string, view, _dialect(store))
    return int(store.index.query(sql, args)[0][0])


def _named(store: TrackingStore, experiment_ids: Sequence[str] | None) -> Sequence[str] | None:
    """The experiments to search, named: the active ones when None, from the local
    index (the same runs; named experiments' runs are merged in start-time order by
    walking each one's, rather than all sorted). Left None on PostgreSQL, or for more
    experiments than are merged."""
    if experiment_ids is not None or _dialect(store) is not SQLITE:
        return experiment_ids
    active = [row[0] for row in store.index.query(ACTIVE_EXPERIMENTS)]
    return active if len(active) <= MERGED_EXPERIMENTS else None


def _dialect(store: TrackingStore) -> Dialect:
    """The SQL of the store's index: SQLite's (a local store), PostgreSQL's (a team store)."""
    return _DIALECTS[store.index.sql_dialect]
