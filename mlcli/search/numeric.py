"""When stored text counts as a number, decided identically in Python and in SQL.

Params, tags and most attributes are text. Compared with a number, a value takes
part only when it is a plain decimal number: an optional sign, digits with at most
one decimal point, and an optional exponent (``10``, ``-2``, ``0.1``, ``.5``, ``1.``,
``1e-3``, ``+4E5``). Anything else, including surrounding spaces, ``inf``, ``nan``,
hex and ``1_000``, is not a number and never matches a numeric comparison.

SQLite has no regular expressions, and ``CAST('abc' AS REAL)`` is 0.0, so the SQL
guard spells the same grammar out as GLOB tests over the allowed characters.
"""

from __future__ import annotations

import re

NUMERIC_TEXT = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")

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
