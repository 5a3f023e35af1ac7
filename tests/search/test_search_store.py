"""Filters and orders run through a real store and its SQLite index, and checked
against hand-worked answers and against the Python evaluator."""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mlcli.search import compile_search, evaluate, order_runs, parse_filter, parse_order_by
from mlcli.search.runs import search_runs
from mlcli.store import Run, Store

from .conftest import add_run, open_store

NAN = math.nan
INF = math.inf


class Zoo:
    """Seven runs with numeric-looking and other params, NaN, infinite and missing
    metrics, and ties on start_time."""

    def __init__(self, root: Path) -> None:
        self.store = open_store(root)
        add = self._add
        add(
            "r1",
            1000,
            "FINISHED",
            "ann",
            params={"lr": "0.1", "model": "rf", "opt/lr": "adam"},
            metrics={"acc": 0.9, "loss": 0.5, "f1-score": 0.7},
            tags={"env": "prod", "team": "A"},
        )
        add(
            "r2",
            2000,
            "FAILED",
            "bob",
            params={"lr": "0.01", "model": "svm"},
            metrics={"acc": 0.8, "loss": NAN},
            tags={"env": "dev"},
        )
        add(
            "r3",
            3000,
            "KILLED",
            "ann",
            params={"lr": "1e-3", "model": "RF"},
            metrics={"acc": [0.95, NAN], "val.loss": 0.2},
            tags={"env": "Prod"},
        )
        add(
            "r4",
            4000,
            "RUNNING",
            "bob",
            params={"lr": "abc", "model": "mlp", "learning rate": "10"},
            metrics={"acc": INF},
        )
        add(
            "r5",
            2000,
            "FINISHED",
            "ann",
            params={"lr": " 3", "layers": "10"},
            metrics={"acc": -INF, "loss": 0.1},
            tags={"env": "dev", "note": "it's"},
        )
        add("Ünïcode run", 500, "FINISHED", "ann")
        add(
            "r7",
            5000,
            "FINISHED",
            "carol",
            params={"lr": "10", "delta": "-2", "one": "1.0"},
            metrics={"acc": 0.8, "loss": 0.3},
            tags={"env": "staging", "path": "C:\\temp\\x"},
        )

    def _add(self, name: str, start: int, status: str, user: str, **kwargs: object) -> None:
        add_run(self.store, name, start_time=start, status=status, user=user, **kwargs)  # type: ignore[arg-type]

    def runs(self) -> list[Run]:
        return search_runs(self.store)

    def names(self, runs: list[Run]) -> list[str]:
        return [_short(run) for run in runs]

    def tie(self, *names: str) -> list[str]:
        """Runs equal on every key: in run id order."""
        by_name = {_short(run): run.info.run_id for run in self.runs()}
        return sorted(names, key=by_name.__getitem__)


def _short(run: Run) -> str:
    return "r6" if run.info.run_name.startswith("Ü") else run.info.run_name


@pytest.fixture(scope="module")
def zoo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Zoo]:
    zoo = Zoo(tmp_path_factory.mktemp("zoo"))
    yield zoo
    zoo.store.close()


ALL = {"r1", "r2", "r3", "r4", "r5", "r6", "r7"}

