"""The fields of one REST request, read with MLflow's rules and checked at the edge.

A GET request carries its fields in the query string (a repeated name is a list); any
other request carries a JSON object. Every accessor raises
:class:`~mlcli.errors.InvalidInputError` (HTTP 400, ``INVALID_PARAMETER_VALUE``) for a
missing required field or a value of the wrong type, naming the field, so that no
client input reaches the store unchecked and nothing a client sends becomes a 500.

Before a handler runs, :meth:`Fields.check` gives every field of MLflow's messages
that the request carries its type (:data:`KINDS`, per endpoint where a name means two
things), whether or not the handler reads it: a malformed field is a 400, never
silently ignored. Names MLflow does not know are ignored, as MLflow's clients of
other versions send fields this server has no use for.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import parse_qsl

from mlcli.errors import InvalidInputError
from mlcli.web.bodies import parse_json
from mlcli.web.errors import MalformedRequestError

_MAX_INT64 = 2**63 - 1
_MAX_TIME_MS = 253_402_300_799_999  # 9999-12-31T23:59:59.999Z: what dates can show
_NON_FINITE = {"nan": math.nan, "infinity": math.inf, "-infinity": -math.inf, "inf": math.inf}

# The kinds of the fields of MLflow's request messages, by name; an endpoint where a
# name means something else says so (``Endpoint.kinds``).
STRING, INT64, TIME, DOUBLE, BOOL, STRINGS, OBJECTS = (
    "string", "int64", "time", "double", "bool", "strings", "objects",
)  # fmt: skip
KINDS: dict[str, str] = {
    **dict.fromkeys(
        (
            "experiment_id",
            "experiment_name",
            "name",
            "new_name",
            "artifact_location",
            "run_id",
            "run_uuid",
            "run_name",
            "user_id",
            "status",
            "key",
            "value",
            "metric_key",
            "filter",
            "page_token",
            "path",
            "view_type",
            "run_view_type",
            "model_id",
            "source_run_id",
            "model_type",
            "tag_key",
            "artifact_directory_path",
            "description",
            "alias",
            "version",
            "source",
            "stage",
            "dataset_name",
            "dataset_digest",
            "field_name",
        ),
        STRING,
    ),
    "max_results": INT64,
    "step": INT64,
    "start_time": TIME,
    "end_time": TIME,
    "timestamp": TIME,
    "archive_existing_versions": BOOL,
    "ascending": BOOL,
    "experiment_ids": STRINGS,
    "order_by": STRINGS,
    "stages": STRINGS,
    "tags": OBJECTS,
    "params": OBJECTS,
    "metrics": OBJECTS,
    "models": OBJECTS,
}
# Inside the objects of a list field (a batch's metrics are numbers, its tags text).
ITEM_KINDS: dict[str, dict[str, str]] = {"metrics": {"value": DOUBLE}}


class Fields:
    def __init__(self, values: dict[str, Any], path: dict[str, str] | None = None) -> None:
        self.values = values
        self.path = path or {}

    @classmethod
    def from_json(cls, body: bytes, path: dict[str, str] | None = None) -> Fields:
        if not body.strip():
            return cls({}, path)
        document = parse_json(body)
        if not isinstance(document, dict):
            raise MalformedRequestError(
                f"the request body must be a JSON object, not {_json_type(document)}"
            )
        return cls(document, path)

    @classmethod
    def from_query(cls, query: bytes, path: dict[str, str] | None = None) -> Fields:
        values: dict[str, Any] = {}
        try:
            pairs = parse_qsl(query.decode(), keep_blank_values=True, strict_parsing=False)
        except UnicodeDecodeError:
            raise MalformedRequestError("the query string is not valid UTF-8") from None
        for name, value in pairs:
            if name in values:
                previous = values[name]
                values[name] = (
                    [*previous, value] if isinstance(previous, list) else [previous, value]
                )
            else:
                values[name] = value
        return cls(values, path)

    def check(self, kinds: Mapping[str, str] | None = None, *, items: bool = True) -> Fields:
        """Every known field present has its kind (``kinds`` overrides :data:`KINDS`),
        and so has every known field of the objects in its lists (one level down: no
        MLflow message nests deeper)."""
        table = {**KINDS, **(kinds or {})}
        sent = Fields(self.values)  # what the body says, even where the path decides
        for name in list(self.values):
            kind = table.get(name)
            if kind is not None:
                sent._check_kind(name, kind)
            if kind == OBJECTS and items:
                for item in sent.objects(name):
                    item.check(ITEM_KINDS.get(name), items=False)
        return self

    # -- scalars -----------------------------------------------------------------------------

    def string(self, name: str, *, required: bool = False, default: str | None = None) -> Any:
        value = self._get(name, required)
        if value is None:
            return default
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return str(value)
        if not isinstance(value, str):
            raise _invalid(name, value, "a string")
        return value

    def required(self, name: str) -> str:
        value = self.string(name, required=True)
        if value == "":
            raise InvalidInputError(f"missing value for required parameter {name!r}")
        return str(value)

    def integer(self, name: str, *, required: bool = False, default: int | None = None) -> Any:
        """An int64; JSON numbers and decimal strings (proto3's int64 form) both do."""
        value = self._get(name, required)
        if value is None or value == "":
            return default
        if isinstance(value, bool):
            raise _invalid(name, value, "an integer")
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, str):
            try:
                value = int(value.strip())
            except ValueError:
                raise _invalid(name, value, "an integer") from None
        if not isinstance(value, int) or not -_MAX_INT64 - 1 <= value <= _MAX_INT64:
            raise _invalid(name, value, "a 64-bit integer")
        return value

    def time(self, name: str, *, required: bool = False) -> int | None:
        """Milliseconds since the epoch, from 1970 to the end of year 9999."""
        value = self.integer(name, required=required)
        if value is not None and not 0 <= value <= _MAX_TIME_MS:
            raise _invalid(name, value, "milliseconds since 1970 (0 to 253402300799999)")
        return value

    def number(self, name: str, *, required: bool = False) -> float | None:
        """A double; also "NaN", "Infinity" and "-Infinity", as proto3 JSON writes them."""
        value = self._get(name, required)
        if value is None:
            return None
        if isinstance(value, str) and value.strip().lower() in _NON_FINITE:
            return _NON_FINITE[value.strip().lower()]
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise _invalid(name, value, "a number")
        try:
            return float(value)
        except OverflowError:  # an integer with hundreds of digits
            raise _invalid(name, value, "a number within the range of a double") from None

    def boolean(self, name: str, default: bool = False) -> bool:
        value = self._get(name, False)
        if value is None or value == "":
            return default
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        raise _invalid(name, value, "true or false")

    # -- lists -------------------------------------------------------------------------------

    def strings(self, name: str) -> list[str]:
        value = self._get(name, False)
        if value is None:
            return []
        items = value if isinstance(value, list) else [value]
        if not all(isinstance(item, str) for item in items):
            raise _invalid(name, value, "a list of strings")
        return list(items)

    def objects(self, name: str) -> list[Fields]:
        """A list of JSON objects (``metrics``, ``params``, ``tags`` of a batch)."""
        value = self._get(name, False)
        if value is None:
            return []
        if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
            raise _invalid(name, value, "a list of objects")
        return [Fields(item) for item in value]

    def key_values(self, name: str) -> list[tuple[str, str]]:
        """``[{"key": k, "value": v}, ...]`` as pairs, in order."""
        pairs = []
        for item in self.objects(name):
            key = item.required("key")
            value = item.string("value", default="")
            pairs.append((key, value))
        return pairs

    # -- internals ---------------------------------------------------------------------------

    def _check_kind(self, name: str, kind: str) -> None:
        readers: dict[str, Callable[[str], Any]] = {
            STRING: self.string, INT64: self.integer, TIME: self.time, DOUBLE: self.number,
            BOOL: self.boolean, STRINGS: self.strings, OBJECTS: self.objects,
        }  # fmt: skip
        readers[kind](name)

    def _get(self, name: str, required: bool) -> Any:
        value = self.path.get(name, self.values.get(name))
        if value is None and required:
            raise InvalidInputError(f"missing value for required parameter {name!r}")
        return value


def _invalid(name: str, value: Any, expected: str) -> InvalidInputError:
    if isinstance(value, (dict, list)):
        shown = _json_type(value)  # never a deep document in a message
    else:
        shown = json.dumps(value, default=str)
        if len(shown) > 80:
            shown = shown[:77] + "..."
    return InvalidInputError(f"invalid value {shown} for parameter {name!r}: expected {expected}")


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    names: dict[type, str] = {str: "a string", list: "an array", dict: "an object"}
    return names.get(type(value), "a value")
