"""The run filter language, compiled to SQL over the index (being written)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from mlcli.errors import InvalidInputError


@dataclass(frozen=True)
class CompiledSearch:
    where_sql: str = ""
    where_args: list[Any] = field(default_factory=list)
    order_sql: str = "r.start_time DESC, r.run_id ASC"
    order_args: list[Any] = field(default_factory=list)


def compile_search(filter_string: str | None, order_by: Sequence[str] | None) -> CompiledSearch:
    if filter_string or order_by:
        raise InvalidInputError("filters are not available yet")
    return CompiledSearch()
