"""The run search compiled for PostgreSQL (a team store's index) finds what the search
compiled for SQLite (a local store's index) finds: the same runs in the same order,
and the same counts.

Each store below is a real local store; its SQLite index rows are copied into a fresh
PostgreSQL database holding the team store's tables (``mlcli.store.team.schema``),
and one statement per dialect (``mlcli.search.statements``) runs on each. The
database's default collation is ICU's en-US, as on a server set up for English:
there ``'a' < 'B'``, so text only compares and sorts as in SQLite (by bytes) where
the compiled SQL says ``COLLATE "C"``.
"""

from __future__ import annotations

import math
import random
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import psycopg
import pytest
from filter_cases import CASE_IDS, CASES, NAMES, STORED_PROMPT, tags_of
from hypothesis import given, settings
from hypothesis import strategies as st
from pgserver import Postgres

from mlcli.search import (
    Compare,
    Field,
    Node,
    OrderKey,
    evaluate,
    order_runs,
    parse_filter,
    parse_order_by,
)
from mlcli.search.dialect import POSTGRES, SQLITE
from mlcli.search.nodes import Scalar
from mlcli.search.numeric import is_numeric_text, postgres_number_sql
from mlcli.search.patterns import compile_like, postgres_regex
from mlcli.search.statements import run_count_sql, run_search_sql
from mlcli.store import Run, Store, ViewType
from mlcli.store.team.schema import TABLES

from .conftest import add_run, open_store
from .test_search_property import _build, filters, order_keys
from .test_search_store import FILTERS, ORDERS, Zoo

# (table, its columns in both indexes, what PostgreSQL needs besides)
COPIED: tuple[tuple[str, str, dict[str, str]], ...] = (
    ("experiments", "experiment_id, name, lifecycle_stage, creation_time, last_update_time",
     {"artifact_location": ""}),
    ("runs", "run_id, experiment_id, run_name, status, start_time, end_time, lifecycle_stage, "
     "deleted_time, user_id, parent_run_id", {"doc": "{}"}),
    ("params", "run_id, key, value", {}),
    ("tags", "run_id, key, value", {}),
    ("latest_metrics", "run_id, key, value, is_nan, step, timestamp", {}),
)  # fmt: skip


def english_database(postgres: Postgres) -> str:
    """The URL of a new database whose default collation is ICU's en-US."""
    name = f"test_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(postgres.url, autocommit=True) as connection:
        connection.execute(
            f"CREATE DATABASE \"{name}\" TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'en-US'"
        )
    return postgres.url.rsplit("/", 1)[0] + f"/{name}"


class Twin:
    """A local store and a copy of its index in PostgreSQL, searched alike."""

    def __init__(self, store: Store, url: str) -> None:
        self.store = store
        store.index.refresh()
        self.pg = psycopg.connect(url, autocommit=True)
        with self.pg.transaction():
            self.pg.execute(TABLES)
        self.pg.execute("SET search_path TO mlcli")
        for table, columns, extra in COPIED:
            rows = store.index.query(f"SELECT {columns} FROM {table}")
            names = [*columns.split(", "), *extra]
            marks = ", ".join(["%s"] * len(names))
            with self.pg.cursor() as cursor:
                cursor.executemany(
                    f"INSERT INTO {table} ({', '.join(names)}) VALUES ({marks})",
                    [(*row, *extra.values()) for row in rows],
                )
        self.runs = {run.info.run_id: run for run in self.all_runs()}

    def close(self) -> None:
        self.pg.close()
        self.store.close()

    def all_runs(self) -> list[Run]:
        sql, args = run_search_sql(None, None, None, view=ViewType.ALL)
        return self.store.runs_by_id([row[0] for row in self.store.index.query(sql, args)])

    def search(
        self, filter_string: str | None = None, order_by: Sequence[str] | None = None, **scope: Any
    ) -> list[str]:
        """The run ids found, the same in both databases (else the test fails)."""
        ids = scope.pop("experiment_ids", None)
        sql, args = run_search_sql(ids, filter_string, order_by, **scope)
        in_sqlite = [row[0] for row in self.store.index.query(sql, args)]
        sql, args = run_search_sql(ids, filter_string, order_by, **scope, dialect=POSTGRES)
        in_postgres = [row[0] for row in self.pg.execute(sql, args).fetchall()]
        assert in_postgres == in_sqlite, filter_string
        return in_sqlite

    def count(self, filter_string: str | None = None, **scope: Any) -> int:
        sql, args = run_count_sql(None, filter_string, **scope)
        in_sqlite = int(self.store.index.query(sql, args)[0][0])
        sql, args = run_count_sql(None, filter_string, **scope, dialect=POSTGRES)
        in_postgres = int(self.pg.execute(sql, args).fetchall()[0][0])
        assert in_postgres == in_sqlite, filter_string
        return in_sqlite

    def check(self, node: Node | None, keys: Sequence[OrderKey] = ()) -> list[str]:
        """Both databases, and Python's ``evaluate``/``order_runs``, agree."""
        text = None if node is None else str(node)
        found = self.search(text, [str(key) for key in keys])
        matching = [run for run in self.runs.values() if evaluate(node, run)]
        assert found == [run.info.run_id for run in order_runs(matching, keys)], text
        assert self.count(text) == len(found)
        return found


