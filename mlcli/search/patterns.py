"""LIKE and ILIKE patterns, turned into SQLite GLOB patterns and Python regexes.

SQLite's LIKE ignores ASCII case and nothing else, and PRAGMA case_sensitive_like
would change every query on the shared connection, so both operators compile to
GLOB (always case-sensitive). ILIKE matches each cased letter through a class of
its case variants (``[aA]``, ``[éÉ]``), so it ignores case beyond ASCII too. The
regex is built from the same parts, so Python and SQL agree by construction;
PostgreSQL matches the regex itself (``postgres_regex``).

Pattern syntax: ``%`` any run of characters, ``_`` exactly one character, and a
backslash makes the next character literal (``\\%``, ``\\_``, ``\\\\``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

_ANY = "%"
_ONE = "_"


@dataclass(frozen=True)
class Pattern:
    glob: str
    regex: re.Pattern[str]

    def matches(self, text: str) -> bool:
        return self.regex.fullmatch(text) is not None


@lru_cache(maxsize=256)
def compile_like(pattern: str, ignore_case: bool) -> Pattern:
    glob: list[str] = []
    regex: list[str] = []
    chars = iter(pattern)
    for ch in chars:
        if ch == _ANY:
            if glob[-1:] == ["*"]:  # %% is %: a run of them is one (PostgreSQL's regex
                continue  # refuses thousands of .* as too complex)
            glob.append("*")
            regex.append(".*")
        elif ch == _ONE:
            glob.append("?")
            regex.append(".")
        else:
            literal = next(chars, "\\") if ch == "\\" else ch
            variants = _case_variants(literal) if ignore_case else literal
            glob.append(_glob_chars(variants))
            regex.append(_regex_chars(variants))
    return Pattern("".join(glob), re.compile("".join(regex), re.DOTALL))


def postgres_regex(pattern: Pattern) -> str:
    """The pattern as a PostgreSQL regex (``~``), anchored at both ends. ``regex`` is
    an ARE of the same meaning: ``re.escape`` puts a backslash only before ASCII
    punctuation and white space, which ARE reads as that character; classes hold only
    letters; ``.`` matches a newline in both (DOTALL there, ARE's default)."""
    return f"^(?:{pattern.regex.pattern})$"


def _case_variants(ch: str) -> str:
    """``ch`` and its one-character upper and lower case forms, sorted."""
    return "".join(sorted({v for v in (ch, ch.lower(), ch.upper()) if len(v) == 1}))


def _glob_chars(variants: str) -> str:
    if len(variants) == 1 and variants not in "*?[":
        return variants
    return f"[{variants}]"


def _regex_chars(variants: str) -> str:
    if len(variants) == 1:
        return re.escape(variants)
    return "[" + "".join(re.escape(v) for v in variants) + "]"
