"""Lossless conversion of one input column (or one param) to a signature data type.

The rules, per expected type (anything else is an error naming the first bad value):

    double, float   floats; ints (JSON and CSV give ints for whole numbers); NaN
    long, integer   ints (in range); floats that are whole numbers
    boolean         booleans
    string          strings
    datetime        datetimes; strings pandas parses as dates
    binary          bytes; base64 text (JSON cannot carry bytes)

A required column may not hold missing values, except NaN in a float column.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import math
from typing import Any

from mlcli.models.errors import SchemaEnforcementError
from mlcli.models.packages import require
from mlcli.models.signature import ColSpec, ParamSpec

_INT_RANGE = {"integer": (-(2**31), 2**31 - 1), "long": (-(2**63), 2**63 - 1)}


def convert_column(series: Any, spec: ColSpec, label: str | None = None) -> Any:
    """``series`` as ``spec.type``, or SchemaEnforcementError."""
    if not spec.enforceable:
        return series
    if spec.type in ("double", "float") and str(series.dtype) == "float64":
        return series  # already what _to_float makes: the scoring server's hot path
    where = label or f"column {spec.name!r}"
    pd = require("pandas", "predicting with a column signature")
    values = series.dropna()
    if len(values) != len(series) and spec.required and spec.type not in ("double", "float"):
        row = series.index[series.isna().to_numpy()][0]
        raise SchemaEnforcementError(
            f"input {where} expects {spec.type}, got a missing value (row {row}); "
            "the column is required"
        )
    converter = _CONVERTERS[spec.type]
    try:
        return converter(pd, series, values)
    except _Offender as offender:
        raise SchemaEnforcementError(
            f"input {where} expects {spec.type}, got {_describe(offender.value)} "
            f"(row {offender.row})" + offender.why
        ) from None
    except _WrongDtype:
        raise SchemaEnforcementError(
            f"input {where} expects {spec.type}, got {_dtype_name(series)} values"
        ) from None


def convert_param(spec: ParamSpec, value: Any) -> Any:
    """A param value as its spec's type, or SchemaEnforcementError."""
    kind = spec.type
    number = isinstance(value, int | float) and not isinstance(value, bool)
    if kind in ("double", "float") and number:
        return float(value)
    if kind in ("long", "integer") and number and float(value).is_integer():
        return int(value)
    if (kind == "string" and isinstance(value, str)) or (
        kind == "boolean" and isinstance(value, bool)
    ):
        return value
    if kind not in ("double", "float", "long", "integer", "string", "boolean"):
        return value  # datetime, binary and composite params are passed as given
    raise SchemaEnforcementError(f"param {spec.name!r} expects {kind}, got {_describe(value)}")


class _Offender(Exception):
    def __init__(self, value: Any, row: Any, why: str = "") -> None:
        self.value, self.row, self.why = value, row, why


class _WrongDtype(Exception):
    pass


def _first(values: Any, bad: Any, why: str = "") -> _Offender:
    for row, value in values.items():
        if bad(value):
            return _Offender(value, row, why)
    return _Offender(None, "?", why)


def _to_float(pd: Any, series: Any, values: Any) -> Any:
    kind = series.dtype.kind if hasattr(series.dtype, "kind") else "O"
    if kind in "iuf":
        return series.astype("float64")
    if kind == "b":
        raise _WrongDtype
    if any(not _is_number(v) for v in values):
        raise _first(values, lambda v: not _is_number(v))
    return series.astype("float64")


def _to_int(pd: Any, series: Any, values: Any, kind: str) -> Any:
    dtype = series.dtype.kind if hasattr(series.dtype, "kind") else "O"
    if dtype == "b":
        raise _WrongDtype
    if dtype not in "iuf" and any(not _is_number(v) for v in values):
        raise _first(values, lambda v: not _is_number(v))
    numbers = values.astype("float64") if dtype == "f" else values
    if dtype not in "iu":  # whole numbers only; checked on the array, not value by value
        whole = numbers.to_numpy(dtype="float64")
        if not (whole == whole.round()).all():
            raise _first(
                values, lambda v: not float(v).is_integer(), ", which is not a whole number"
            )
    low, high = _INT_RANGE[kind]
    if len(values) and (numbers.min() < low or numbers.max() > high):
        raise _first(values, lambda v: not low <= int(v) <= high, f", out of the {kind} range")
    if len(values) != len(series):
        return series.astype("Int64" if kind == "long" else "Int32")
    return series.astype("int64" if kind == "long" else "int32")


def _to_bool(pd: Any, series: Any, values: Any) -> Any:
    if str(series.dtype) in ("bool", "boolean"):
        return series
    if any(not isinstance(v, bool) for v in values):
        raise _first(values, lambda v: not isinstance(v, bool))
    return series.astype("bool") if len(values) == len(series) else series.astype("boolean")


def _to_string(pd: Any, series: Any, values: Any) -> Any:
    if str(series.dtype) in ("str", "string"):
        return series.astype(object)
    if any(not isinstance(v, str) for v in values):
        raise _first(values, lambda v: not isinstance(v, str))
    return series.astype(object)


def _to_datetime(pd: Any, series: Any, values: Any) -> Any:
    if str(series.dtype).startswith("datetime64"):
        return series
    for row, value in values.items():
        if not isinstance(value, str | dt.date) and type(value).__name__ != "datetime64":
            raise _Offender(value, row)
        try:
            pd.Timestamp(value)
        except (ValueError, TypeError):
            raise _Offender(value, row, ", which is not a date") from None
    return pd.to_datetime(series)


def _to_binary(pd: Any, series: Any, values: Any) -> Any:
    decoded: list[bytes | None] = []
    for row, value in zip(series.index, series.tolist(), strict=True):
        if isinstance(value, bytes | bytearray):
            decoded.append(bytes(value))
        elif isinstance(value, str):
            try:
                decoded.append(base64.b64decode(value, validate=True))
            except (binascii.Error, ValueError):
                raise _Offender(value, row, ", which is not base64") from None
        elif value is None or (isinstance(value, float) and math.isnan(value)):
            decoded.append(None)
        else:
            raise _Offender(value, row)
    return pd.Series(decoded, index=series.index, dtype=object, name=series.name)


_CONVERTERS = {
    "double": _to_float,
    "float": _to_float,
    "long": lambda pd, s, v: _to_int(pd, s, v, "long"),
    "integer": lambda pd, s, v: _to_int(pd, s, v, "integer"),
    "boolean": _to_bool,
    "string": _to_string,
    "datetime": _to_datetime,
    "binary": _to_binary,
}


def _is_number(value: Any) -> bool:
    if isinstance(value, bool) or type(value).__name__ == "bool_":
        return False
    if isinstance(value, int | float):
        return True
    return type(value).__module__ == "numpy" and type(value).__name__[:3] in ("int", "flo", "uin")


def _describe(value: Any) -> str:
    if isinstance(value, str):
        return f"the string {value[:40]!r}"
    if isinstance(value, bool):
        return f"the boolean {value}"
    if isinstance(value, float) and math.isnan(value):
        return "NaN"
    if isinstance(value, int | float):
        return f"the {type(value).__name__} {value!r}"
    return f"{type(value).__name__} {str(value)[:40]!r}"


def _dtype_name(series: Any) -> str:
    return {"bool": "boolean", "object": "mixed"}.get(str(series.dtype), str(series.dtype))
