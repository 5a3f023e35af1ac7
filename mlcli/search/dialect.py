"""What SQLite and PostgreSQL spell differently in a compiled search.

``sql.py`` writes one condition and one order for both index databases (the local
SQLite index, the team store's PostgreSQL); a :class:`Dialect` supplies the parts
that differ, so that both select the same runs in the same order:

- placeholders (``?``, ``%s``) and boolean constants (``1``/``0``, ``TRUE``/``FALSE``);
- LIKE patterns: SQLite GLOB, a PostgreSQL anchored regex (``patterns.py``);
- text read as a number: a GLOB guard and CAST in SQLite, the grammar's regex and a
  cast that rounds out-of-range text as Python does in PostgreSQL (``numeric.py``);
- NULL: SQLite sorts it lowest, PostgreSQL highest; orders put it last explicitly;
- text order: SQLite compares bytes (BINARY), PostgreSQL its database's collation
  unless told ``COLLATE "C"``, which compares bytes (code points, as Python does).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

from mlcli.search.numeric import as_number_sql, numeric_guard_sql, postgres_number_sql
from mlcli.search.patterns import Pattern, postgres_regex


class Dialect(ABC):
    name: str
    param: str  # the placeholder of one argument
    true: str
    false: str
    nulls_sort_low: bool  # a descending order puts NULL last by itself

    def params(self, count: int) -> str:
        """``count`` placeholders, comma separated."""
        return ", ".join([self.param] * count)

    @property
    def default_order(self) -> str:
        """The order after every other: newest first, then by run id."""
        return f"r.start_time DESC, {self.collated('r.run_id')} ASC"

    def collated(self, text_sql: str) -> str:
        """A text expression compared and sorted by its bytes."""
        return text_sql

    @abstractmethod
    def pattern(self, column: str, pattern: Pattern, negated: bool) -> tuple[str, str]:
        """A LIKE test of ``column`` and its one argument."""

    @abstractmethod
    def number_test(self, column: str, test: str) -> str:
        """``test`` (``> ?``, ``IN (?, ?)``) of the text in ``column`` read as a number;
        false when the text is not a number (``numeric.py``)."""

    @abstractmethod
    def order_terms(self, value: str, descending: bool, text: bool, nullable: bool) -> list[str]:
        """ORDER BY terms for ``value``, NULL last when ``nullable``; each term names
        ``value`` once (so its arguments are given once per term)."""

    @abstractmethod
    def limit(self, max_results: int | None, offset: int) -> tuple[str, list[Any]]:
        """The LIMIT/OFFSET clause (with a leading space, or empty) and its arguments;
        no limit when ``max_results`` is None or negative."""


class _SQLite(Dialect):
    name = "sqlite"
    param = "?"
    true = "1"
    false = "0"
    nulls_sort_low = True

    def pattern(self, column: str, pattern: Pattern, negated: bool) -> tuple[str, str]:
        return f"{column} {'NOT GLOB' if negated else 'GLOB'} ?", pattern.glob

    def number_test(self, column: str, test: str) -> str:
        return f"({as_number_sql(column)} {test} AND {numeric_guard_sql(column)})"

    def order_terms(self, value: str, descending: bool, text: bool, nullable: bool) -> list[str]:
        direction = "DESC" if descending else "ASC"
        return (
            [f"{value} IS NULL", f"{value} {direction}"] if nullable else [f"{value} {direction}"]
        )

    def limit(self, max_results: int | None, offset: int) -> tuple[str, list[Any]]:
        if max_results is None and not offset:
            return "", []
        return " LIMIT ? OFFSET ?", [-1 if max_results is None else int(max_results), int(offset)]


class _PostgreSQL(Dialect):
    name = "postgresql"
    param = "%s"  # psycopg's: the SQL holds no other percent sign
    true = "TRUE"
    false = "FALSE"
    nulls_sort_low = False

    def collated(self, text_sql: str) -> str:
        return f'{text_sql} COLLATE "C"'

    def pattern(self, column: str, pattern: Pattern, negated: bool) -> tuple[str, str]:
        return f"{column} {'!~' if negated else '~'} %s", postgres_regex(pattern)

    def number_test(self, column: str, test: str) -> str:
        return f"COALESCE({postgres_number_sql(column)} {test}, FALSE)"

    def order_terms(self, value: str, descending: bool, text: bool, nullable: bool) -> list[str]:
        term = f"{self.collated(value) if text else value} {'DESC' if descending else 'ASC'}"
        return [f"{term} NULLS LAST" if nullable else term]

    def limit(self, max_results: int | None, offset: int) -> tuple[str, list[Any]]:
        if max_results is None or int(max_results) < 0:
            return (" LIMIT ALL OFFSET %s", [int(offset)]) if offset > 0 else ("", [])
        return " LIMIT %s OFFSET %s", [int(max_results), max(int(offset), 0)]


SQLITE: Dialect = _SQLite()
POSTGRES: Dialect = _PostgreSQL()
