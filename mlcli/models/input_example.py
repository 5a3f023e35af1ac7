"""Input examples, saved beside ``MLmodel`` as MLflow saves them.

A DataFrame (or a dict of columns, or a list of records) is written as
``input_example.json`` in pandas' split orient and as ``serving_input_example.json``
wrapped in ``dataframe_split``, a body ready for the scoring server. A numpy array is
written as a nested list and served as ``{"inputs": ...}``.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mlcli.errors import InvalidInputError
from mlcli.models.packages import require

EXAMPLE_FILE = "input_example.json"
SERVING_EXAMPLE_FILE = "serving_input_example.json"


def example_as_data(example: Any) -> Any:
    """A dict of columns or a list of records as a DataFrame; arrays and frames as given."""
    if isinstance(example, Mapping) or (
        isinstance(example, list | tuple) and example and isinstance(example[0], Mapping)
    ):
        pd = require("pandas", "saving an input example")
        if isinstance(example, Mapping):
            columns = all(isinstance(v, list | tuple) for v in example.values())
            return pd.DataFrame(dict(example) if columns else [dict(example)])
        return pd.DataFrame(list(example))
    return example


def save_input_example(example: Any, directory: Path) -> dict[str, Any]:
    """Write the example files; returns MLmodel's ``saved_input_example_info``."""
    data = example_as_data(example)
    np = require("numpy", "saving an input example")
    pd = require("pandas", "saving an input example")
    if isinstance(data, pd.Series):
        data = data.to_frame()
    if isinstance(data, pd.DataFrame):
        split = {
            "columns": [str(c) for c in data.columns],
            "data": [[jsonable(v) for v in row] for row in data.itertuples(index=False)],
        }
        _write(directory / EXAMPLE_FILE, split)
        _write(directory / SERVING_EXAMPLE_FILE, {"dataframe_split": split})
        kind = {"type": "dataframe", "pandas_orient": "split"}
    elif isinstance(data, np.ndarray | list | tuple):
        values = jsonable(np.asarray(data).tolist())
        _write(directory / EXAMPLE_FILE, values)
        _write(directory / SERVING_EXAMPLE_FILE, {"inputs": values})
        kind = {"type": "ndarray"}
    else:
        raise InvalidInputError(
            f"cannot save an input example of type {type(example).__name__}: use a DataFrame, "
            "a numpy array, a dict of columns or a list of records"
        )
    return {"artifact_path": EXAMPLE_FILE, **kind, "serving_input_path": SERVING_EXAMPLE_FILE}


def load_input_example(directory: Path, info: Mapping[str, Any] | None) -> Any:
    """The saved example as a DataFrame or an array, or None when there is none."""
    if not info or not info.get("artifact_path"):
        return None
    document = json.loads((directory / info["artifact_path"]).read_text())
    if info.get("type") == "dataframe":
        pd = require("pandas", "loading an input example")
        orient = info.get("pandas_orient", "split")
        if orient == "records":
            return pd.DataFrame(document)
        return pd.DataFrame(document["data"], columns=document.get("columns"))
    np = require("numpy", "loading an input example")
    return np.asarray(document.get("inputs", document) if isinstance(document, dict) else document)


def jsonable(value: Any) -> Any:
    """A value JSON can hold: numpy scalars as Python numbers, NaN as null, dates as ISO
    text, bytes as base64."""
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if hasattr(value, "tolist") and not isinstance(value, str | bytes):
        value = value.tolist()
        if isinstance(value, list):
            return jsonable(value)
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        return None
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(bytes(value)).decode()
    if value is not None and type(value).__name__ in ("NAType", "NaTType"):
        return None
    return value


def _write(path: Path, document: Any) -> None:
    path.write_text(json.dumps(document, allow_nan=False))
