"""Fuzzing: any text either parses (and then runs as SQL) or raises FilterSyntaxError
with a position inside the text; nothing else ever escapes."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlcli.search import FilterSyntaxError, compile_search, parse_filter, parse_order_by
from mlcli.search.runs import search_runs
from mlcli.store import Store

from .conftest import add_run, open_store

TOKENS = [
    "metrics.acc", "params.lr", "tags.env", "status", "start_time", "end_time", "run_name",
    "metrics.`a b`", 'params."x"', "tags.'k'", "`Run Name`", "user", "metricz.x", "foo",
    "=", "!=", "<>", "==", "<", "<=", ">", ">=", "LIKE", "ILIKE", "NOT", "IN", "IS", "NULL",
    "AND", "OR", "and", "or", "not", "(", ")", ",", "'FINISHED'", "'x%'", '"y"', "'",
    "1", "-2.5", "1e-3", "0.1", "ASC", "DESC", "`", '"', "!", "@", ".", "1abc",
]  # fmt: skip


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    store = open_store(tmp_path_factory.mktemp("fuzz"))
    add_run(store, "a", params={"lr": "0.1"}, metrics={"acc": 0.5}, tags={"env": "x"})
    yield store
    store.close()


def _check(store: Store, text: str) -> None:
    try:
        parse_filter(text)
    except FilterSyntaxError as error:
        assert 0 <= error.position <= len(text)
        assert error.message.startswith("invalid filter at column ")
        assert len(error.display().splitlines()) == 3
        return
    search_runs(store, filter_string=text)  # whatever parses must run


@settings(max_examples=500, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow])  # fmt: skip
@given(st.lists(st.sampled_from(TOKENS), max_size=12).map(" ".join))
def test_token_soup(store: Store, text: str) -> None:
    _check(store, text)


@settings(max_examples=300, deadline=None, database=None)
@given(st.text(max_size=30))
def test_arbitrary_text(store: Store, text: str) -> None:
    _check(store, text)


@settings(max_examples=300, deadline=None, database=None)
@given(st.lists(st.lists(st.sampled_from(TOKENS), max_size=4).map(" ".join), max_size=3))
def test_order_by_soup(items: list[str]) -> None:
    try:
        compile_search(None, items)
    except FilterSyntaxError as error:
        assert 0 <= error.position <= len(error.text)
        assert error.message.startswith("invalid order_by ")


def test_a_single_string_order_by_is_one_item() -> None:
    assert parse_order_by("metrics.acc DESC") == parse_order_by(["metrics.acc DESC"])


def test_long_chains_stay_under_sqlite_depth_limits(store: Store) -> None:
    text = " OR ".join(f"metrics.acc = {i}" for i in range(600))
    assert search_runs(store, filter_string=text + " OR metrics.acc = 0.5") != []
    text = " AND ".join(f"NOT params.lr = '{i}'" for i in range(600))
    assert len(search_runs(store, filter_string=text)) == 1
