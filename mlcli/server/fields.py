"""The fields of one REST request, read with MLflow's rules and checked at the edge.

A GET request carries its fields in the query string (a repeated name is a list); any
other request carries a JSON object. Every accessor raises
:class:`~mlcli.errors.InvalidInputError` (HTTP 400, ``INVALID_PARAMETER_VALUE``) for a
missing required field or a value of the wrong type, naming the field, so that no
client input reaches the store unchecked and nothing a client sends becomes a 500.
"""

from __future__ import annotations

import json
import math
from typing import Any
from urllib.parse import parse_qsl

from mlcli.errors import InvalidInputError
from mlcli.server.errors import MalformedRequestError

_MAX_INT64 = 2**63 - 1
_NON_FINITE = {"nan": math.nan, "infinity": math.inf, "-infinity": -math.inf, "inf": math.inf}


class Fields:
    def __init__(self, values: dict[str, Any], path: dict[str, str] | None = None) -> None:
        self.values = values
        self.path = path or {}

    @classmethod
    def from_json(cls, body: bytes, path: dict[str, str] | None = None) -> Fields:
        if not body.strip():
            return cls({}, path)
        try:
            document = json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise MalformedRequestError(f"the request body is not valid JSON: {exc}") from None
        if not isinstance(document, dict):
            raise MalformedRequestError("the request body must be a JSON object")
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
        if not isinstance(value, int) or abs(value) > _MAX_INT64:
            raise _invalid(name, value, "a 64-bit integer")
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

    def _get(self, name: str, required: bool) -> Any:
        value = self.path.get(name, self.values.get(name))
        if value is None and required:
            raise InvalidInputError(f"missing value for required parameter {name!r}")
        return value


def _invalid(name: str, value: Any, expected: str) -> InvalidInputError:
    shown = json.dumps(value, default=str)
    if len(shown) > 80:
        shown = shown[:77] + "..."
    return InvalidInputError(f"invalid value {shown} for parameter {name!r}: expected {expected}")
