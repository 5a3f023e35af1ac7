"""Searches without a LIMIT (``runs list``) and paged ones (the UI's table) walk an
index as the limited ones do (``mlcli/search/ordered.py``): the first run comes after
a small part of the work, not after every run is sorted, and the answers are exactly
the general statement's (the same ids in the same order, for one experiment, several,
or every active one).

The first run's cost is counted in SQLite's virtual-machine steps (its progress
handler), not in time: a statement that sorts every run takes nearly all of its steps
before its first row."""

from __future__ import annotations

import math
import random
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import mlcli.search.ordered
from mlcli.search.runs import count_matching_runs, iter_run_ids, iter_runs, search_runs
from mlcli.search.statements import run_search_sql
from mlcli.store import Store, ViewType

from .conftest import add_run, open_store

RUNS = 400
ACC = [0.1, 0.5, 0.5, 0.9, math.nan, math.inf, -math.inf, *(i / 100 for i in range(30))]
# the first run of an order comes after its value's ties are sorted: ties of a few
MODELS = ["rf", "svm", "mlp", "gbt", "knn", "lr", "nb", "dt", "xgb", "lgbm"]


@dataclass
class Lab:
    store: Store
    experiments: list[str]  # the default experiment, a second one, a third (deleted)


def _build(root: Path) -> Lab:
    rng = random.Random(24)
    store = open_store(root)
    second = store.experiments.create("second").experiment_id
    gone = store.experiments.create("gone").experiment_id
    experiments = ["0", second, gone]
    for i in range(RUNS):
        run_id = add_run(
            store,
            f"run-{i}",
            params={"model": rng.choice(MODELS)} if rng.random() < 0.9 else {},
            metrics={"acc": rng.choice(ACC)} if rng.random() < 0.85 else {},
            start_time=1000 + i // 3 * 10,  # ties of three
            experiment_id=rng.choices(experiments, [6, 3, 1])[0],
        )
        if rng.random() < 0.08:
            store.runs.set_lifecycle(run_id, "deleted")
    store.experiments.delete(gone)
    return Lab(store, experiments)


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    lab = _build(tmp_path_factory.mktemp("streamed"))
    lab.store.index.refresh()
    yield lab
    lab.store.close()


def _general(lab: Lab, *search: Any) -> list[str]:
    sql, args = run_search_sql(*search, general=True)  # type: ignore[misc]
    return [row[0] for row in lab.store.index.query(sql, args)]


def _steps(db: sqlite3.Connection, sql: str, args: list[Any]) -> tuple[int, int, int]:
    """SQLite's steps (in hundreds) to the first row, and to the last; the rows."""
    steps = 0

    def tick() -> int:
        nonlocal steps
        steps += 1
        return 0

    db.set_progress_handler(tick, 100)
    try:
        cursor = db.execute(sql, args)  # runs the statement to its first row
        first = steps
        rows = len(cursor.fetchall()) + 1
        return first, steps, rows
    finally:
        db.set_progress_handler(None, 100)


ORDERS = [[], ["start_time ASC"], ["metrics.acc DESC"], ["metrics.acc ASC"], ["params.model ASC"]]
FILTERS = [None, "params.model = 'rf'", "metrics.acc > 0.2", "metrics.acc IS NULL"]


@pytest.mark.parametrize("order_by", ORDERS)
@pytest.mark.parametrize("filter_string", FILTERS)
@pytest.mark.parametrize("view", [ViewType.ACTIVE_ONLY, ViewType.ALL, ViewType.DELETED_ONLY])
def test_every_match_in_the_general_order(
    lab: Lab, order_by: list[str], filter_string: str | None, view: str
) -> None:
    one, second, gone = lab.experiments
    scopes = [[one], [second, one], [one, second, one], [gone, second], []]
    for experiments in scopes:
        for offset in (0, 3):
            search = (experiments, filter_string, order_by, None, view, offset)
            expected = _general(lab, *search)
            sql, args = run_search_sql(*search)
            assert [row[0] for row in lab.store.index.query(sql, args)] == expected
    # every active experiment: the streams name them, and answer as the general statement
    every = (None, filter_string, order_by, None, view)
    expected = _general(lab, *every)
    assert list(iter_run_ids(lab.store, *every)) == expected
    assert [run.run_id for run in iter_runs(lab.store, *every, page=7)] == expected
    if filter_string is None and view != ViewType.DELETED_ONLY:
        assert len(expected) > 100  # not vacuous