@pytest.fixture(scope="module")
def english(postgres: Postgres) -> str:
    return english_database(postgres)


def _twin(
    tmp_path_factory: pytest.TempPathFactory, postgres: Postgres, build: Any
) -> Iterator[Twin]:
    store = build(tmp_path_factory.mktemp("twin"))
    twin = Twin(store, english_database(postgres))
    yield twin
    twin.close()


# -- the filter cases every search answers alike (tests/filter_cases.py) ---------------------


def _cases_store(root: Path) -> Store:
    store = open_store(root)
    for name in NAMES:
        add_run(store, name, tags=tags_of(name, "mlcli.prompt.is_prompt"))
    return store


@pytest.fixture(scope="module")
def cases(tmp_path_factory: pytest.TempPathFactory, postgres: Postgres) -> Iterator[Twin]:
    yield from _twin(tmp_path_factory, postgres, _cases_store)


@pytest.mark.parametrize(("text", "expected"), CASES, ids=CASE_IDS)
def test_the_filter_cases(cases: Twin, text: str, expected: set[str]) -> None:
    text = text.format(prompt=STORED_PROMPT)
    found = cases.search(text)
    assert {cases.runs[run_id].info.run_name for run_id in found} == expected
    assert cases.count(text) == len(expected)
    for order in (["tags.k"], ["tags.k DESC"], ["tags.`mlcli.prompt.is_prompt` DESC", "run_name"]):
        assert sorted(cases.search(text, order)) == sorted(found)


# -- the zoo of tests/search/test_search_store.py: every filter, every order ----------------


@pytest.fixture(scope="module")
def zoo(tmp_path_factory: pytest.TempPathFactory, postgres: Postgres) -> Iterator[Twin]:
    yield from _twin(tmp_path_factory, postgres, lambda root: Zoo(root).store)


@pytest.mark.parametrize(("text", "expected"), FILTERS, ids=[text for text, _ in FILTERS])
def test_the_zoo_filters(zoo: Twin, text: str, expected: set[str]) -> None:
    assert len(zoo.check(parse_filter(text))) == len(expected)
    keys = parse_order_by(["params.lr DESC", "metrics.acc"])
    assert len(zoo.check(parse_filter(text), keys)) == len(expected)


@pytest.mark.parametrize(("order_by", "_"), ORDERS, ids=[", ".join(o) or "-" for o, _ in ORDERS])
def test_the_zoo_orders(zoo: Twin, order_by: list[str], _: list[str]) -> None:
    assert len(zoo.check(None, parse_order_by(order_by))) == 7
    everything = zoo.search("metrics.acc IS NOT NULL", order_by)
    assert (
        zoo.search("metrics.acc IS NOT NULL", order_by, max_results=3, offset=1)
        == (everything[1:4])
    )


def test_paging_and_scope(zoo: Twin) -> None:
    everything = zoo.search(None, ["metrics.acc DESC"])
    pages = ((None, 0), (None, 2), (0, 0), (2, 0), (2, 5), (10, 6), (-1, 1), (None, -2), (2, -1))
    for max_results, offset in pages:
        found = zoo.search(None, ["metrics.acc DESC"], max_results=max_results, offset=offset)
        start = max(offset, 0)  # a negative offset is none, a negative limit no limit
        stop = None if max_results is None or max_results < 0 else start + max_results
        assert found == everything[start:stop]
    for ids in (None, [], ["0"], ["0", "404"], ["404"]):
        for view in ViewType.CHOICES:
            zoo.search("metrics.acc > 0", experiment_ids=ids, view=view)
            zoo.count("metrics.acc > 0", view=view)


