"""When stored text counts as a number, decided identically in Python and in SQL.

Params, tags and most attributes are text. Compared with a number, a value takes
part only when it is a plain decimal number: an optional sign, digits with at most
one decimal point, and an optional exponent (``10``, ``-2``, ``0.1``, ``.5``, ``1.``,
``1e-3``, ``+4E5``). Anything else, including surrounding spaces, ``inf``, ``nan``,
hex and ``1_000``, is not a number and never matches a numeric comparison.

SQLite has no regular expressions, and ``CAST('abc' AS REAL)`` is 0.0, so the SQL
guard spells the same grammar out as GLOB tests over the allowed characters.
PostgreSQL matches the grammar's regex itself, and reads a number as Python's
``float()`` does (``postgres_number_sql``).
"""

from __future__ import annotations

import re

# Written without backslashes or quotes, so that the same text is a PostgreSQL regex
# inside a SQL string literal (``postgres_number_sql``).
NUMERIC_TEXT = re.compile(r"[+-]?(?:[0-9]+[.]?[0-9]*|[.][0-9]+)(?:[eE][+-]?[0-9]+)?")

# Together these hold for exactly the strings NUMERIC_TEXT matches in full ({x}
# stands for the column): only [0-9.eE+-]; a sign only first or right after the
# e; at most one e and one point, no point after the e; a digit before the e (or
# anywhere, without one); at least one digit after the e.
_GUARD = (
    "{x} NOT GLOB '*[^0-9.eE+-]*'",
    "{x} GLOB '*[0-9]*'",
    "{x} NOT GLOB '*[0-9.+-][+-]*'",
    "{x} NOT GLOB '*[eE]*[eE]*'",
    "{x} NOT GLOB '*.*.*'",
    "{x} NOT GLOB '*[eE]*.*'",
    "({x} NOT GLOB '*[eE]*' OR {x} GLOB '*[0-9]*[eE]*')",
    "{x} NOT GLOB '*[eE]'",
    "{x} NOT GLOB '*[eE][+-]'",
)
# A shortcut for the common case, a subset of the above: digits and at most one point.
_PLAIN = ("{x} NOT GLOB '*[^0-9.]*'", "{x} GLOB '*[0-9]*'", "{x} NOT GLOB '*.*.*'")


def is_numeric_text(text: str) -> bool:
    return NUMERIC_TEXT.fullmatch(text) is not None


def numeric_guard_sql(column: str) -> str:
    """A SQL condition: the text in ``column`` (a column name, never user input) is a
    number by the grammar above."""
    plain = " AND ".join(part.replace("{x}", column) for part in _PLAIN)
    full = " AND ".join(part.replace("{x}", column) for part in _GUARD)
    return f"(({plain}) OR ({full}))"


def as_number_sql(column: str) -> str:
    return f"CAST({column} AS REAL)"


# PostgreSQL refuses to cast text beyond a double's range ('1e999', '1e-999') where
# Python and SQLite round it to infinity or zero. Which it is follows from the decimal
# exponent of the first significant digit: ``lead`` (its place in the digits written)
# plus the written exponent ``e``. Only at 1e308 and 1e-324 does that leave a doubt,
# settled exactly in NUMERIC: a value rounds to infinity from 2**1024 - 2**970 up
# (halfway past the largest double), and to zero up to 2**-1075 (halfway to the
# smallest). The nested CASEs fix the order of evaluation, so no cast ever fails.
_TOO_BIG = str(2**1024 - 2**970)
_HALF_SMALLEST_INVERSE = str(2**1075)
# The common case is cast at once: at most 200 characters and an exponent of at most
# two digits stay between 1e-300 and 1e300 (the grammar has been checked before).
_PG_NUMBER = """(SELECT CASE
 WHEN n.lead IS NULL THEN CAST(0 AS double precision)
 WHEN n.lead + n.e >= 309 THEN n.sign * CAST('Infinity' AS double precision)
 WHEN n.lead + n.e <= -325 THEN CAST(0 AS double precision)
 WHEN n.lead + n.e = 308 THEN CASE WHEN abs(CAST({x} AS numeric)) >= {too_big}
  THEN n.sign * CAST('Infinity' AS double precision) ELSE CAST({x} AS double precision) END
 WHEN n.lead + n.e = -324 THEN CASE WHEN abs(CAST({x} AS numeric)) * {inverse} <= 1
  THEN CAST(0 AS double precision) ELSE CAST({x} AS double precision) END
 ELSE CAST({x} AS double precision) END
 FROM (SELECT CASE WHEN left({x}, 1) = '-' THEN -1 ELSE 1 END AS sign,
  CAST(coalesce(substring({x} from '[eE]([+-]?[0-9]+)$'), '0') AS numeric) AS e,
  CASE WHEN substring({x} from '^[+-]?0*([0-9]*)') <> ''
   THEN length(substring({x} from '^[+-]?0*([0-9]*)')) - 1
   WHEN length(substring({x} from '[.]([0-9]*)')) > length(substring({x} from '[.](0*)'))
   THEN -1 - length(substring({x} from '[.](0*)')) END AS lead) n)"""


def postgres_numeric_test_sql(column: str) -> str:
    """A PostgreSQL condition: the text in ``column`` is a number by the grammar above."""
    return f"{column} ~ '^(?:{NUMERIC_TEXT.pattern})$'"


def postgres_number_sql(column: str) -> str:
    """The text in ``column`` as a PostgreSQL double precision, as Python's ``float()``
    reads it; NULL when it is not a number by the grammar above."""
    number = _PG_NUMBER.format(x=column, too_big=_TOO_BIG, inverse=_HALF_SMALLEST_INVERSE)
    return (
        f"CASE WHEN {postgres_numeric_test_sql(column)} THEN CASE WHEN length({column}) <= 200 "
        f"AND {column} !~ '[eE][+-]?[0-9]{{3}}' THEN CAST({column} AS double precision) "
        f"ELSE {number} END END"
    )
