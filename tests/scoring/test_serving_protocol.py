"""MLflow's scoring protocol against a real ``mlcli serve`` on 127.0.0.1, serving a
registered scikit-learn classifier (``models:/iris@champion``) and a custom model with
params (``models:/scale/1``)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from servinghelpers import Server
from servingmodels import GIT_COMMIT, iris_classifier

pd = pytest.importorskip("pandas")

COLUMNS = ["sepal length (cm)", "sepal width (cm)", "petal length (cm)", "petal width (cm)"]


@pytest.fixture(scope="module")
def iris() -> tuple[Any, Any]:
    """The same classifier the store holds (training is deterministic), and rows."""
    model, features = iris_classifier()
    return model, features.iloc[[0, 60, 120, 149]]


def expected(iris: tuple[Any, Any]) -> list[int]:
    model, rows = iris
    return model.predict(rows).tolist()


# -- endpoints ----------------------------------------------------------------------------------


def test_ping_health_and_version(iris_server: Server) -> None:
    for path in ("/ping", "/health"):
        reply = iris_server.request("GET", path)
        assert (reply.status, reply.body, reply.headers["content-type"]) == (
            200,
            b"\n",
            "application/json",
        )
    version = iris_server.request("GET", "/version")
    assert version.status == 200
    assert version.body.decode() == __import__("mlcli").__version__


def test_metadata_reports_the_resolved_version(iris_server: Server) -> None:
    meta = iris_server.request("GET", "/metadata").json()
    assert meta["model_uri"] == "models:/iris@champion"
    assert (meta["model_name"], meta["model_version"]) == ("iris", 1)
    assert meta["git_commit"] == GIT_COMMIT and len(meta["run_id"]) == 32
    assert set(meta["flavors"]) == {"python_function", "sklearn"}
    assert [c["name"] for c in meta["signature"]["inputs"]] == COLUMNS
    example = meta["input_example"]
    assert list(example) == ["dataframe_split"]
    # the example is a body ready to send back
    assert iris_server.post(example).status == 200


# -- every input format ---------------------------------------------------------------------------


def test_dataframe_split(iris_server: Server, iris: tuple[Any, Any]) -> None:
    _, rows = iris
    body = {"dataframe_split": {"columns": COLUMNS, "data": rows.values.tolist()}}
    reply = iris_server.post(body)
    assert reply.status == 200, reply.body
    assert reply.json() == {"predictions": expected(iris)}
    assert reply.headers["x-mlcli-model-version"] == "1"


def test_dataframe_split_with_index_as_pandas_writes_it(
    iris_server: Server, iris: tuple[Any, Any]
) -> None:
    _, rows = iris
    body = json.dumps({"dataframe_split": json.loads(rows.to_json(orient="split"))})
    assert iris_server.post(body).json() == {"predictions": expected(iris)}


def test_dataframe_records(iris_server: Server, iris: tuple[Any, Any]) -> None:
    _, rows = iris
    reply = iris_server.post({"dataframe_records": rows.to_dict(orient="records")})
    assert reply.json() == {"predictions": expected(iris)}


def test_instances_as_rows_and_as_records(iris_server: Server, iris: tuple[Any, Any]) -> None:
    _, rows = iris
    assert iris_server.post({"instances": rows.values.tolist()}).json() == {
        "predictions": expected(iris)
    }
    records = rows.to_dict(orient="records")
    assert iris_server.post({"instances": records}).json() == {"predictions": expected(iris)}


def test_inputs_as_columns(iris_server: Server, iris: tuple[Any, Any]) -> None:
    _, rows = iris
    body = {"inputs": {c: rows[c].tolist() for c in COLUMNS}}
    assert iris_server.post(body).json() == {"predictions": expected(iris)}


def test_csv(iris_server: Server, iris: tuple[Any, Any]) -> None:
    _, rows = iris
    reply = iris_server.post(rows.to_csv(index=False), content_type="text/csv")
    assert reply.json() == {"predictions": expected(iris)}
    charset = iris_server.post(rows.to_csv(index=False), content_type="text/csv; charset=utf-8")
    assert charset.json() == {"predictions": expected(iris)}


def test_parquet(iris_server: Server, iris: tuple[Any, Any]) -> None:
    pytest.importorskip("pyarrow")
    _, rows = iris
    reply = iris_server.post(rows.to_parquet(), content_type="application/vnd.apache.parquet")
    assert reply.json() == {"predictions": expected(iris)}


def test_params_reach_the_model(scale_server: Server) -> None:
    body = {"dataframe_split": {"columns": ["x"], "data": [[1.0], [2.5]]}}
    assert scale_server.post(body).json() == {"predictions": [1.0, 2.5]}
    scaled = scale_server.post({**body, "params": {"scale": 3}})
    assert scaled.json() == {"predictions": [3.0, 7.5]}
    assert scale_server.post({"inputs": {"x": [2.0]}, "params": {"scale": 0.5}}).json() == {
        "predictions": [1.0]
    }


# -- a client written for MLflow ---------------------------------------------------------------


@pytest.mark.mlflow
@pytest.mark.filterwarnings("ignore")
def test_mlflows_own_scoring_client_works_unchanged(
    iris_server: Server, scale_server: Server, iris: tuple[Any, Any]
) -> None:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        scoring = pytest.importorskip("mlflow.pyfunc.scoring_server.client")
    _, rows = iris
    client = scoring.ScoringServerClient(iris_server.host, iris_server.port)
    client.wait_server_ready(timeout=10)
    assert client.get_version()
    assert client.invoke(rows).get_predictions(predictions_format="ndarray").tolist() == expected(
        iris
    )
    scale = scoring.ScoringServerClient(scale_server.host, scale_server.port)
    frame = pd.DataFrame({"x": [1.0, 2.0]})
    response = scale.invoke(frame, params={"scale": 10.0})
    assert response == {"predictions": [10.0, 20.0]}


def test_response_shapes_match_mlflows(iris_server: Server, iris: tuple[Any, Any]) -> None:
    """The shapes MLflow 3.18's scoring server answers with: every success is
    exactly {"predictions": [...]}, every error a JSON object with error_code and message."""
    _, rows = iris
    for body in (
        {"dataframe_split": rows.to_dict(orient="split")},
        {"dataframe_records": rows.to_dict(orient="records")},
        {"instances": rows.values.tolist()},
        {"inputs": rows.to_dict(orient="list")},
    ):
        document = iris_server.post(body).json()
        assert list(document) == ["predictions"]
        assert isinstance(document["predictions"], list)
    error = iris_server.post({"dataframe_split": {}, "instances": []}).json()
    assert set(error) == {"error_code", "message"} and error["error_code"] == "BAD_REQUEST"


# -- bad requests: the right status and a message naming the problem ------------------------------

ROWS = [[5.1, 3.5, 1.4, 0.2]]
SPLIT = {"dataframe_split": {"columns": COLUMNS, "data": ROWS}}

BAD_REQUESTS: list[tuple[str, Any, str | None, int, str, str]] = [
    # id, body, content type, status, error_code, a phrase of the message
    (
        "malformed-json",
        '{"instances": [[1, 2',
        "application/json",
        400,
        "BAD_REQUEST",
        "invalid JSON",
    ),
    ("not-utf8-json", b"\xff\xfe{}", "application/json", 400, "BAD_REQUEST", "invalid JSON"),
    ("empty-body", "", "application/json", 400, "BAD_REQUEST", "invalid JSON"),
    ("top-level-list", "[[1, 2, 3, 4]]", "application/json", 400, "BAD_REQUEST", "got a JSON list"),
    ("no-input-key", {"params": {}}, "application/json", 400, "BAD_REQUEST", "exactly one of"),
    ("unknown-key", {"data": ROWS}, "application/json", 400, "BAD_REQUEST", "got the fields: data"),
    (
        "several-input-keys",
        {"instances": ROWS, "inputs": ROWS},
        "application/json",
        400,
        "BAD_REQUEST",
        "got the fields: inputs, instances",
    ),
    (
        "split-not-an-object",
        {"dataframe_split": ROWS},
        "application/json",
        400,
        "BAD_REQUEST",
        '"dataframe_split" must be an object',
    ),
    (
        "records-not-objects",
        {"dataframe_records": ROWS},
        "application/json",
        400,
        "BAD_REQUEST",
        '"dataframe_records" must be a list of objects',
    ),
    (
        "params-not-an-object",
        {**SPLIT, "params": [1]},
        "application/json",
        400,
        "BAD_REQUEST",
        '"params" must be a JSON object',
    ),
    (
        "missing-column",
        {"dataframe_split": {"columns": COLUMNS[:3], "data": [r[:3] for r in ROWS]}},
        "application/json",
        400,
        "INVALID_PARAMETER_VALUE",
        "missing column 'petal width (cm)'",
    ),
    (
        "wrong-type",
        {"dataframe_split": {"columns": COLUMNS, "data": [["tall", 3.5, 1.4, 0.2]]}},
        "application/json",
        400,
        "INVALID_PARAMETER_VALUE",
        "sepal length (cm)",
    ),
    (
        "too-few-values",
        {"instances": [[1.0, 2.0, 3.0]]},
        "application/json",
        400,
        "INVALID_PARAMETER_VALUE",
        "the model expects 4",
    ),
    (
        "ragged-columns",
        {"inputs": {"a": [1, 2], "b": [1]}},
        "application/json",
        400,
        "BAD_REQUEST",
        "different lengths",
    ),
    ("csv-garbage", 'a,b\n1,2,3\n"', "text/csv", 400, "BAD_REQUEST", "invalid CSV"),
    (
        "csv-missing-column",
        "sepal length (cm)\n5.1\n",
        "text/csv",
        400,
        "INVALID_PARAMETER_VALUE",
        "missing columns",
    ),
    ("no-content-type", SPLIT, None, 415, "UNSUPPORTED_MEDIA_TYPE", "no Content-Type"),
    ("text-plain", "1,2", "text/plain", 415, "UNSUPPORTED_MEDIA_TYPE", "'text/plain'"),
    (
        "mlflow-1-format-parameter",
        SPLIT,
        "application/json; format=pandas-split",
        415,
        "UNSUPPORTED_MEDIA_TYPE",
        "parameter 'format'",
    ),
    (
        "latin-1-charset",
        SPLIT,
        "application/json; charset=latin-1",
        415,
        "UNSUPPORTED_MEDIA_TYPE",
        "charset 'latin-1'",
    ),
]


@pytest.mark.parametrize(
    ("body", "content_type", "status", "code", "phrase"),
    [case[1:] for case in BAD_REQUESTS],
    ids=[case[0] for case in BAD_REQUESTS],
)
def test_bad_requests_are_named_and_never_500(
    iris_server: Server, body: Any, content_type: str | None, status: int, code: str, phrase: str
) -> None:
    reply = iris_server.post(body, content_type=content_type)
    assert reply.status == status, reply.body
    assert reply.headers["content-type"] == "application/json"
    document = reply.json()
    assert document["error_code"] == code
    assert phrase in document["message"], document["message"]


def test_unknown_path_and_wrong_method(iris_server: Server) -> None:
    missing = iris_server.request("GET", "/predict")
    assert (missing.status, missing.json()["error_code"]) == (404, "ENDPOINT_NOT_FOUND")
    assert "/invocations" in missing.json()["message"]
    wrong = iris_server.request("GET", "/invocations")
    assert (wrong.status, wrong.json()["error_code"]) == (405, "METHOD_NOT_ALLOWED")


def test_unknown_param_and_bad_param_type(scale_server: Server) -> None:
    body = {"inputs": {"x": [1.0]}, "params": {"scale": "big"}}
    reply = scale_server.post(body)
    assert reply.status == 400 and "scale" in reply.json()["message"]


def test_a_body_over_the_limit_is_413(scale_server: Server) -> None:
    rows = [[float(i)] for i in range(20000)]  # about 200 KB against --max-body-size 64KiB
    reply = scale_server.post({"dataframe_split": {"columns": ["x"], "data": rows}})
    assert reply.status == 413
    assert reply.json()["error_code"] == "REQUEST_LIMIT_EXCEEDED"
    assert "64.0 KiB" in reply.json()["message"]
    assert scale_server.post({"inputs": {"x": [1.0]}}).status == 200


def test_a_body_over_the_limit_without_content_length_is_413(scale_server: Server) -> None:
    """Chunked transfer: the limit is enforced while reading, not only from the header."""
    import http.client

    connection = http.client.HTTPConnection(scale_server.host, scale_server.port, timeout=30)
    chunk = b'{"inputs": {"x": [' + b"1.0, " * 20000 + b"1.0]}}"
    connection.request(
        "POST",
        "/invocations",
        body=iter([chunk[:30000], chunk[30000:]]),
        headers={"Content-Type": "application/json"},
        encode_chunked=True,
    )
    reply = connection.getresponse()
    assert reply.status == 413 and b"REQUEST_LIMIT_EXCEEDED" in reply.read()
    connection.close()


def test_a_prediction_over_the_timeout_is_504_and_the_server_goes_on(scale_server: Server) -> None:
    reply = scale_server.post({"inputs": {"x": [1.0]}, "params": {"sleep": 3}})
    assert reply.status == 504
    assert reply.json()["error_code"] == "DEADLINE_EXCEEDED"
    assert "--timeout" in reply.json()["message"]
    assert scale_server.post({"inputs": {"x": [4.0]}}).json() == {"predictions": [4.0]}


def test_one_access_line_per_request(iris_server: Server) -> None:
    before = iris_server.log().count('"GET /ping HTTP/1.1" 200')
    iris_server.request("GET", "/ping")
    iris_server.post("nope")
    log = iris_server.log()
    assert log.count('"GET /ping HTTP/1.1" 200') == before + 1
    assert '"POST /invocations HTTP/1.1" 400' in log
    assert '"POST /invocations HTTP/1.1" 200' in log and " v1\n" in log
