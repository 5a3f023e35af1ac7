"""Request bodies of MLflow's scoring protocol, parsed into model input.

JSON bodies are an object with exactly one of these keys, plus optional ``params``::

    {"dataframe_split": {"columns": ["x", "y"], "data": [[1, 2], [3, 4]]}}
    {"dataframe_records": [{"x": 1, "y": 2}, {"x": 3, "y": 4}]}
    {"instances": [[1, 2], [3, 4]]}          TF-serving rows (or records)
    {"inputs": {"x": [1, 3], "y": [2, 4]}}   TF-serving columns (or rows)

CSV bodies have a header row, and every row as many fields as the header (a row
with more or fewer is refused, naming its line). The model's input schema, when
given, shapes the result: columns for a column schema (string columns are kept as
text, so "007" stays "007"), arrays for a tensor schema. Used by ``mlcli models
predict`` and the scoring server; malformed bodies raise :class:`ScoringInputError`
(HTTP 400).
"""

from __future__ import annotations

import io
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from mlcli.models.errors import ScoringInputError
from mlcli.models.packages import require
from mlcli.models.signature import Schema

INPUT_KEYS = ("dataframe_split", "dataframe_records", "instances", "inputs")
CONTENT_TYPES = {"json": "application/json", "csv": "text/csv"}


@dataclass(frozen=True)
class ScoringInput:
    data: Any
    params: dict[str, Any] | None = field(default=None)


def parse_json_input(body: str | bytes, schema: Schema | None = None) -> ScoringInput:
    try:
        document = json.loads(body)
    except RecursionError:
        raise ScoringInputError("invalid JSON input: arrays or objects nest too deeply") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise ScoringInputError(f"invalid JSON input: {exc}") from None
    if not isinstance(document, dict):
        raise ScoringInputError(_layout_message(f"got a JSON {type(document).__name__}"))
    keys = [k for k in INPUT_KEYS if k in document]
    unknown = sorted(set(document) - set(INPUT_KEYS) - {"params"})
    if len(keys) != 1 or unknown:
        got = ", ".join(sorted(set(document) - {"params"})) or "none"
        raise ScoringInputError(_layout_message(f"got the fields: {got}"))
    params = document.get("params")
    if params is not None and not isinstance(params, dict):
        raise ScoringInputError('"params" must be a JSON object')
    key = keys[0]
    parse = {
        "dataframe_split": _dataframe_split,
        "dataframe_records": _dataframe_records,
        "instances": _tf_serving,
        "inputs": _tf_serving,
    }[key]
    return ScoringInput(parse(document[key], schema, key), params)


def parse_csv_input(body: str | bytes, schema: Schema | None = None) -> Any:
    pd = require("pandas", "reading CSV input")
    text = body.decode() if isinstance(body, bytes) else body
    dtypes = {}
    if schema is not None and schema.has_names and not schema.is_tensor:
        dtypes = {s.name: str for s in schema.specs if getattr(s, "type", None) == "string"}
    try:
        frame = pd.read_csv(io.StringIO(text), dtype=dtypes or None, keep_default_na=True)
    except (ValueError, pd.errors.ParserError) as exc:
        check_csv_rows(text)  # the same message as below for a row of the wrong length
        raise ScoringInputError(f"invalid CSV input: {str(exc).strip().splitlines()[0]}") from None
    # pandas takes the extra fields of a first row longer than the header for an index
    # (a longer row after it is an error), and fills short rows with NaN: a shifted or
    # made-up table, never scored. The first row is checked always, every row again
    # only when the last column has NaNs to explain (a short row leaves it empty).
    check_csv_rows(text, rows=2)
    if len(frame.columns) and frame.iloc[:, -1].isna().any():
        check_csv_rows(text)
    if schema is not None and schema.is_tensor:
        return frame.to_numpy()
    return frame