FILTERS: list[tuple[str, set[str]]] = [
    # metrics: numeric; NaN and missing never match a comparison
    ("metrics.acc > 0.85", {"r1", "r4"}),
    ("metrics.acc = 0.8", {"r2", "r7"}),
    ("metrics.acc == 0.8", {"r2", "r7"}),
    ("metrics.acc != 0.8", {"r1", "r4", "r5"}),
    ("metrics.acc <> 0.8", {"r1", "r4", "r5"}),
    ("metrics.acc < 0", {"r5"}),
    ("metrics.acc > -1e999", {"r1", "r2", "r4", "r7"}),
    ("metrics.acc <= 1e999", {"r1", "r2", "r4", "r5", "r7"}),
    ("metrics.acc IS NULL", {"r6"}),
    ("metrics.acc IS NOT NULL", ALL - {"r6"}),
    ("NOT metrics.acc > 0.85", ALL - {"r1", "r4"}),
    ("metrics.loss >= 0.3", {"r1", "r7"}),
    ("metrics.loss IN (0.1, 0.5)", {"r1", "r5"}),
    ("metrics.loss NOT IN (0.1, 0.5)", {"r7"}),
    ("metrics.val.loss < 1", {"r3"}),
    ("metric.`f1-score` > 0.5", {"r1"}),
    ('metrics."f1-score" > 0.5', {"r1"}),
    # params: strings, or numbers when compared with a number
    ("params.lr = '0.1'", {"r1"}),
    ("params.lr = 0.1", {"r1"}),
    ("params.lr > 0.005", {"r1", "r2", "r7"}),
    ("params.lr < 1", {"r1", "r2", "r3"}),
    ("params.lr != 0.1", {"r2", "r3", "r7"}),
    ("params.lr != '0.1'", {"r2", "r3", "r4", "r5", "r7"}),
    ("params.lr > '0.05'", {"r1", "r3", "r4", "r7"}),
    ("params.lr IN ('abc', 10)", {"r4", "r7"}),
    ("params.lr NOT IN ('abc', 10)", {"r1", "r2", "r3"}),
    ("params.lr NOT IN ('abc')", {"r1", "r2", "r3", "r5", "r7"}),
    ("params.lr IS NULL", {"r6"}),
    ("param.model LIKE 'r%'", {"r1"}),
    ("params.model ILIKE 'r%'", {"r1", "r3"}),
    ("params.model NOT LIKE 'r%'", {"r2", "r3", "r4"}),
    ("params.model NOT ILIKE 'R_'", {"r2", "r4"}),
    ("params.`learning rate` = '10'", {"r4"}),
    ('parameters."learning rate" = 10', {"r4"}),
    ("params.opt/lr = 'adam'", {"r1"}),
    ("params.delta = -2", {"r7"}),
    ("params.delta < 0", {"r7"}),
    ("params.one = 1", {"r7"}),
    ("params.one = '1'", set()),
    ("params.layers >= 10", {"r5"}),
    # tags
    ("tags.env = 'prod'", {"r1"}),
    ("tags.env ILIKE 'prod'", {"r1", "r3"}),
    ("tags.env IN ('dev', 'staging')", {"r2", "r5", "r7"}),
    ("tags.note = 'it''s'", {"r5"}),
    ('tags.note = "it\'s"', {"r5"}),
    ("tags.path = 'C:\\temp\\x'", {"r7"}),
    (r"tags.path LIKE 'C:\\\\%'", {"r7"}),  # LIKE 'C:\\%': a backslash, then anything
    (r"tags.path LIKE 'C:\\%'", set()),  # LIKE 'C:\%': a literal percent sign
    ("tags.env != 'dev'", {"r1", "r3", "r7"}),
    ("NOT tags.env = 'dev'", {"r1", "r3", "r4", "r6", "r7"}),
    ("tag.team IS NOT NULL", {"r1"}),
    ("tags.'mlcli.user' = 'carol'", {"r7"}),
    # attributes
    ("status = 'FINISHED'", {"r1", "r5", "r6", "r7"}),
    ("attributes.status IN ('FAILED', 'KILLED')", {"r2", "r3"}),
    ("status != 'RUNNING'", ALL - {"r4"}),
    ("status NOT IN ('RUNNING', 'FAILED')", ALL - {"r4", "r2"}),
    ("status LIKE 'F%'", {"r1", "r2", "r5", "r6", "r7"}),
    ("attr.status ILIKE 'running'", {"r4"}),
    ("start_time >= 2000 AND start_time < 4000", {"r2", "r3", "r5"}),
    ("created = 2000", {"r2", "r5"}),
    ("Created IN (500, 5000)", {"r6", "r7"}),
    ("end_time IS NULL", {"r4"}),
    ("end_time IS NOT NULL", ALL - {"r4"}),
    ("end_time > 0", ALL - {"r4"}),
    ("NOT end_time > 0", {"r4"}),
    ("end_time != 2500", ALL - {"r4", "r2", "r5"}),
    ("user = 'bob'", {"r2", "r4"}),
    ("user_id IN ('carol')", {"r7"}),
    ("run_name = 'r1'", {"r1"}),
    ("\"Run Name\" LIKE 'r%'", ALL - {"r6"}),
    ("run_name ILIKE 'üNÏcode%'", {"r6"}),
    ("run_name LIKE 'ü%'", set()),
    ("run_name > 'r5'", {"r6", "r7"}),
    ("experiment_id = '0'", ALL),
    ("experiment_id = 0", ALL),
    ("run_id LIKE '%'", ALL),
    ("run_id IS NULL", set()),
    # boolean structure
    ("metrics.acc > 0.85 OR params.model = 'svm' AND tags.env = 'dev'", {"r1", "r2", "r4"}),
    ("(metrics.acc > 0.85 OR params.model = 'svm') AND tags.env = 'dev'", {"r2"}),
    ("NOT (params.lr > 0.005 OR params.lr IS NULL)", {"r3", "r4", "r5"}),
    ("NOT NOT metrics.acc > 0.85", {"r1", "r4"}),
    ("NOT (metrics.acc > 0.85 AND status = 'RUNNING')", ALL - {"r4"}),
    ("metrics.acc > 0.85 and not status = 'RUNNING' or user = 'carol'", {"r1", "r7"}),
    # values are parameters, never SQL
    ("params.lr = '''; DROP TABLE runs; --'", set()),
    ("params.`x' OR 1=1 --` = 'y'", set()),
]


@pytest.mark.parametrize(("text", "expected"), FILTERS)
def test_filters(zoo: Zoo, text: str, expected: set[str]) -> None:
    found = zoo.names(search_runs(zoo.store, filter_string=text))
    assert set(found) == expected
    assert len(found) == len(expected)
    node = parse_filter(text)
    assert {_short(run) for run in zoo.runs() if evaluate(node, run)} == expected


