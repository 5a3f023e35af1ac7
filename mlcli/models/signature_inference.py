"""``infer_signature``: a signature from example inputs and outputs.

DataFrames, Series, dicts and lists of dicts become column specs (a column with
missing values is marked ``required: false``); numeric numpy arrays become tensor
specs whose first dimension is -1 (any batch size), as MLflow infers them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from mlcli.errors import InvalidInputError
from mlcli.models.packages import require
from mlcli.models.signature import (
    ColSpec,
    ModelSignature,
    ParamSchema,
    ParamSpec,
    Schema,
    TensorSpec,
)

_NUMPY_KINDS = {"b": "boolean", "M": "datetime", "U": "string", "S": "binary"}


def infer_signature(
    model_input: Any, model_output: Any = None, params: Mapping[str, Any] | None = None
) -> ModelSignature:
    """The signature of a model that takes ``model_input`` and returns ``model_output``.

    ``params`` maps inference parameter names to their default values.
    """
    return ModelSignature(
        inputs=infer_schema(model_input),
        outputs=None if model_output is None else infer_schema(model_output),
        params=None if not params else infer_param_schema(params),
    )


def infer_schema(data: Any) -> Schema:
    np = require("numpy", "inferring a signature")
    pd = require("pandas", "inferring a signature")
    if isinstance(data, pd.DataFrame):
        return Schema(tuple(_column(str(name), data[name]) for name in data.columns))
    if isinstance(data, pd.Series):
        return Schema((_column(None if data.name is None else str(data.name), data),))
    if isinstance(data, np.ndarray):
        return _array_schema(data)
    if isinstance(data, Mapping):
        return infer_schema(_frame_from_mapping(pd, data))
    if isinstance(data, list | tuple):
        if data and all(isinstance(row, Mapping) for row in data):
            return infer_schema(pd.DataFrame(list(data)))
        if data and all(isinstance(row, list | tuple) for row in data):
            return _array_schema(np.asarray(data))
        return Schema((_column(None, pd.Series(list(data), dtype=object)),))
    if isinstance(data, str | bytes | bool | int | float):
        return Schema((_column(None, pd.Series([data], dtype=object)),))
    raise InvalidInputError(
        f"cannot infer a schema from {type(data).__name__}: use a pandas DataFrame or Series, "
        "a numpy array, a dict or a list of dicts"
    )


def infer_param_schema(params: Mapping[str, Any]) -> ParamSchema:
    specs = []
    for name, default in params.items():
        kind = _scalar_type(default)
        if kind is None:
            raise InvalidInputError(
                f"cannot infer the type of param {name!r} from {default!r}: "
                "use a string, number, boolean or datetime default"
            )
        specs.append(ParamSpec(str(name), kind, default))
    return ParamSchema(tuple(specs))


def data_type_of_dtype(dtype: Any) -> str | None:
    """The DATA_TYPES name for a numpy or pandas dtype, or None (object columns)."""
    np = require("numpy", "inferring a signature")
    name = str(dtype)
    nullable = {
        "Int8": "integer",
        "Int16": "integer",
        "Int32": "integer",
        "Int64": "long",
        "boolean": "boolean",
        "Float32": "float",
        "Float64": "double",
        "string": "string",
        "str": "string",
    }
    if name in nullable:
        return nullable[name]
    if not isinstance(dtype, np.dtype):
        return None
    if dtype.kind in "iu":
        return (
            "integer"
            if dtype.itemsize < 4 or (dtype.itemsize == 4 and dtype.kind == "i")
            else "long"
        )
    if dtype.kind == "f":
        return "float" if dtype.itemsize <= 4 else "double"
    return _NUMPY_KINDS.get(dtype.kind)


def _column(name: str | None, series: Any) -> ColSpec:
    missing = bool(series.isna().any())
    kind = data_type_of_dtype(series.dtype)
    if kind is None:
        kind = _object_type(name, series.dropna().tolist())
    return ColSpec(kind, name, required=not missing)


def _object_type(name: str | None, values: list[Any]) -> str:
    kinds = {_scalar_type(v) for v in values}
    if kinds <= {"long", "double"} and kinds:
        return "double" if "double" in kinds else "long"
    if len(kinds) == 1:
        (kind,) = kinds
        if kind is not None:
            return kind
    if not values:
        return "string"
    label = f"column {name!r}" if name is not None else "the input"
    if None in kinds:
        bad = next(v for v in values if _scalar_type(v) is None)
        raise InvalidInputError(
            f"cannot infer a type for {label}: it holds {type(bad).__name__} values, which "
            "signatures do not describe; pass signature=False or a signature of your own"
        )
    raise InvalidInputError(
        f"cannot infer a type for {label}: it mixes {', '.join(sorted(k or '?' for k in kinds))}"
    )


def _scalar_type(value: Any) -> str | None:
    np = require("numpy", "inferring a signature")
    if isinstance(value, bool | np.bool_):
        return "boolean"
    if isinstance(value, int | np.integer):
        return "long"
    if isinstance(value, float | np.floating):
        return "double"
    if isinstance(value, str):
        return "string"
    if isinstance(value, bytes | bytearray):
        return "binary"
    if isinstance(value, dt.datetime | dt.date | np.datetime64):
        return "datetime"
    return None


def _array_schema(array: Any) -> Schema:
    if array.ndim == 0:
        raise InvalidInputError("cannot infer a schema from a 0-dimensional array")
    if array.dtype.kind in "OUS":
        pd = require("pandas", "inferring a signature")
        if array.ndim != 1:
            raise InvalidInputError(
                f"cannot infer a schema from a {array.ndim}-dimensional array of "
                f"{array.dtype}: use a DataFrame for text columns"
            )
        return Schema((_column(None, pd.Series(array, dtype=object)),))
    return Schema((TensorSpec(str(array.dtype), (-1, *array.shape[1:])),))


def _frame_from_mapping(pd: Any, data: Mapping[str, Any]) -> Any:
    if all(isinstance(v, list | tuple) or hasattr(v, "__array__") for v in data.values()):
        return pd.DataFrame({str(k): list(v) for k, v in data.items()})
    return pd.DataFrame([dict(data)])
