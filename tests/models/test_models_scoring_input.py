"""The scoring server's request bodies, parsed without a server."""

from __future__ import annotations

import json

import pytest

from mlcli.models import ColSpec, Schema, ScoringInputError, TensorSpec
from mlcli.models.scoring_input import parse_csv_input, parse_input, parse_json_input

np = pytest.importorskip("numpy")
pd = pytest.importorskip("pandas")

COLUMNS = Schema((ColSpec("double", "x"), ColSpec("string", "code")))
TENSOR = Schema((TensorSpec("float64", (-1, 2)),))
EXPECTED = pd.DataFrame({"x": [1.0, 2.0], "code": ["007", "8"]})


@pytest.mark.parametrize(
    "body",
    [
        {"dataframe_split": {"columns": ["x", "code"], "data": [[1.0, "007"], [2.0, "8"]]}},
        {"dataframe_records": [{"x": 1.0, "code": "007"}, {"x": 2.0, "code": "8"}]},
        {"instances": [{"x": 1.0, "code": "007"}, {"x": 2.0, "code": "8"}]},
        {"inputs": {"x": [1.0, 2.0], "code": ["007", "8"]}},
    ],
    ids=["dataframe_split", "dataframe_records", "instances", "inputs"],
)
def test_every_json_layout_gives_the_same_frame(body: dict[str, object]) -> None:
    parsed = parse_json_input(json.dumps(body), COLUMNS)
    pd.testing.assert_frame_equal(parsed.data, EXPECTED)
    assert parsed.params is None


def test_rows_for_a_tensor_model_become_an_array() -> None:
    for key in ("instances", "inputs"):
        parsed = parse_json_input(json.dumps({key: [[1, 2], [3, 4]]}), TENSOR)
        assert isinstance(parsed.data, np.ndarray) and parsed.data.shape == (2, 2)


def test_params_come_along() -> None:
    body = {"inputs": [[1, 2]], "params": {"predict_method": "predict_proba"}}
    assert parse_json_input(json.dumps(body)).params == {"predict_method": "predict_proba"}


def test_csv_keeps_string_columns_as_text() -> None:
    frame = parse_csv_input("x,code\n1.0,007\n2.0,8\n", COLUMNS)
    pd.testing.assert_frame_equal(frame, EXPECTED)
    assert parse_input(b"a,b\n1,2\n", "text/csv; charset=utf-8", TENSOR).data.tolist() == [[1, 2]]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("{not json", "invalid JSON input"),
        (
            "[1, 2]",
            "must be a JSON object with exactly one of the fields dataframe_split, "
            "dataframe_records, instances, inputs .*; got a JSON list",
        ),
        ('{"data": [1]}', "got the fields: data"),
        ('{"instances": [1], "inputs": [1]}', "got the fields: inputs, instances"),
        ('{"inputs": [1], "params": [1]}', '"params" must be a JSON object'),
        ('{"dataframe_split": {"columns": ["a"]}}', 'must be an object with "columns" and "data"'),
        ('{"dataframe_records": [1, 2]}', '"dataframe_records" must be a list of objects'),
        ('{"inputs": {"a": [1, 2], "b": [1]}}', "have different lengths"),
        ('{"inputs": [[1, 2], [3]]}', "is not a rectangular array"),
    ],
)
def test_malformed_bodies_are_400s(body: str, message: str) -> None:
    with pytest.raises(ScoringInputError, match=message) as caught:
        parse_json_input(body)
    assert caught.value.http_status == 400 and caught.value.error_code == "BAD_REQUEST"


def test_unknown_content_types_are_refused() -> None:
    with pytest.raises(ScoringInputError, match="unsupported content type 'text/plain'"):
        parse_input("x", "text/plain", None)
