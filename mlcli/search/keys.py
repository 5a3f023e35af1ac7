"""Which names a filter may use: key prefixes and their aliases, and run attributes."""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from mlcli.search.nodes import FieldKind

PREFIXES: dict[str, FieldKind] = {
    "metrics": "metric",
    "metric": "metric",
    "params": "param",
    "param": "param",
    "parameters": "param",
    "parameter": "param",
    "tags": "tag",
    "tag": "tag",
    "attributes": "attribute",
    "attribute": "attribute",
    "attr": "attribute",
    "run": "attribute",
}


@dataclass(frozen=True)
class Attribute:
    """A run attribute: its column of ``runs`` and how it compares."""

    name: str
    column: str
    numeric: bool = False
    nullable: bool = False
    expression: str | None = None  # SQL over ``r`` for a derived attribute

    @property
    def sql(self) -> str:
        return self.expression or f"r.{self.column}"


ATTRIBUTES: dict[str, Attribute] = {
    a.name: a
    for a in (
        Attribute("run_id", "run_id"),
        Attribute("run_name", "run_name"),
        Attribute("status", "status"),
        Attribute("user_id", "user_id"),
        Attribute("experiment_id", "experiment_id"),
        Attribute("start_time", "start_time", numeric=True),
        Attribute("end_time", "end_time", numeric=True, nullable=True),
        Attribute(
            "duration", "", numeric=True, nullable=True, expression="(r.end_time - r.start_time)"
        ),
    )
}

_ALIASES: dict[str, str] = {
    **{name: name for name in ATTRIBUTES},
    "user": "user_id",
    "created": "start_time",
    "run name": "run_name",
    "duration_ms": "duration",
}

_NOT_FILTERABLE: dict[str, str] = {
    "lifecycle_stage": "lifecycle_stage cannot be searched on: use --deleted or --all "
    "(run_view_type in Python) to include deleted runs",
    "artifact_uri": "artifact_uri cannot be searched on in mlcli",
}

ATTRIBUTE_NAMES = "run_id, run_name, status, user, start_time, end_time, experiment_id"
PREFIX_NAMES = "metrics., params., tags. or attributes."


class UnknownNameError(Exception):
    """A name that is not valid here; the parser turns it into a FilterSyntaxError."""

    def __init__(self, detail: str, expected: str) -> None:
        super().__init__(detail)
        self.detail = detail
        self.expected = expected


def resolve_prefix(prefix: str) -> FieldKind:
    kind = PREFIXES.get(prefix.lower())
    if kind is not None:
        return kind
    if prefix.lower() in ("dataset", "datasets"):
        raise UnknownNameError(
            "datasets cannot be filtered: mlcli does not track datasets", f"one of {PREFIX_NAMES}"
        )
    hint = _suggest(prefix.lower(), ["metrics", "params", "tags", "attributes"], suffix=".")
    raise UnknownNameError(
        f"unknown key prefix '{prefix}.': expected {PREFIX_NAMES}{hint}", PREFIX_NAMES
    )


def resolve_attribute(name: str) -> str:
    """The canonical name of an attribute given by any alias, in any letter case."""
    lowered = name.lower()
    if lowered in _ALIASES:
        return _ALIASES[lowered]
    if lowered in _NOT_FILTERABLE:
        raise UnknownNameError(_NOT_FILTERABLE[lowered], f"one of {ATTRIBUTE_NAMES}")
    hint = _suggest(lowered, list(_ALIASES))
    raise UnknownNameError(
        f"unknown attribute '{name}': expected one of {ATTRIBUTE_NAMES}, or a key such as "
        f"metrics.acc, params.lr or tags.env{hint}",
        f"one of {ATTRIBUTE_NAMES}",
    )


def _suggest(word: str, choices: list[str], suffix: str = "") -> str:
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.7)
    return f" (did you mean '{close[0]}{suffix}'?)" if close else ""