def check_csv_rows(text: str, rows: int | None = None) -> None:
    """ScoringInputError naming the first row whose number of fields is not the
    header's (blank lines are skipped, as pandas skips them); only the first ``rows``
    rows, the header included, when given."""
    import csv

    reader = csv.reader(io.StringIO(text))
    header: list[str] | None = None
    seen = 0
    start = 1  # the line the next record starts on
    try:
        for row in reader:
            if row and (len(row) > 1 or row[0].strip()):  # not a blank line
                if header is None:
                    header = row
                elif len(row) != len(header):
                    raise ScoringInputError(
                        f"invalid CSV input: line {start} has {len(row)} fields, the header "
                        f"has {len(header)}: every row needs one value per column (an empty "
                        "one for a missing value)"
                    )
                seen += 1
                if rows is not None and seen >= rows:
                    return
            start = reader.line_num + 1
    except csv.Error as exc:
        raise ScoringInputError(f"invalid CSV input: line {reader.line_num}: {exc}") from None


def parse_input(body: str | bytes, content_type: str, schema: Schema | None) -> ScoringInput:
    """A body of content type ``json`` or ``csv`` (or their MIME types)."""
    kind = content_type.split(";")[0].strip().lower()
    if kind in ("json", CONTENT_TYPES["json"]):
        return parse_json_input(body, schema)
    if kind in ("csv", CONTENT_TYPES["csv"]):
        return ScoringInput(parse_csv_input(body, schema))
    raise ScoringInputError(
        f"unsupported content type {content_type!r}: expected json or csv "
        f"({', '.join(CONTENT_TYPES.values())})"
    )


def _layout_message(got: str) -> str:
    return (
        "the input must be a JSON object with exactly one of the fields "
        f"{', '.join(INPUT_KEYS)} (and optionally params); {got}"
    )


def _dataframe_split(value: Any, schema: Schema | None, key: str) -> Any:
    pd = require("pandas", "reading dataframe_split input")
    if not isinstance(value, dict) or "data" not in value:
        raise ScoringInputError('"dataframe_split" must be an object with "columns" and "data"')
    unknown = sorted(set(value) - {"columns", "data", "index"})
    if unknown:
        raise ScoringInputError(f'"dataframe_split" has unknown fields: {", ".join(unknown)}')
    data = value["data"]
    if not isinstance(data, list) or not all(isinstance(r, list) for r in data):
        raise ScoringInputError('"dataframe_split.data" must be a list of rows (lists)')
    try:
        return pd.DataFrame(data, columns=value.get("columns"), index=value.get("index"))
    except (ValueError, TypeError) as exc:
        raise ScoringInputError(f'"dataframe_split" does not form a table: {exc}') from None


def _dataframe_records(value: Any, schema: Schema | None, key: str) -> Any:
    pd = require("pandas", "reading dataframe_records input")
    if not isinstance(value, list) or not all(isinstance(r, dict) for r in value):
        raise ScoringInputError('"dataframe_records" must be a list of objects')
    return pd.DataFrame(value)


def _tf_serving(value: Any, schema: Schema | None, key: str) -> Any:
    """``instances`` and ``inputs``: rows, records or columns, shaped by the schema."""
    pd = require("pandas", f"reading {key} input")
    np = require("numpy", f"reading {key} input")
    tensor = schema is not None and schema.is_tensor
    if isinstance(value, Mapping):
        if tensor and len(schema.specs) > 1:  # type: ignore[union-attr]
            return {k: np.asarray(v) for k, v in value.items()}
        if tensor:
            values = list(value.values())
            return np.asarray(values[0] if len(values) == 1 else values)
        columns = {k: v if isinstance(v, list) else [v] for k, v in value.items()}
        if len({len(v) for v in columns.values()}) > 1:
            raise ScoringInputError(f'the columns of "{key}" have different lengths')
        return pd.DataFrame(columns)
    if not isinstance(value, list):
        raise ScoringInputError(f'"{key}" must be a list or an object')
    if value and all(isinstance(r, Mapping) for r in value):
        return pd.DataFrame(value)
    if schema is not None and not tensor:
        return value  # rows for a column schema: enforcement names the columns
    try:
        return np.asarray(value)
    except ValueError:
        raise ScoringInputError(f'"{key}" is not a rectangular array') from None