def test_deleted_runs_and_experiments(tmp_path: Path, postgres: Postgres) -> None:
    store = open_store(tmp_path)
    kept = store.experiments.create("kept").experiment_id
    gone = store.experiments.create("gone").experiment_id
    runs = [add_run(store, f"r{i}", experiment_id=e) for i, e in enumerate([kept, gone] * 3)]
    store.runs.set_lifecycle(runs[0], "deleted")
    store.runs.set_lifecycle(runs[1], "deleted")
    store.experiments.delete(gone)
    twin = Twin(store, english_database(postgres))
    try:
        for view in ViewType.CHOICES:
            for ids in (None, [kept], [gone], [kept, gone], []):
                found = twin.search(None, experiment_ids=ids, view=view)
                assert twin.count(None, view=view) == len(twin.search(None, view=view))
                assert set(found) <= set(runs)
        assert set(twin.search(None, view=ViewType.ACTIVE_ONLY)) == {runs[2], runs[4]}
    finally:
        twin.close()


# -- random filters and orders over the random store of test_search_property.py -------------


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, postgres: Postgres) -> Iterator[Twin]:
    yield from _twin(tmp_path_factory, postgres, lambda root: _build(root).store)


@settings(max_examples=200, deadline=None, database=None)
@given(tree=filters, keys=order_keys)
def test_random_filters_and_orders(world: Twin, tree: Node, keys: list[OrderKey]) -> None:
    world.check(tree, keys)


@settings(max_examples=60, deadline=None, database=None)
@given(
    tree=filters,
    keys=order_keys,
    limit=st.one_of(st.none(), st.integers(0, 12)),
    offset=st.integers(0, 45),
)
def test_random_pages(
    world: Twin, tree: Node, keys: list[OrderKey], limit: int | None, offset: int
) -> None:
    order = [str(key) for key in keys]
    everything = world.search(str(tree), order)
    page = world.search(str(tree), order, max_results=limit, offset=offset)
    assert page == everything[offset : None if limit is None else offset + limit]


# -- where PostgreSQL differs: case folding, newlines, regex characters, text order ----------

TEXTS = [
    *("a.b", "axb", "a(b", "a)b", "a[b", "a]b", "^a", "a^", "a$", "$a", "a\\b", "a\\\\b"),
    *("a+b", "aab", "a*b", "a?b", "a{2}", "aa", "a|b", "a{b", "a}b", "a-b", "a#b", "a&b"),
    *("a b", "a\tb", "a\nb", "\n", "a\n", "\na", "line1\nline2\n", "a\r\nb", "", " "),
    *("é", "É", "e", "E", "ß", "ẞ", "SS", "ss", "σ", "Σ", "ς", "İ", "i", "I", "ı", "K"),
    *("k", "\u212a", "ǅ", "ǆ", "Ǆ", "ä", "Ä", "a\u0308", "straße", "STRASSE", "Straße"),
    *("B", "b", "A", "a", "Z", "z", "_", "~", "%", "10", "9", "😀", "中", "a_b", "a%b"),
    *("1e999", "-1e999", "1e-400", "+5", ".5", "1.", "0x10", "1_000", "inf", "nan", " 3"),
    *("1.7976931348623159e308", "1.7976931348623157e308", "-0", "0", "-.5e1", "1e308"),
]
METRICS = [0.0, -0.0, 1.0, -1.5, math.inf, -math.inf, math.nan, 1e308, 5e-324]
NUMBERS: list[float] = [
    *(0.0, -0.0, 5.0, 0.5, -5.0, 1.0, 10.0),
    *(1e308, -1e308, math.inf, -math.inf, 1.7976931348623157e308),
]
LITERALS: list[Scalar] = [*TEXTS, *NUMBERS]


