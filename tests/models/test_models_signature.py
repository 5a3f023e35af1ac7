"""Signatures: inference from data, and MLflow's JSON column specs both ways."""

from __future__ import annotations

import json

import pytest

from mlcli.errors import InvalidInputError
from mlcli.models import ColSpec, ModelSignature, ParamSchema, ParamSpec, Schema, TensorSpec

np = pytest.importorskip("numpy")
pd = pytest.importorskip("pandas")

from mlcli.models import infer_signature  # noqa: E402


def test_dataframe_columns_get_mlflow_types() -> None:
    frame = pd.DataFrame(
        {
            "d": np.array([1.5], dtype="float64"),
            "f": np.array([1.5], dtype="float32"),
            "l": np.array([1], dtype="int64"),
            "i": np.array([1], dtype="int32"),
            "b": [True],
            "s": ["x"],
            "t": pd.to_datetime(["2024-01-01"]),
            "y": [b"raw"],
        }
    )
    inputs = infer_signature(frame).inputs
    assert inputs is not None
    assert [(s.name, s.type) for s in inputs.specs] == [
        ("d", "double"),
        ("f", "float"),
        ("l", "long"),
        ("i", "integer"),
        ("b", "boolean"),
        ("s", "string"),
        ("t", "datetime"),
        ("y", "binary"),
    ]


def test_the_json_is_exactly_mlflows() -> None:
    signature = infer_signature(
        pd.DataFrame({"x": [1.0, 2.0], "name": ["a", None]}),
        np.array([1, 0]),
        params={"predict_method": "predict", "k": 3},
    )
    assert signature.to_dict() == {
        "inputs": '[{"type": "double", "name": "x", "required": true}, '
        '{"type": "string", "name": "name", "required": false}]',
        "outputs": '[{"type": "tensor", "tensor-spec": {"dtype": "int64", "shape": [-1]}}]',
        "params": '[{"name": "predict_method", "default": "predict", "shape": null, '
        '"type": "string"}, {"name": "k", "default": 3, "shape": null, "type": "long"}]',
    }


def test_round_trip_through_the_mlmodel_form() -> None:
    signature = ModelSignature(
        Schema((ColSpec("double", "x"), ColSpec("string", "s", required=False))),
        Schema((TensorSpec("float32", (-1, 3)),)),
        ParamSchema((ParamSpec("top_k", "long", 5),)),
    )
    assert ModelSignature.from_dict(signature.to_dict()) == signature


def test_numpy_arrays_become_tensors_and_lists_of_dicts_columns() -> None:
    tensor = infer_signature(np.zeros((3, 4))).inputs
    assert tensor is not None and tensor.specs == (TensorSpec("float64", (-1, 4)),)
    records = infer_signature([{"a": 1, "b": "x"}, {"a": 2, "b": "y"}]).inputs
    assert records is not None
    assert [(s.name, s.type) for s in records.specs] == [("a", "long"), ("b", "string")]


def test_a_series_is_one_unnamed_column() -> None:
    schema = infer_signature(pd.Series([1.0, 2.0])).inputs
    assert schema is not None and json.loads(schema.to_json()) == [
        {"type": "double", "required": True}
    ]


def test_mlflow_composite_types_are_kept_verbatim() -> None:
    text = '[{"type": "array", "items": {"type": "string"}, "name": "tags", "required": true}]'
    schema = Schema.from_json(text)
    assert json.loads(schema.to_json()) == json.loads(text)
    assert not schema.specs[0].enforceable  # type: ignore[union-attr]


def test_mixed_types_cannot_be_inferred() -> None:
    with pytest.raises(InvalidInputError, match=r"column 'x'.*mixes"):
        infer_signature(pd.DataFrame({"x": [1, "a"]}))


def test_bad_schema_json_is_an_input_error() -> None:
    with pytest.raises(InvalidInputError, match="not JSON"):
        Schema.from_json("[{")
    with pytest.raises(InvalidInputError, match="invalid column type 'complex'"):
        Schema.from_json('[{"type": "complex", "name": "x"}]')
    with pytest.raises(InvalidInputError, match="cannot mix"):
        Schema((ColSpec("double", "x"), TensorSpec("float64", (-1,))))
