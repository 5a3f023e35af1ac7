"""A real ``mlcli serve`` against what a hostile page or client sends: a rebound Host
name, bodies a browser can forge across sites, ragged CSV, JSON nested 100,000 deep.
Each is a 4xx with a JSON error body, never a 500 and never a wrong prediction."""

from __future__ import annotations

from typing import Any

import pytest
from servinghelpers import Server

pytest.importorskip("pandas")

IRIS_HEADER = "sepal length (cm),sepal width (cm),petal length (cm),petal width (cm)"
RAGGED = "every row needs one value per column (an empty one for a missing value)"


def _error(reply: Any, status: int, code: str) -> str:
    assert reply.status == status, (reply.status, reply.body[:300])
    assert reply.headers["content-type"] == "application/json"
    document = reply.json()
    assert set(document) == {"error_code", "message"} and document["error_code"] == code
    return str(document["message"])


# -- finding 3: the Host header ---------------------------------------------------------------


@pytest.mark.parametrize("host", ["evil.example", "evil.example:5000", "192.168.1.7:80"])
def test_a_foreign_host_name_is_refused_on_every_path(scale_server: Server, host: str) -> None:
    """DNS rebinding: a page of evil.example whose name now resolves to 127.0.0.1."""
    name = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
    for method, path, body in (
        ("GET", "/ping", None),
        ("GET", "/metadata", None),
        ("GET", "/version", None),
        ("POST", "/invocations", '{"inputs": {"x": [1.0]}}'),
    ):
        reply = scale_server.request(method, path, body, headers={"Host": host})
        message = _error(reply, 403, "PERMISSION_DENIED")
        assert message == f"this server does not answer for host {name!r}"


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1", "127.0.0.2", "[::1]"])
def test_loopback_host_names_are_answered(scale_server: Server, host: str) -> None:
    reply = scale_server.post(
        {"inputs": {"x": [2.0]}}, headers={"Host": f"{host}:{scale_server.port}"}
    )
    assert (reply.status, reply.json()) == (200, {"predictions": [2.0]})


# -- finding 2 (scoring): what a page on another site can send ----------------------------------


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        pytest.param(None, b"x\n1\n", id="no-content-type"),
        pytest.param("text/plain", b'{"inputs": {"x": [1.0]}}', id="text-plain"),
        pytest.param("application/x-www-form-urlencoded", b"x=1", id="form"),
        pytest.param(
            "multipart/form-data; boundary=b",
            b'--b\r\nContent-Disposition: form-data; name="x"\r\n\r\n1\r\n--b--\r\n',
            id="multipart",
        ),
    ],
)
def test_bodies_a_foreign_page_can_send_are_415(
    scale_server: Server, content_type: str | None, body: bytes
) -> None:
    """Scoring changes nothing, but a page may not make the server work for it either:
    JSON, CSV and Parquet all need a CORS preflight, which the server never grants."""
    message = _error(
        scale_server.post(body, content_type=content_type), 415, "UNSUPPORTED_MEDIA_TYPE"
    )
    assert "send one of application/json, text/csv" in message


# -- finding 9: ragged CSV ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "line", "fields", "header"),
    [
        pytest.param("x\n1,2\n3,4\n", 2, 2, 1, id="every-row-longer"),  # pandas: an index
        pytest.param("x\n1\n2,3\n", 3, 2, 1, id="one-row-longer"),
        pytest.param("x,y\n1,2\n3\n", 3, 1, 2, id="one-row-shorter"),  # pandas: NaN
        pytest.param("x,y\n1\n", 2, 1, 2, id="every-row-shorter"),
        pytest.param('x,y\n"1\n5",2\n\n3\n', 5, 1, 2, id="after-a-quoted-newline-and-a-blank"),
    ],
)
def test_a_csv_row_of_the_wrong_length_is_400_naming_its_line(
    scale_server: Server, body: str, line: int, fields: int, header: int
) -> None:
    message = _error(scale_server.post(body, content_type="text/csv"), 400, "BAD_REQUEST")
    assert message == (
        f"invalid CSV input: line {line} has {fields} fields, the header has {header}: {RAGGED}"
    )


def test_a_shifted_iris_row_is_never_scored(iris_server: Server) -> None:
    body = f"{IRIS_HEADER}\n5.1,3.5,1.4,0.2,9.9\n"
    message = _error(iris_server.post(body, content_type="text/csv"), 400, "BAD_REQUEST")
    assert message.startswith("invalid CSV input: line 2 has 5 fields, the header has 4")


def test_missing_values_and_blank_lines_are_still_csv(scale_server: Server) -> None:
    reply = scale_server.post("x\n1.5\n\nNA\n", content_type="text/csv")
    assert (reply.status, reply.json()) == (200, {"predictions": [1.5, None]})


# -- finding 10 (HTTP): deep JSON, JSON of the wrong type -------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        b"[" * 100_000 + b"]" * 100_000,
        b'{"inputs": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
        b'{"a": ' * 100_000,
    ],
    ids=["array", "inputs", "unterminated-objects"],
)
def test_json_nested_100000_deep_is_400(iris_server: Server, body: bytes) -> None:
    message = _error(iris_server.post(body), 400, "BAD_REQUEST")
    assert message == "invalid JSON input: arrays or objects nest too deeply"


@pytest.mark.parametrize("key", ["inputs", "instances", "dataframe_records"])
def test_json_nested_500_deep_inside_the_input_is_a_400(scale_server: Server, key: str) -> None:
    body = '{"%s": %s}' % (key, "[" * 500 + "]" * 500)  # noqa: UP031
    reply = scale_server.post(body)
    assert reply.status == 400, reply.body[:300]
    assert reply.json()["error_code"] in ("BAD_REQUEST", "INVALID_PARAMETER_VALUE")


@pytest.mark.parametrize("body", ["[]", "null", "3", '"x"', "true", '[{"inputs": [1]}]'])
def test_json_that_is_not_an_object_is_400(scale_server: Server, body: str) -> None:
    message = _error(scale_server.post(body), 400, "BAD_REQUEST")
    assert message.startswith("the input must be a JSON object with exactly one of the fields")