def _quirks_store(root: Path) -> Store:
    store = open_store(root)
    rng = random.Random(5)
    for i, text in enumerate([*TEXTS, None, None]):
        metric = METRICS[i % len(METRICS)]
        add_run(
            store,
            text if text and text.isprintable() and text.strip() else f"run{i}",
            params={"v": text} if text is not None else {"w": "x"},
            tags={"t": rng.choice(TEXTS)} if i % 5 else {},
            metrics={} if i % 7 == 3 else {"m": metric},
            start_time=rng.choice([1, 2]),
            user=rng.choice(["b", "B", "a", "é", "Z"]),
        )
    return store


@pytest.fixture(scope="module")
def quirks(tmp_path_factory: pytest.TempPathFactory, postgres: Postgres) -> Iterator[Twin]:
    yield from _twin(tmp_path_factory, postgres, _quirks_store)


def _like_patterns() -> list[str]:
    escaped = [t.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") for t in TEXTS]
    return [
        *escaped,
        *(f"%{t}%" for t in escaped),
        *TEXTS,
        *("_", "__", "%", "%.%", "%$", "^%", "%\\\\%", "a_b", "a\\_b", "\\%", "%\n%", "a%"),
        *("%\n", "\n%", "a_", "_b", "%é%", "%S%", "%ß%", "%σ%", "%K%", "%ǅ%", "%İ%"),
        "%" * 6000,  # thousands of .* are too complex a regex for PostgreSQL: one .* here
        "%a" * 20 + "%",
    ]


@pytest.mark.parametrize("op", ["LIKE", "ILIKE", "NOT LIKE", "NOT ILIKE"])
def test_patterns_with_regex_characters_newlines_and_case(quirks: Twin, op: str) -> None:
    for pattern in _like_patterns():
        for field in (Field("param", "v"), Field("tag", "t"), Field("attribute", "run_name")):
            quirks.check(Compare(field, op, pattern))


@pytest.mark.parametrize("op", ["=", "!=", "<", "<=", ">", ">="])
def test_text_and_number_comparisons(quirks: Twin, op: str) -> None:
    for value in LITERALS:
        for field in (Field("param", "v"), Field("tag", "t"), Field("attribute", "user_id")):
            quirks.check(Compare(field, op, value))
    for number in NUMBERS:
        quirks.check(Compare(Field("metric", "m"), op, number))


@pytest.mark.parametrize("op", ["IN", "NOT IN"])
def test_membership(quirks: Twin, op: str) -> None:
    rng = random.Random(op)
    for _ in range(60):
        values = tuple(rng.sample(LITERALS, rng.randint(1, 4)))
        quirks.check(Compare(Field("param", "v"), op, values))
        quirks.check(Compare(Field("tag", "t"), op, values))


@pytest.mark.parametrize(
    "order_by",
    [["params.v"], ["params.v DESC"], ["tags.t"], ["tags.t DESC", "params.v"], ["metrics.m"],
     ["metrics.m DESC"], ["run_name"], ["run_name DESC"], ["user", "metrics.m"],
     ["user DESC", "tags.t DESC"], ["params.w DESC", "params.v"], ["end_time DESC"]],
)  # fmt: skip
def test_orders_of_mixed_case_non_ascii_and_missing_values(
    quirks: Twin, order_by: list[str]
) -> None:
    keys = parse_order_by(order_by)
    assert len(quirks.check(None, keys)) == len(TEXTS) + 2
    quirks.check(parse_filter("params.v LIKE '%a%'"), keys)


def test_the_database_would_order_text_otherwise(quirks: Twin) -> None:
    """Without COLLATE "C" the ICU database sorts these strings unlike bytes, so the order
    tests above are what prove the collation."""
    sql = "SELECT value FROM params WHERE key = 'v' ORDER BY value, run_id"
    by_collation = [row[0] for row in quirks.pg.execute(sql).fetchall()]
    assert by_collation != sorted(by_collation)


# -- the two PostgreSQL-only pieces, against Python itself ---------------------------------


def _number_texts() -> list[str]:
    edges = [
        "1e999", "-1e999", "1e-400", "-1e-400", "1.7976931348623157e308",
        "1.7976931348623158e308", "1.797693134862315807937289714053e308",
        "1.7976931348623159e308", "2.4703282292062328e-324", "2.4703282292062327e-324",
        "-2.4703282292062328e-324", "5e-324", "0.1", "1.", ".5", "+4E5", "9007199254740993",
        "0." + "0" * 400 + "1e400", "1" + "0" * 400 + "e-400", "0", "-0", "000",
        "0.000e99999999999999999999", "1e99999999999999999999999", "1e-99999999999999999999",
        "1" + "0" * 308, "1" + "0" * 309, "9" * 309, "0." + "0" * 323 + "247032822920623272",
        "0." + "0" * 323 + "247032822920623273", "1e308", "1e309", "10e308", "0.1e309",
        "0.01e-322", ".0000001e-317", "-" + "1" * 6000, "0." + "0" * 5990 + "1e5990",
        "0." + "0" * 5990 + "1e-9999", "1" * 3000 + "e-3300",
        "abc", "1e", "", "  3", "inf", "nan", "1_000", "0x10", "1e+", ".", "+", "-.e1",
    ]  # fmt: skip
    rng = random.Random(1)
    for _ in range(2000):
        whole = rng.choice(["", "0", "00", "1", "9" * rng.randint(1, 30), str(rng.getrandbits(64))])
        part = rng.choice(["", ".", "." + "0" * rng.randint(0, 400) + str(rng.getrandbits(60))])
        power = rng.choice(["", f"e{rng.randint(-700, 700)}", f"E+{rng.randint(0, 400)}",
                            f"e-{rng.randint(300, 340)}", f"e{rng.randint(300, 320)}"])  # fmt: skip
        edges.append(rng.choice(["", "-", "+"]) + whole + part + power)
    return edges


def test_text_reads_as_the_number_python_reads(english: str) -> None:
    texts = _number_texts()
    with psycopg.connect(english) as connection:
        rows = connection.execute(
            f"SELECT x, {postgres_number_sql('x')} FROM unnest(%s::text[]) AS x", [texts]
        ).fetchall()
    wrong = [(x[:40], got) for x, got in rows if got != (float(x) if is_numeric_text(x) else None)]
    assert len(rows) == len(texts)
    assert wrong == []


def test_like_patterns_as_regexes_mean_what_python_means(english: str) -> None:
    """Every character alone, escaped or not, in either case mode."""
    chars = [chr(c) for c in range(1, 128)] + list("éÉßẞσΣςİıK\u212aǅǆǄ😀中\u0308")
    patterns = [
        (compile_like(text, ignore_case), text)
        for ch in chars
        for text in {ch, "\\" + ch, f"%{ch}_"}
        for ignore_case in (False, True)
    ]
    values = [*chars, *(f"x{ch}y" for ch in chars), "", "\\", "\\\\", "ab"]
    with psycopg.connect(english) as connection:
        rows = connection.execute(
            "SELECT p.i, v.i FROM unnest(%s::text[]) WITH ORDINALITY AS p(re, i), "
            "unnest(%s::text[]) WITH ORDINALITY AS v(x, i) WHERE v.x ~ p.re",
            [[postgres_regex(p) for p, _ in patterns], values],
        ).fetchall()
    in_postgres = {(i - 1, j - 1) for i, j in rows}
    in_python = {
        (i, j)
        for i, (pattern, _) in enumerate(patterns)
        for j, value in enumerate(values)
        if pattern.matches(value)
    }
    assert in_postgres == in_python


def test_the_dialects_differ_only_where_they_must() -> None:
    query = ("params.a < 'x' AND tags.b LIKE 'y%'", ["params.a"], 5)
    sqlite = run_search_sql(["0"], *query)
    assert sqlite == run_search_sql(["0"], *query, dialect=SQLITE)
    sql, args = run_search_sql(["0"], *query, dialect=POSTGRES)
    assert "?" not in sql and "GLOB" not in sql
    assert sql.replace("%s", "").count("%") == 0  # psycopg reads % as a placeholder
    assert args == ["0", "a", "x", "b", "^(?:y.*)$", "a", 5, 0]
    numbers, _ = run_search_sql(None, "params.a > 1 AND tags.b IN (2, 'x')", None, dialect=POSTGRES)
    assert "\\" not in numbers  # whatever standard_conforming_strings says
    sql, args = run_search_sql(None, None, None, dialect=POSTGRES)
    assert sql.endswith('ORDER BY r.start_time DESC, r.run_id COLLATE "C" ASC') and args == []
    sql, args = run_search_sql(None, None, None, None, offset=3, dialect=POSTGRES)
    assert sql.endswith(" LIMIT ALL OFFSET %s") and args == [3]
