"""The searches that walk an index (``mlcli/search/ordered.py``) answer exactly as the
general statement that sorts every run: the same runs, in the same order, for random
filters, orders, scopes and pages over a store of a few hundred varied runs (missing
metrics, NaN, infinities, ties, deleted runs, several experiments)."""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlcli.search import Node, OrderKey
from mlcli.search.statements import run_search_sql
from mlcli.store import Store, ViewType

from .conftest import add_run, open_store
from .test_search_property import (
    METRIC_KEYS,
    PARAM_KEYS,
    STATUSES,
    TAG_KEYS,
    TEXT_VALUES,
    fields,
    filters,
)

# few distinct values, so that ties are common; NaN and the infinities among them
METRIC_VALUES = [0.0, 0.5, 1.0, 1.0, 2.5, -1.0, math.nan, math.inf, -math.inf]
RUNS = 300


@dataclass
class World:
    store: Store
    experiments: list[str]


def _build(root: Path, seed: int = 11) -> World:
    rng = random.Random(seed)
    store = open_store(root)
    experiments = ["0", store.experiments.create("second").experiment_id]

    def some(keys: list[str], values: list, share: float) -> dict:  # type: ignore[type-arg]
        return {k: rng.choice(values) for k in keys[:-1] if rng.random() < share}

    for i in range(RUNS):
        share = rng.choice([0.2, 0.6, 0.95])  # runs with few keys, runs with most
        run_id = add_run(
            store,
            rng.choice(["alpha", "beta", f"run-{i}"]),
            params=some(PARAM_KEYS, TEXT_VALUES[:6], share),
            metrics=some(METRIC_KEYS, METRIC_VALUES, share),
            tags=some(TAG_KEYS, TEXT_VALUES[:6], share),
            status=rng.choice(STATUSES[:4]),
            start_time=rng.choice([100, 200, 300, 400, 500]),
            user=rng.choice(["ann", "bob"]),
            experiment_id=experiments[0] if rng.random() < 0.8 else experiments[1],
        )
        if rng.random() < 0.1:
            store.runs.set_lifecycle(run_id, "deleted")
    return World(store, experiments)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    world = _build(tmp_path_factory.mktemp("ordered"))
    world.store.index.refresh()
    yield world
    world.store.close()


def _answer(world: World, general: bool, *search: object) -> list[str]:
    sql, args = run_search_sql(*search, general=general)  # type: ignore[arg-type]
    return [row[0] for row in world.store.index.query(sql, args)]


order_keys = st.lists(st.builds(OrderKey, fields, st.booleans()), min_size=0, max_size=2)
one_key = st.builds(OrderKey, fields, st.booleans()).map(lambda key: [key])
scopes = st.sampled_from(["one", "other", "both", "one twice", "active experiments"])
views = st.sampled_from([ViewType.ACTIVE_ONLY, ViewType.DELETED_ONLY, ViewType.ALL])
limits = st.sampled_from([None, None, 0, 1, 3, 10, 25, 100, 1000])  # None: every match
offsets = st.sampled_from([0, 0, 2, 20, 150])


def _experiments(world: World, scope: str) -> list[str] | None:
    one, other = world.experiments
    named = {"one": [one], "other": [other], "both": [other, one], "one twice": [one, other, one]}
    return named.get(scope)


def _check(
    world: World,
    tree: Node | None,
    keys: list[OrderKey],
    scope: str,
    view: str,
    limit: int | None,
    offset: int,
) -> None:
    search = (
        _experiments(world, scope),
        None if tree is None else str(tree),
        [str(key) for key in keys],
        limit,
        view,
        offset,
    )
    expected = _answer(world, True, *search)
    assert _answer(world, False, *search) == expected


@settings(max_examples=400, deadline=None, database=None)
@given(
    tree=st.none() | filters,
    keys=st.one_of(one_key, order_keys),
    scope=scopes,
    view=views,
    limit=limits,
    offset=offsets,
)
def test_walks_answer_as_the_general_statement(
    world: World,
    tree: Node | None,
    keys: list[OrderKey],
    scope: str,
    view: str,
    limit: int | None,
    offset: int,
) -> None:
    _check(world, tree, keys, scope, view, limit, offset)


@pytest.mark.parametrize(
    "filter_string",
    [
        None,
        "metrics.a > 0.5",
        "metrics.a >= -1e999 and params.p = 'abc'",
        "metrics.a IS NULL",
        "metrics.a IS NOT NULL",
        "params.p = '10' and tags.t = '0.1'",
        "tags.t = 'abc' or metrics.b < 1",
        "not metrics.a = 1",
        "tags.t != 'abc'",
    ],
)
@pytest.mark.parametrize(
    "order_by",
    [
        [],
        ["metrics.a DESC"],
        ["metrics.a ASC"],
        ["params.p DESC"],
        ["tags.t ASC"],
        ["start_time ASC"],
        ["attributes.start_time DESC"],
    ],
)
@pytest.mark.parametrize("limit", [1, 7, 60, 1000])
def test_common_searches_answer_as_the_general_statement(
    world: World, filter_string: str | None, order_by: list[str], limit: int
) -> None:
    one, _ = world.experiments
    for offset in (0, 5):
        search = ([one], filter_string, order_by, limit, ViewType.ACTIVE_ONLY, offset)
        expected = _answer(world, True, *search)
        assert _answer(world, False, *search) == expected
        if offset == 0 and limit == 60:
            assert expected  # the store has matches for every one of these


def test_the_common_searches_take_the_walks(world: World) -> None:
    """The statements differ from the general one (the equivalence above is not
    vacuous), and SQLite reads the key's index in order, sorting only ties."""
    one, _ = world.experiments
    for order_by in (["metrics.a DESC"], ["params.p ASC"], [], ["start_time ASC"]):
        search = ([one], "params.q = 'abc' and metrics.b > 0", order_by, 10)
        sql, args = run_search_sql(*search)
        assert sql != run_search_sql(*search, general=True)[0]
        plan = [row[3] for row in world.store.index.query(f"EXPLAIN QUERY PLAN {sql}", args)]
        assert "USE TEMP B-TREE FOR RIGHT PART OF ORDER BY" in plan
        assert not any(line.startswith("SCAN r") for line in plan)
