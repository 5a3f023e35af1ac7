"""The syntax tree of a filter, and of an order-by key.

Nodes compare equal when they mean the same thing (source positions are kept for
messages only), and ``str(node)`` prints filter text that parses back to the node.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Literal

from mlcli.search.tokens import is_word_char

FieldKind = Literal["metric", "param", "tag", "attribute"]
Scalar = str | float
Value = Scalar | tuple[Scalar, ...] | None

PREFIX_OF_KIND: dict[str, str] = {
    "metric": "metrics",
    "param": "params",
    "tag": "tags",
    "attribute": "attributes",
}

EQUALITY = ("=", "!=")
ORDERING = ("<", "<=", ">", ">=")
PATTERN = ("LIKE", "ILIKE", "NOT LIKE", "NOT ILIKE")
MEMBERSHIP = ("IN", "NOT IN")
NULL_TEST = ("IS NULL", "IS NOT NULL")
OPERATORS = EQUALITY + ORDERING + PATTERN + MEMBERSHIP + NULL_TEST


@dataclass(frozen=True)
class Field:
    """What a comparison looks at: ``metric``/``param``/``tag`` and its key, or an
    ``attribute`` and its canonical name (``start_time``, ``user_id``, ...)."""

    kind: FieldKind
    key: str

    def __str__(self) -> str:
        if self.kind == "attribute":
            return self.key
        key = self.key
        if not key or not all(is_word_char(ch) for ch in key):
            key = quote(key, "`")
        return f"{PREFIX_OF_KIND[self.kind]}.{key}"


@dataclass(frozen=True)
class Compare:
    """``field op value``; value is a scalar, a tuple for IN, None for IS NULL."""

    field: Field
    op: str
    value: Value
    position: int = dataclasses.field(default=0, compare=False)  # `field` is taken above

    def __str__(self) -> str:
        if self.op in NULL_TEST:
            return f"{self.field} {self.op}"
        if isinstance(self.value, tuple):
            return f"{self.field} {self.op} ({', '.join(map(format_value, self.value))})"
        assert self.value is not None
        return f"{self.field} {self.op} {format_value(self.value)}"


@dataclass(frozen=True)
class And:
    items: tuple[Node, ...]

    def __str__(self) -> str:
        return " AND ".join(_wrap(item, Or) for item in self.items)


@dataclass(frozen=True)
class Or:
    items: tuple[Node, ...]

    def __str__(self) -> str:
        return " OR ".join(str(item) for item in self.items)


@dataclass(frozen=True)
class Not:
    item: Node

    def __str__(self) -> str:
        return f"NOT {_wrap(self.item, (And, Or))}"


Node = Compare | And | Or | Not


@dataclass(frozen=True)
class OrderKey:
    field: Field
    descending: bool = False

    def __str__(self) -> str:
        return f"{self.field} {'DESC' if self.descending else 'ASC'}"


def format_value(value: Scalar) -> str:
    """A literal as filter text: strings single-quoted, numbers as Python prints them."""
    if isinstance(value, str):
        return quote(value, "'")
    if math.isinf(value):
        return "1e999" if value > 0 else "-1e999"
    return repr(float(value))


def quote(text: str, mark: str) -> str:
    escaped = text.replace("\\", "\\\\").replace(mark, "\\" + mark)
    return f"{mark}{escaped}{mark}"


def _wrap(node: Node, kinds: type | tuple[type, ...]) -> str:
    return f"({node})" if isinstance(node, kinds) else str(node)
