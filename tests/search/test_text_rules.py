"""The two rules evaluated both in Python and in SQL: when text is a number, and
LIKE/ILIKE patterns. Each side is checked against the other in a real SQLite."""

from __future__ import annotations

import itertools
import sqlite3
from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlcli.search.numeric import is_numeric_text, numeric_guard_sql
from mlcli.search.patterns import compile_like


@pytest.fixture(scope="module")
def db() -> Iterator[sqlite3.Connection]:
    connection = sqlite3.connect(":memory:")
    yield connection
    connection.close()


def sql_numeric(db: sqlite3.Connection, text: str) -> bool:
    row = db.execute(f"SELECT {numeric_guard_sql('v')} FROM (SELECT ? AS v)", (text,)).fetchone()
    return bool(row[0])


def sql_glob(db: sqlite3.Connection, text: str, glob: str) -> bool:
    return bool(db.execute("SELECT ? GLOB ?", (text, glob)).fetchone()[0])


# -- numbers -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "numeric"),
    [
        ("0.1", True),
        ("1e-3", True),
        ("10", True),
        ("-2", True),
        ("1.0", True),
        ("+4E5", True),
        (".5", True),
        ("5.", True),
        ("-0", True),
        ("007", True),
        ("1e+10", True),
        ("123456789012345678901234567890", True),
        (" 3", False),
        ("3 ", False),
        ("abc", False),
        ("", False),
        (".", False),
        ("-", False),
        ("1e", False),
        ("e1", False),
        ("1e+", False),
        ("1.2.3", False),
        ("1e1.5", False),
        ("--1", False),
        ("1-", False),
        ("inf", False),
        ("nan", False),
        ("Infinity", False),
        ("0x10", False),
        ("1_000", False),
        ("١٢", False),
        ("1,5", False),
        ("+.e1", False),
        ("1e1e1", False),
    ],
)
def test_numeric_text(db: sqlite3.Connection, text: str, numeric: bool) -> None:
    assert is_numeric_text(text) is numeric
    assert sql_numeric(db, text) is numeric


def test_numeric_guard_agrees_on_every_short_string(db: sqlite3.Connection) -> None:
    alphabet = "09.eE+- x"
    texts = ["".join(p) for n in range(5) for p in itertools.product(alphabet, repeat=n)]
    db.execute("CREATE TEMP TABLE texts (v TEXT)")
    db.executemany("INSERT INTO texts VALUES (?)", [(t,) for t in texts])
    in_sql = {row[0] for row in db.execute(f"SELECT v FROM texts WHERE {numeric_guard_sql('v')}")}
    assert in_sql == {t for t in texts if is_numeric_text(t)}
    db.execute("DROP TABLE texts")


@settings(max_examples=300, database=None)
@given(st.text(alphabet="0123456789.eE+-x ", max_size=12))
def test_numeric_guard_agrees_on_random_strings(db: sqlite3.Connection, text: str) -> None:
    assert sql_numeric(db, text) is is_numeric_text(text)


@settings(max_examples=200, database=None)
@given(st.floats(allow_nan=False, allow_infinity=False))
def test_python_floats_print_as_numbers(db: sqlite3.Connection, value: float) -> None:
    text = repr(value)
    assert is_numeric_text(text)
    assert sql_numeric(db, text)


# -- LIKE patterns -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "pattern", "like", "ilike"),
    [
        ("abc", "abc", True, True),
        ("abc", "ABC", False, True),
        ("ABC", "a%", False, True),
        ("abc", "a%", True, True),
        ("abc", "%c", True, True),
        ("abc", "%b%", True, True),
        ("abc", "a_c", True, True),
        ("abc", "a_", False, False),
        ("abc", "%", True, True),
        ("", "%", True, True),
        ("", "_", False, False),
        ("a%c", r"a\%c", True, True),
        ("abc", r"a\%c", False, False),
        ("a_c", r"a\_c", True, True),
        ("abc", r"a\_c", False, False),
        ("a\\c", r"a\\c", True, True),
        ("a*c", "a*c", True, True),
        ("abc", "a*c", False, False),
        ("a?c", "a?c", True, True),
        ("abc", "a?c", False, False),
        ("a[b]c", "a[b]c", True, True),
        ("abc", "a[b]c", False, False),
        ("ÉCOLE", "école", False, True),
        ("Straße", "STRASSE", False, False),
        ("straße", "STRAßE", False, True),
        ("line\nbreak", "line%break", True, True),
        ("x.y", "x_y", True, True),
        ("trailing\\", "trailing\\", True, True),
    ],
)
def test_like_patterns(
    db: sqlite3.Connection, text: str, pattern: str, like: bool, ilike: bool
) -> None:
    for ignore_case, expected in ((False, like), (True, ilike)):
        compiled = compile_like(pattern, ignore_case)
        assert compiled.matches(text) is expected
        assert sql_glob(db, text, compiled.glob) is expected


_PATTERN_CHARS = "ab%_\\*?[]^-AÉéßK\u212ak"


@settings(max_examples=400, database=None)
@given(
    text=st.text(alphabet="ab*?[]^-\\AÉéßK\u212ak\n", max_size=8),
    pattern=st.text(alphabet=_PATTERN_CHARS, max_size=8),
    ignore_case=st.booleans(),
)
def test_glob_and_regex_agree(
    db: sqlite3.Connection, text: str, pattern: str, ignore_case: bool
) -> None:
    compiled = compile_like(pattern, ignore_case)
    assert sql_glob(db, text, compiled.glob) is compiled.matches(text)