def test_run_id_filters(zoo: Zoo) -> None:
    ids = {_short(run): run.info.run_id for run in zoo.runs()}

    def search(**kwargs: Any) -> list[Run]:
        return search_runs(zoo.store, **kwargs)

    assert zoo.names(search(filter_string=f"run_id = '{ids['r3']}'")) == ["r3"]
    found = search(filter_string=f"run_id IN ('{ids['r3']}', '{ids['r1']}')")
    assert set(zoo.names(found)) == {"r1", "r3"}
    found = search(filter_string=f"attributes.run_id != '{ids['r3']}'")
    assert set(zoo.names(found)) == ALL - {"r3"}
    found = search(filter_string=f"run_id LIKE '{ids['r5'][:6]}%'")
    assert zoo.names(found) == ["r5"]


def test_the_store_survives_hostile_values(zoo: Zoo) -> None:
    search_runs(zoo.store, filter_string="params.lr = '''; DROP TABLE runs; --'")
    assert len(zoo.runs()) == 7


def test_literals_never_appear_in_the_sql() -> None:
    compiled = compile_search(
        "params.secret = 'hunter2' OR metrics.m > 123.5 OR tags.t LIKE 'zz%' "
        "OR run_id IN ('abcdef') OR `Run Name` ILIKE 'qq'",
        ["params.order_key DESC"],
    )
    for literal in ("hunter2", "123.5", "zz", "abcdef", "qq", "secret", "order_key"):
        assert literal not in compiled.where_sql + compiled.order_sql
    assert "hunter2" in compiled.where_args
    assert compiled.order_args == ["order_key"]


def test_empty_search() -> None:
    compiled = compile_search(None, None)
    assert (compiled.where_sql, compiled.where_args) == ("", [])
    assert (compiled.order_sql, compiled.order_args) == ("r.start_time DESC, r.run_id ASC", [])
    assert compile_search("  ", []).where_sql == ""


ORDERS: list[tuple[list[str], list[str]]] = [
    (["metrics.acc DESC"], ["r4", "r1", "r7", "r2", "r5", "r3", "r6"]),
    (["metrics.acc"], ["r5", "r7", "r2", "r1", "r4", "r3", "r6"]),
    (["metrics.acc ASC"], ["r5", "r7", "r2", "r1", "r4", "r3", "r6"]),
    (["params.lr"], ["r5", "r2", "r1", "r7", "r3", "r4", "r6"]),
    (["params.lr DESC"], ["r4", "r3", "r7", "r1", "r2", "r5", "r6"]),
    (["tags.env DESC", "metrics.loss"], ["r7", "r1", "r5", "r2", "r3", "r4", "r6"]),
    (["tags.env DESC, metrics.loss"], ["r7", "r1", "r5", "r2", "r3", "r4", "r6"]),
    (["status", "user DESC"], ["r2", "r7", "r5", "r1", "r6", "r3", "r4"]),
    (["run_name DESC"], ["r6", "r7", "r5", "r4", "r3", "r2", "r1"]),
    (['"Run Name"'], ["r1", "r2", "r3", "r4", "r5", "r7", "r6"]),
    (["start_time DESC"], ["r7", "r4", "r3", "TIE", "r1", "r6"]),
    ([], ["r7", "r4", "r3", "TIE", "r1", "r6"]),
    (["Created"], ["r6", "r1", "TIE", "r3", "r4", "r7"]),
    (["end_time"], ["r6", "r1", "TIE", "r3", "r7", "r4"]),
    (["end_time DESC"], ["r7", "r3", "TIE", "r1", "r6", "r4"]),
    (["metrics.`f1-score` DESC"], ["r1", "r7", "r4", "r3", "TIE", "r6"]),
    (["metrics.nothing", "params.nothing DESC"], ["r7", "r4", "r3", "TIE", "r1", "r6"]),
]


@pytest.mark.parametrize(("order_by", "expected"), ORDERS)
def test_orders(zoo: Zoo, order_by: list[str], expected: list[str]) -> None:
    if "TIE" in expected:  # r2 and r5 start at the same time: they go in run id order
        at = expected.index("TIE")
        expected = expected[:at] + zoo.tie("r2", "r5") + expected[at + 1 :]
    assert zoo.names(search_runs(zoo.store, order_by=order_by)) == expected
    assert zoo.names(order_runs(zoo.runs(), parse_order_by(order_by))) == expected


def test_filter_order_and_limit(zoo: Zoo) -> None:
    found = search_runs(
        zoo.store,
        filter_string="metrics.acc IS NOT NULL AND status != 'FAILED'",
        order_by=["metrics.acc DESC"],
        max_results=3,
    )
    assert zoo.names(found) == ["r4", "r1", "r7"]


def test_a_fresh_store_with_a_changed_tag(store: Store) -> None:
    run_id = add_run(store, "a", tags={"stage": "one"})
    assert len(search_runs(store, filter_string="tags.stage = 'one'")) == 1
    store.runs.set_tags(run_id, {"stage": "two"})
    assert search_runs(store, filter_string="tags.stage = 'one'") == []
    assert len(search_runs(store, filter_string="tags.stage = 'two'")) == 1
    store.runs.set_tags(run_id, {"stage": None})
    assert len(search_runs(store, filter_string="tags.stage IS NULL")) == 1
