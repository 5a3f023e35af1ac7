"""Property: for random filters and orders over a fixed random store, the SQL over
the index and the Python evaluator select the same runs in the same order."""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlcli.search import (
    And,
    Compare,
    Field,
    Node,
    Not,
    Or,
    OrderKey,
    evaluate,
    order_runs,
    parse_filter,
)
from mlcli.search.runs import search_runs
from mlcli.store import Run, Store

from .conftest import add_run, open_store

METRIC_VALUES = [0.0, -1.0, 0.5, 1.0, 2.5, 0.1, math.nan, math.inf, -math.inf]
TEXT_VALUES = [
    "0.1",
    "1e-3",
    "10",
    "-2",
    " 3",
    "abc",
    "1.0",
    "ABC",
    "Abc",
    "",
    "0.10",
    "1",
    "x_y",
    "x%y",
    "é",
    "É",
    "+5",
    ".5",
    "1e",
    "a b",
]
STATUSES = ["RUNNING", "FINISHED", "FAILED", "KILLED", "SCHEDULED"]
NUMBERS = [
    0.0,
    -1.0,
    0.5,
    1.0,
    2.5,
    0.1,
    0.001,
    10.0,
    -2.0,
    3.0,
    5.0,
    100.0,
    200.0,
    300.0,
    math.inf,
    -math.inf,
]
PATTERNS = [
    "%",
    "a%",
    "A%",
    "_",
    "%b%",
    "x\\%y",
    "x_y",
    "x\\_y",
    "1%",
    "É%",
    "é",
    "%1",
    "_b_",
    "",
    "abc",
    "ab\\c",
    "%.%",
]

METRIC_KEYS = ["a", "b", "val.loss", "never"]
PARAM_KEYS = ["p", "q", "learning rate", "never"]
TAG_KEYS = ["t", "u", "mlcli.prompt.is_prompt", "never"]
TEXT_ATTRIBUTES = ["run_name", "status", "user_id", "experiment_id", "run_id"]
NUMERIC_ATTRIBUTES = ["start_time", "end_time"]


@dataclass
class World:
    store: Store
    runs: list[Run]


def _build(root: Path, seed: int = 7, count: int = 40) -> World:
    rng = random.Random(seed)
    store = open_store(root)

    def some(keys: list[str], values: list) -> dict:  # type: ignore[type-arg]
        return {k: rng.choice(values) for k in keys[:-1] if rng.random() < 0.7}

    for i in range(count):
        status = rng.choice(STATUSES[:4])
        add_run(
            store,
            rng.choice(["alpha", "Alpha", "beta", "x_y", f"run-{i}", "1", ""]) or f"r{i}",
            params=some(PARAM_KEYS, TEXT_VALUES),
            metrics=some(METRIC_KEYS, METRIC_VALUES),
            tags=some(TAG_KEYS, TEXT_VALUES),
            status=status,
            start_time=rng.choice([100, 200, 300]),
            user=rng.choice(["ann", "bob", "Ann"]),
        )
    return World(store, search_runs(store))


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    world = _build(tmp_path_factory.mktemp("world"))
    assert len(world.runs) == 40
    yield world
    world.store.close()


# -- strategies ----------------------------------------------------------------------------

fields = st.one_of(
    st.sampled_from([Field("metric", k) for k in METRIC_KEYS]),
    st.sampled_from([Field("param", k) for k in PARAM_KEYS]),
    st.sampled_from([Field("tag", k) for k in TAG_KEYS]),
    st.sampled_from([Field("attribute", k) for k in TEXT_ATTRIBUTES + NUMERIC_ATTRIBUTES]),
)


@st.composite
def comparisons(draw: st.DrawFn) -> Compare:
    field = draw(fields)
    numeric = field.kind == "metric" or field.key in NUMERIC_ATTRIBUTES
    ops = ["=", "!=", "<", "<=", ">", ">=", "IN", "NOT IN", "IS NULL", "IS NOT NULL"]
    if not numeric:
        ops += ["LIKE", "ILIKE", "NOT LIKE", "NOT ILIKE"]
    op = draw(st.sampled_from(ops))
    if field.key == "status":
        scalars = (
            st.sampled_from(STATUSES)
            if op in ("=", "!=", "IN", "NOT IN")
            else st.sampled_from([*STATUSES, "F", "G", "finished"])
        )
    elif numeric:
        scalars = st.sampled_from(NUMBERS)
    else:
        scalars = st.one_of(st.sampled_from(TEXT_VALUES), st.sampled_from(NUMBERS))
    if op in ("IS NULL", "IS NOT NULL"):
        return Compare(field, op, None)
    if op in ("IN", "NOT IN"):
        return Compare(field, op, tuple(draw(st.lists(scalars, min_size=1, max_size=4))))
    if "LIKE" in op:
        return Compare(field, op, draw(st.sampled_from(PATTERNS)))
    return Compare(field, op, draw(scalars))


def _combine(children: st.SearchStrategy[Node]) -> st.SearchStrategy[Node]:
    groups = st.lists(children, min_size=2, max_size=3).map(tuple)
    return st.one_of(groups.map(And), groups.map(Or), children.map(Not))


filters: st.SearchStrategy[Node] = st.recursive(comparisons(), _combine, max_leaves=6)

order_keys = st.lists(st.builds(OrderKey, fields, st.booleans()), min_size=0, max_size=3)


# -- properties ----------------------------------------------------------------------------


def _ids(runs: list[Run]) -> list[str]:
    return [run.info.run_id for run in runs]


@settings(max_examples=300, deadline=None, database=None)
@given(tree=filters)
def test_sql_and_python_select_the_same_runs(world: World, tree: Node) -> None:
    text = str(tree)
    node = parse_filter(text)
    assert node is not None
    assert parse_filter(str(node)) == node  # printing round-trips
    expected = {run.info.run_id for run in world.runs if evaluate(node, run)}
    assert expected == {run.info.run_id for run in world.runs if evaluate(tree, run)}
    assert set(_ids(search_runs(world.store, filter_string=text))) == expected


@settings(max_examples=150, deadline=None, database=None)
@given(keys=order_keys)
def test_sql_and_python_order_runs_alike(world: World, keys: list[OrderKey]) -> None:
    found = search_runs(world.store, order_by=[str(key) for key in keys])
    assert _ids(found) == _ids(order_runs(world.runs, keys))


@settings(max_examples=150, deadline=None, database=None)
@given(tree=filters, keys=order_keys, limit=st.integers(min_value=1, max_value=10))
def test_filter_order_and_limit_together(
    world: World, tree: Node, keys: list[OrderKey], limit: int
) -> None:
    found = search_runs(
        world.store, filter_string=str(tree), order_by=[str(key) for key in keys], max_results=limit
    )
    matching = [run for run in world.runs if evaluate(tree, run)]
    assert _ids(found) == _ids(order_runs(matching, keys))[:limit]
