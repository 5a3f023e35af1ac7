"""Signature enforcement: every refusal is one line naming the column and the type."""

from __future__ import annotations

import base64

import pytest

from mlcli.models import ColSpec, ParamSchema, ParamSpec, Schema, TensorSpec
from mlcli.models.enforcement import SchemaWarning, enforce_params, enforce_schema
from mlcli.models.errors import SchemaEnforcementError

np = pytest.importorskip("numpy")
pd = pytest.importorskip("pandas")

SCHEMA = Schema(
    (
        ColSpec("double", "x"),
        ColSpec("long", "n"),
        ColSpec("string", "name"),
        ColSpec("boolean", "flag", required=False),
    )
)


def _frame(**overrides: list[object]) -> object:
    columns: dict[str, list[object]] = {"x": [1.5, 2.0], "n": [1, 2], "name": ["a", "b"]}
    columns.update(overrides)
    return pd.DataFrame(columns)


def _refusal(data: object, schema: Schema = SCHEMA) -> str:
    with pytest.raises(SchemaEnforcementError) as caught:
        enforce_schema(data, schema)
    message = str(caught.value)
    assert "\n" not in message
    return message


def test_a_missing_column_is_named_with_its_type() -> None:
    frame = _frame()
    assert _refusal(frame.drop(columns=["n"])) == "input is missing column 'n' (long)"
    assert (
        _refusal(frame.drop(columns=["n", "x"]))
        == "input is missing columns 'x' (double), 'n' (long)"
    )


def test_a_string_in_a_numeric_column() -> None:
    message = _refusal(_frame(x=[1.5, "abc"]))
    assert message == "input column 'x' expects double, got the string 'abc' (row 1)"


def test_a_wrong_type_that_cannot_be_converted() -> None:
    assert _refusal(_frame(n=[1, 2.5])) == (
        "input column 'n' expects long, got the float 2.5 (row 1), which is not a whole number"
    )
    assert (
        _refusal(_frame(name=["a", 7]))
        == "input column 'name' expects string, got the int 7 (row 1)"
    )
    assert (
        _refusal(_frame(x=[True, False])) == "input column 'x' expects double, got boolean values"
    )


def test_safe_conversions_are_made() -> None:
    out = enforce_schema(_frame(x=[1, 2], n=[1.0, 2.0]), SCHEMA)
    assert out["x"].dtype == "float64" and out["x"].tolist() == [1.0, 2.0]
    assert out["n"].dtype == "int64" and out["n"].tolist() == [1, 2]


def test_extra_columns_are_dropped_with_a_warning_and_order_follows_the_schema() -> None:
    frame = _frame(extra=[0, 0])[["name", "extra", "n", "x"]]
    with pytest.warns(
        SchemaWarning, match="ignoring input columns not in the model signature: 'extra'"
    ):
        out = enforce_schema(frame, SCHEMA)
    assert list(out.columns) == ["x", "n", "name"]  # optional 'flag' is absent, and fine


def test_missing_values_in_a_required_column() -> None:
    assert _refusal(_frame(name=["a", None])) == (
        "input column 'name' expects string, got a missing value (row 1); the column is required"
    )
    out = enforce_schema(_frame(x=[1.0, float("nan")]), SCHEMA)  # NaN is a float
    assert np.isnan(out["x"][1])


def test_dicts_records_and_rows_become_frames() -> None:
    expected = enforce_schema(_frame(), SCHEMA)
    records = [{"x": 1.5, "n": 1, "name": "a"}, {"x": 2.0, "n": 2, "name": "b"}]
    columns = {"x": [1.5, 2.0], "n": [1, 2], "name": ["a", "b"]}
    for data in (records, columns):
        pd.testing.assert_frame_equal(enforce_schema(data, SCHEMA), expected)
    rows = Schema(SCHEMA.specs[:3])
    pd.testing.assert_frame_equal(enforce_schema([[1.5, 1, "a"], [2.0, 2, "b"]], rows), expected)
    assert (
        _refusal([[1.5, 1]], rows) == "input has 2 columns, the model expects 3 ('x', 'n', 'name')"
    )


def test_datetime_and_binary_columns() -> None:
    schema = Schema((ColSpec("datetime", "when"), ColSpec("binary", "blob")))
    encoded = base64.b64encode(b"\x00\x01").decode()
    out = enforce_schema(pd.DataFrame({"when": ["2024-05-01"], "blob": [encoded]}), schema)
    assert out["when"].dtype.kind == "M" and out["blob"][0] == b"\x00\x01"
    bad = pd.DataFrame({"when": ["yesterday-ish"], "blob": [b"x"]})
    assert _refusal(bad, schema) == (
        "input column 'when' expects datetime, got the string 'yesterday-ish' (row 0), "
        "which is not a date"
    )


def test_tensor_shape_and_dtype() -> None:
    schema = Schema((TensorSpec("float64", (-1, 4)),))
    assert enforce_schema([[1, 2, 3, 4]], schema).dtype == np.float64
    assert _refusal(np.zeros((2, 3)), schema) == (
        "input has shape (2, 3), the model expects (-1, 4) (-1: any size)"
    )
    ints = Schema((TensorSpec("int64", (-1,)),))
    assert _refusal(np.array([1.5]), ints) == (
        "input expects int64, got float64 (e.g. 1.5), which cannot be converted without loss"
    )
    assert _refusal(np.array(["a"]), ints).startswith("input expects int64, got <U1 (e.g. 'a')")


def test_params_get_defaults_conversions_and_warnings() -> None:
    schema = ParamSchema((ParamSpec("k", "long", 3), ParamSpec("method", "string", "predict")))
    assert enforce_params(None, schema) == {"k": 3, "method": "predict"}
    assert enforce_params({"k": 5.0}, schema) == {"k": 5, "method": "predict"}
    with pytest.warns(SchemaWarning, match="ignoring params not in the model signature: z"):
        enforce_params({"z": 1}, schema)
    with pytest.raises(SchemaEnforcementError, match="param 'k' expects long, got the string 'x'"):
        enforce_params({"k": "x"}, schema)
    assert enforce_params({"any": 1}, None) == {"any": 1}