@pytest.mark.parametrize("filter_string", FILTERS)
@pytest.mark.parametrize("view", [ViewType.ACTIVE_ONLY, ViewType.ALL, ViewType.DELETED_ONLY])
def test_counts_are_those_of_the_answers(lab: Lab, filter_string: str | None, view: str) -> None:
    """The UI's total: read from the table in order when the experiments hold more
    than a quarter of the runs (the first two here), through the index otherwise."""
    one, second, gone = lab.experiments
    for experiments in ([one], [second], [gone], [gone, gone], [], None):
        expected = len(_general(lab, experiments, filter_string, [], None, view))
        assert count_matching_runs(lab.store, experiments, filter_string, view) == expected
        if experiments == [one] and filter_string is None and view != ViewType.DELETED_ONLY:
            assert expected > 100


@pytest.mark.parametrize("order_by", ORDERS)
def test_pages_of_a_search_are_its_whole_answer(lab: Lab, order_by: list[str]) -> None:
    """The UI's pages (offset, limit) cut the same answer the stream gives."""
    one, _, _ = lab.experiments
    whole = _general(lab, [one], None, order_by, None)
    pages = [
        [run.run_id for run in search_runs(lab.store, [one], None, order_by, 50, offset=offset)]
        for offset in range(0, len(whole) + 50, 50)
    ]
    assert [run_id for page in pages for run_id in page] == whole


@pytest.mark.parametrize("order_by", ORDERS)
@pytest.mark.parametrize("filter_string", [None, "params.model != 'rf'"])
@pytest.mark.parametrize("scope", ["one", "two"])
def test_the_first_run_comes_before_the_work_is_done(
    lab: Lab,
    order_by: list[str],
    filter_string: str | None,
    scope: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A walk of a key's index first reads a sample of its entries (2000): here, every
    # entry. Scaled to this store, the sample is what it is in a large one: a few.
    monkeypatch.setattr(mlcli.search.ordered, "_SAMPLE", 40)
    one, second, _ = lab.experiments
    experiments = [one] if scope == "one" else [one, second]
    search = (experiments, filter_string, order_by, None)
    db = lab.store.index.db
    first, total, rows = _steps(db, *run_search_sql(*search))
    assert rows > 100
    assert first * 4 < total
    # the general statement sorts every run first, unless SQLite walks the index
    # itself (one experiment in start-time order): it fails the same test
    first, total, _ = _steps(db, *run_search_sql(*search, general=True))
    if scope == "two" or order_by[0:1] not in ([], ["start_time ASC"]):
        assert first * 2 >= total


def test_the_plans_sort_no_more_than_ties(lab: Lab) -> None:
    """In the default order over two experiments, each experiment's runs are read in
    start-time order and merged; nothing sorts the whole answer."""
    one, second, _ = lab.experiments
    for order_by in ([], ["start_time ASC"]):
        sql, args = run_search_sql([one, second], None, order_by, None)
        plan = [row[3] for row in lab.store.index.query(f"EXPLAIN QUERY PLAN {sql}", args)]
        assert "MERGE (UNION ALL)" in plan
        assert plan.count("SEARCH r USING INDEX runs_by_experiment (experiment_id=?)") == 2
        assert "USE TEMP B-TREE FOR ORDER BY" not in plan
        assert "USE TEMP B-TREE FOR RIGHT PART OF ORDER BY" in plan  # the ties of a time
