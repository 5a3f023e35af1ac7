"""Signature enforcement: make prediction input fit a model's input schema, or say why not.

For column schemas the input becomes a DataFrame with the schema's columns in the
schema's order: a missing required column is an error, an extra column is dropped
with a :class:`SchemaWarning`, and each column is converted to its type only when no
information is lost (ints to double, whole floats to long, ISO strings to datetime,
base64 to binary). Anything else (a string in a numeric column, 1.5 for a long, an
int for a string) is a :class:`SchemaEnforcementError` naming the column, the expected
type and the first offending value. Tensor schemas check the shape and cast the dtype
when numpy calls the cast safe; named tensors are taken from a dict, or from a
DataFrame's columns of the same names (as MLflow takes them).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any

from mlcli.models.errors import SchemaEnforcementError
from mlcli.models.packages import require
from mlcli.models.signature import ColSpec, ParamSchema, Schema, TensorSpec, shape_text
from mlcli.models.type_conversion import convert_column, convert_param


class SchemaWarning(UserWarning):
    """Input was accepted, but part of it was ignored (extra columns, unknown params)."""


def enforce_schema(data: Any, schema: Schema) -> Any:
    """``data`` converted to fit ``schema``; SchemaEnforcementError if it cannot."""
    if not schema.specs:
        return data
    if schema.is_tensor:
        return _enforce_tensors(data, schema)
    frame = as_frame(data, schema)
    if schema.has_names:
        return _enforce_named_columns(frame, schema)
    return _enforce_positional_columns(frame, schema)


def enforce_params(params: Mapping[str, Any] | None, schema: ParamSchema | None) -> Any:
    """Params with defaults filled in and values converted; unknown names are dropped
    with a warning. Without a params schema, params pass through untouched."""
    if schema is None:
        return params
    if params is not None and not isinstance(params, Mapping):
        raise SchemaEnforcementError(f"params must be a mapping, got {type(params).__name__}")
    given = dict(params or {})
    known = {spec.name for spec in schema.specs}
    unknown = sorted(set(given) - known)
    if unknown:
        warnings.warn(
            f"ignoring params not in the model signature: {', '.join(unknown)}",
            SchemaWarning,
            stacklevel=3,
        )
    return {
        spec.name: convert_param(spec, given[spec.name]) if spec.name in given else spec.default
        for spec in schema.specs
    }


def as_frame(data: Any, schema: Schema) -> Any:
    """Input in any of the accepted shapes as a DataFrame with the schema's column names
    where the input has none (arrays, lists of lists)."""
    pd = require("pandas", "predicting with a column signature")
    np = require("numpy", "predicting with a column signature")
    if isinstance(data, pd.DataFrame):
        return data
    names = schema.names() or None
    if isinstance(data, pd.Series):
        name = data.name if data.name is not None else (names[0] if names else 0)
        return data.to_frame(name=name)
    if isinstance(data, Mapping):
        if all(isinstance(v, list | tuple) or hasattr(v, "__array__") for v in data.values()):
            return pd.DataFrame({k: list(v) for k, v in data.items()})
        return pd.DataFrame([dict(data)])
    if isinstance(data, list | tuple) and data and all(isinstance(r, Mapping) for r in data):
        return pd.DataFrame(list(data))
    if isinstance(data, list | tuple | np.ndarray):
        array = np.asarray(data, dtype=object) if isinstance(data, list | tuple) else data
        if array.ndim == 1 and len(schema.specs) == 1:
            array = array.reshape(-1, 1)
        if array.ndim != 2:
            raise SchemaEnforcementError(
                f"input of shape {shape_text(array.shape)} does not fit a schema of "
                f"{len(schema.specs)} columns"
            )
        if array.shape[1] != len(schema.specs):
            raise SchemaEnforcementError(
                f"input has {array.shape[1]} columns, the model expects {len(schema.specs)}"
                + (f" ({', '.join(repr(n) for n in names)})" if names else "")
            )
        frame = pd.DataFrame(array, columns=names)
        return frame.infer_objects() if array.dtype == object else frame
    raise SchemaEnforcementError(
        f"cannot use {type(data).__name__} as model input: pass a DataFrame, a dict of "
        "columns, a list of records or an array"
    )


def _enforce_named_columns(frame: Any, schema: Schema) -> Any:
    pd = require("pandas", "predicting with a column signature")
    specs: list[ColSpec] = list(schema.specs)  # type: ignore[arg-type]
    present = set(frame.columns)
    missing = [s for s in specs if s.required and s.name not in present]
    if missing:
        listed = ", ".join(s.describe() for s in missing)
        noun = "column" if len(missing) == 1 else "columns"
        raise SchemaEnforcementError(f"input is missing {noun} {listed}")
    names = set(schema.names())
    extra = [c for c in frame.columns if c not in names]
    if extra:
        warnings.warn(
            "ignoring input columns not in the model signature: "
            + ", ".join(repr(c) for c in extra),
            SchemaWarning,
            stacklevel=4,
        )
    columns = {s.name: convert_column(frame[s.name], s) for s in specs if s.name in present}
    return pd.DataFrame(columns, index=frame.index)


def _enforce_positional_columns(frame: Any, schema: Schema) -> Any:
    pd = require("pandas", "predicting with a column signature")
    specs: list[ColSpec] = list(schema.specs)  # type: ignore[arg-type]
    if frame.shape[1] != len(specs):
        raise SchemaEnforcementError(
            f"input has {frame.shape[1]} columns, the model expects {len(specs)}"
        )
    columns = {
        name: convert_column(frame[name], spec, label=f"column {index}")
        for index, (name, spec) in enumerate(zip(frame.columns, specs, strict=True))
    }
    return pd.DataFrame(columns, index=frame.index)


def _enforce_tensors(data: Any, schema: Schema) -> Any:
    specs: list[TensorSpec] = list(schema.specs)  # type: ignore[arg-type]
    if len(specs) == 1 and specs[0].name is None:
        return _enforce_tensor(data, specs[0], "input")
    if hasattr(data, "columns") and hasattr(data, "to_numpy"):  # a DataFrame: as MLflow
        data = _column_tensors(data, specs)
    if not isinstance(data, Mapping):
        raise SchemaEnforcementError(
            "the model takes named tensors "
            + ", ".join(repr(s.name) for s in specs)
            + f": pass a dict of arrays, not {type(data).__name__}"
        )
    missing = [s.name for s in specs if s.name not in data]
    if missing:
        raise SchemaEnforcementError(f"input is missing tensor {', '.join(map(repr, missing))}")
    return {s.name: _enforce_tensor(data[s.name], s, f"tensor {s.name!r}") for s in specs}


def _column_tensors(frame: Any, specs: list[TensorSpec]) -> dict[str, Any]:
    """A DataFrame's columns as the named tensors, as MLflow reads them: a column of
    scalars is a (-1,) or (-1, 1) tensor, a column of lists or arrays one row each."""
    np = require("numpy", "predicting with a tensor signature")
    tensors: dict[Any, Any] = {}
    for spec in specs:
        if spec.name not in frame.columns:
            continue  # reported as missing
        values = frame[spec.name].tolist()
        if values and isinstance(values[0], list | tuple | np.ndarray):
            array = np.vstack([np.asarray(v) for v in values])
        else:
            array = np.asarray(values)
        if array.ndim == 1 and len(spec.shape) == 2:
            array = array.reshape(-1, 1)
        tensors[spec.name] = array
    return tensors


def _enforce_tensor(data: Any, spec: TensorSpec, label: str) -> Any:
    np = require("numpy", "predicting with a tensor signature")
    pd = require("pandas", "predicting with a tensor signature")
    array = data.to_numpy() if isinstance(data, pd.DataFrame | pd.Series) else np.asarray(data)
    if array.ndim != len(spec.shape) or any(
        want not in (-1, got) for want, got in zip(spec.shape, array.shape, strict=True)
    ):
        raise SchemaEnforcementError(
            f"{label} has shape {shape_text(array.shape)}, the model expects "
            f"{shape_text(spec.shape)} (-1: any size)"
        )
    target = np.dtype(spec.dtype)
    if array.dtype == target:
        return array
    if _safe_cast(np, array, target):
        return array.astype(target)
    sample = _first_offender(np, array, target)
    raise SchemaEnforcementError(
        f"{label} expects {target}, got {array.dtype}"
        + (f" (e.g. {sample!r})" if sample is not None else "")
        + ", which cannot be converted without loss"
    )


def _safe_cast(np: Any, array: Any, target: Any) -> bool:
    if array.dtype.kind in "iuf" and target.kind == "f":
        return True  # JSON numbers arrive as int64/float64 whatever the model was trained on
    if np.can_cast(array.dtype, target, casting="safe"):
        return True
    if array.dtype.kind == "f" and target.kind in "iu":
        return bool(np.all(np.isfinite(array)) and np.all(array == np.round(array)))
    if array.dtype.kind == "O":
        kinds = {type(v) for v in array.ravel().tolist()}
        if target.kind == "f":
            return kinds <= {int, float}
        if target.kind in "iu":
            return kinds <= {int}
    return False


def _first_offender(np: Any, array: Any, target: Any) -> Any:
    for value in array.ravel().tolist():
        if isinstance(value, str | bytes) or (
            target.kind in "iu" and isinstance(value, float) and not float(value).is_integer()
        ):
            return value
    return None
