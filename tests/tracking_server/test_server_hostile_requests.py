"""A real ``mlcli server`` against what a hostile page or client sends: requests a
browser can forge across sites (CSRF), bodies too large or too deep, fields of the
wrong type. Each gets a 4xx with MLflow's JSON error body, and the store shows that
nothing was written."""

from __future__ import annotations

import http.client
import json
from pathlib import Path
from typing import Any

import pytest
from rawhttp import pieces, send
from trackingserver import TrackingServer

from mlcli.tracking_server.app import ENDPOINTS
from mlcli.tracking_server.backend import Endpoint
from mlcli.tracking_server.fields import BOOL, DOUBLE, INT64, KINDS, OBJECTS, STRING, STRINGS, TIME

API = "/api/2.0/mlflow"
MLCLI_API = "/api/2.0/mlcli"
MULTIPART = (
    b'--b0undary\r\nContent-Disposition: form-data; name="experiment_id"\r\n\r\n0\r\n'
    b"--b0undary--\r\n"
)
# What a page on another site can send without a CORS preflight (and more).
FORGEABLE = [
    pytest.param(None, None, id="no-body-no-content-type"),
    pytest.param(None, b'{"experiment_id": "0"}', id="json-without-content-type"),
    pytest.param("text/plain", b'{"experiment_id": "0"}', id="text-plain"),
    pytest.param("text/plain", None, id="text-plain-empty"),
    pytest.param("application/x-www-form-urlencoded", b"experiment_id=0", id="form"),
    pytest.param("multipart/form-data; boundary=b0undary", MULTIPART, id="multipart"),
]


def _error(reply: Any, status: int, code: str) -> str:
    assert reply.status == status, (reply.status, reply.body[:300])
    assert reply.headers["content-type"].startswith("application/json")
    body = reply.json()
    assert set(body) == {"error_code", "message"} and body["error_code"] == code, body
    return str(body["message"])


def _runs(store: Path) -> list[str]:
    folder = store / "runs"
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


def _new_run(server: TrackingServer) -> str:
    reply = server.api("POST", "runs/create", {"experiment_id": "0", "start_time": 1})
    assert reply.status == 200, reply.body
    return str(reply.json()["run"]["info"]["run_id"])


# -- finding 2: CSRF ------------------------------------------------------------------------


@pytest.mark.parametrize(("content_type", "body"), FORGEABLE)
def test_a_forged_run_create_is_415_and_creates_nothing(
    start_server: Any, content_type: str | None, body: bytes | None
) -> None:
    server = start_server()
    headers = {} if content_type is None else {"Content-Type": content_type}
    reply = server.request("POST", f"{API}/runs/create", body, content_type=None, headers=headers)
    message = _error(reply, 415, "UNSUPPORTED_MEDIA_TYPE")
    assert "Content-Type: application/json" in message
    assert _runs(server.store) == []
    listed = server.api("POST", "runs/search", {"experiment_ids": ["0"]})
    assert listed.status == 200 and listed.json().get("runs", []) == []


def _api(endpoint: Endpoint) -> str:
    """Where an endpoint lives: MLflow's API, or mlcli's own."""
    return MLCLI_API if endpoint.api == "mlcli" else API


def test_every_state_change_needs_a_json_content_type(shared_server: TrackingServer) -> None:
    """The class: every endpoint that is not a GET, body-less and as a form, is a 415
    before anything is looked up (a known run would be changed otherwise)."""
    run_id = _new_run(shared_server)
    for endpoint in ENDPOINTS:
        if endpoint.method == "GET":
            continue
        path = endpoint.path.replace("{model_id}", "m-" + "0" * 32).replace("{tag_key}", "k")
        for content_type, body in ((None, None), ("text/plain", f'{{"run_id": "{run_id}"}}')):
            headers = {} if content_type is None else {"Content-Type": content_type}
            reply = shared_server.request(
                endpoint.method, _api(endpoint) + path, body, content_type=None, headers=headers
            )
            _error(reply, 415, "UNSUPPORTED_MEDIA_TYPE")
    run = shared_server.api("GET", "runs/get", {"run_id": run_id}).json()["run"]
    assert run["info"]["status"] == "RUNNING" and run["info"]["lifecycle_stage"] == "active"


def test_a_json_content_type_with_a_charset_is_json(shared_server: TrackingServer) -> None:
    reply = shared_server.api(
        "POST",
        "runs/create",
        {"experiment_id": "0"},
        content_type="Application/JSON; charset=utf-8",
    )
    assert reply.status == 200, reply.body


# -- finding 5: bodies are bounded ----------------------------------------------------------


def test_a_json_body_over_the_default_limit_is_413_before_it_is_read(
    start_server: Any,
) -> None:
    server = start_server()
    run_id = _new_run(server)
    size = 17 * 1024 * 1024  # over the default --max-body-size of 16 MiB
    prefix = b'{"run_id": "%s", "key": "k", "value": "' % run_id.encode()
    reply, sent = send(
        server.port,
        "POST",
        f"{API}/runs/set-tag",
        pieces(size, prefix=prefix, suffix=b'"}'),
        headers={"Content-Type": "application/json"},
        content_length=size,
    )
    message = _error(reply, 413, "REQUEST_LIMIT_EXCEEDED")
    assert message == (
        "the request body (17.0 MiB) exceeds the server's limit of 16.0 MiB (--max-body-size)"
    )
    assert sent < size  # refused from the header, not after reading it all
    tags = server.api("GET", "runs/get", {"run_id": run_id}).json()["run"]["data"]["tags"]
    assert all(tag["key"] != "k" for tag in tags)


def test_a_chunked_json_body_over_the_limit_is_413_and_writes_nothing(
    start_server: Any,
) -> None:
    server = start_server("--max-body-size", "1MiB")
    run_id = _new_run(server)
    metric = b'{"key": "m", "value": 1.0, "timestamp": 1, "step": 0}, '
    prefix = b'{"run_id": "%s", "metrics": [' % run_id.encode()
    reply, _ = send(
        server.port,
        "POST",
        f"{API}/runs/log-batch",
        pieces(3 * 1024 * 1024, fill=metric, prefix=prefix, suffix=metric[:-2] + b"]}"),
        headers={"Content-Type": "application/json"},
    )
    message = _error(reply, 413, "REQUEST_LIMIT_EXCEEDED")
    assert message == "the request body exceeds the server's limit of 1.0 MiB (--max-body-size)"
    assert (
        not (server.store / "runs" / run_id / "metrics.jsonl").exists()
        or not (server.store / "runs" / run_id / "metrics.jsonl").read_bytes().strip()
    )


@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "chunked"])
def test_an_upload_over_the_artifact_limit_is_413_and_leaves_nothing(
    start_server: Any, declared: bool
) -> None:
    server = start_server("--max-artifact-size", "1MiB")
    run_id = _new_run(server)
    size = 4 * 1024 * 1024
    reply, _ = send(
        server.port,
        "PUT",
        f"/api/2.0/mlflow-artifacts/artifacts/0/{run_id}/artifacts/model.bin",
        pieces(size),
        headers={"Content-Type": "application/octet-stream"},
        content_length=size if declared else None,
    )
    _error(reply, 413, "REQUEST_LIMIT_EXCEEDED")
    artifacts = server.store / "runs" / run_id / "artifacts"
    left = [p.name for p in artifacts.rglob("*")] if artifacts.exists() else []
    assert left == []  # neither the file nor a temporary one


# -- finding 15: every field has its type ----------------------------------------------------


def test_a_malformed_end_time_is_400_and_changes_nothing(shared_server: TrackingServer) -> None:
    run_id = _new_run(shared_server)
    for body in (
        {"run_id": run_id, "end_time": "yesterday"},
        {"run_id": run_id, "end_time": "yesterday", "status": "RUNNING"},
        {"run_id": run_id, "end_time": "yesterday", "status": "FINISHED"},
        {"run_id": run_id, "end_time": -1, "status": "FINISHED"},
        {"run_id": run_id, "end_time": 2**63, "status": "FINISHED"},
        {"run_id": run_id, "end_time": 1.5, "status": "FINISHED"},
        {"run_id": run_id, "end_time": True, "status": "FINISHED"},
        {"run_id": run_id, "end_time": [1], "status": "FINISHED"},
        {"run_id": run_id, "status": "FINISHED", "run_name": ["renamed"]},
    ):
        message = _error(
            shared_server.api("POST", "runs/update", body), 400, "INVALID_PARAMETER_VALUE"
        )
        assert ("'end_time'" in message) or ("'run_name'" in message), message
    info = shared_server.api("GET", "runs/get", {"run_id": run_id}).json()["run"]["info"]
    assert info["status"] == "RUNNING" and "end_time" not in info


def test_an_end_time_without_a_final_status_is_400(shared_server: TrackingServer) -> None:
    run_id = _new_run(shared_server)
    reply = shared_server.api("POST", "runs/update", {"run_id": run_id, "end_time": 5})
    message = _error(reply, 400, "INVALID_PARAMETER_VALUE")
    assert message == (
        "end_time is the time a run ended: send it with status FINISHED, FAILED or KILLED"
    )
    done = shared_server.api(
        "POST", "runs/update", {"run_id": run_id, "end_time": 5, "status": "FINISHED"}
    )
    assert done.status == 200 and done.json()["run_info"]["end_time"] == 5


WRONG_IN_JSON: dict[str, list[Any]] = {
    STRING: [["a"], {"a": 1}, True],
    INT64: ["abc", True, 1.5, 2**63],
    TIME: ["abc", -1, 2**63, False],
    DOUBLE: ["abc", True, [1.0]],
    BOOL: ["maybe", 1, [True]],
    STRINGS: [[1], [["a"]], {"a": "b"}],
    OBJECTS: ["x", [1], [["a"]]],
}
WRONG_IN_QUERY: dict[str, list[Any]] = {
    STRING: [["a", "b"]],  # a repeated name is a list
    INT64: ["abc", "1.5"],
    TIME: ["abc", "-1"],
    DOUBLE: ["abc"],
    BOOL: ["maybe"],
    STRINGS: [],
    OBJECTS: ["x"],
}


def test_every_field_of_every_endpoint_with_a_wrong_type_is_400(
    shared_server: TrackingServer,
) -> None:
    """The class: each of MLflow's fields, wrongly typed, on each endpoint — read by the
    handler or not — is a 400 INVALID_PARAMETER_VALUE naming the field, before the
    handler runs (so a run it names is never touched)."""
    run_id = _new_run(shared_server)
    connection = http.client.HTTPConnection(shared_server.host, shared_server.port, timeout=60)
    failures = []
    turn = 0  # each field gets each of its wrong values on some endpoint
    try:
        for endpoint in ENDPOINTS:
            path = _api(endpoint) + endpoint.path.replace("{model_id}", "m-" + "0" * 32)
            path = path.replace("{tag_key}", "k")
            wrong = WRONG_IN_QUERY if endpoint.method == "GET" else WRONG_IN_JSON
            for name, kind in {**KINDS, **endpoint.kinds}.items():
                if not wrong[kind]:
                    continue
                value = wrong[kind][turn % len(wrong[kind])]
                turn += 1
                status, body = _call(connection, endpoint.method, path, run_id, name, value)
                if status != 400 or body.get("error_code") != "INVALID_PARAMETER_VALUE":
                    failures.append((endpoint.method, endpoint.path, name, value, status))
                elif repr(name) not in body["message"]:
                    failures.append((endpoint.path, name, value, body["message"]))
    finally:
        connection.close()
    assert failures == []
    run = shared_server.api("GET", "runs/get", {"run_id": run_id}).json()["run"]
    assert run["info"]["status"] == "RUNNING" and run["data"]["metrics"] == []


def _call(
    connection: http.client.HTTPConnection,
    method: str,
    path: str,
    run_id: str,
    name: str,
    value: Any,
) -> tuple[int, dict[str, Any]]:
    from urllib.parse import urlencode

    fields = {"run_id": run_id, name: value} if name != "run_id" else {name: value}
    if method == "GET":
        connection.request(method, path + "?" + urlencode(fields, doseq=True))
    else:
        body = json.dumps(fields)
        connection.request(method, path, body, {"Content-Type": "application/json"})
    response = connection.getresponse()
    return response.status, json.loads(response.read())


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("timestamp", -1),
        ("timestamp", 253_402_300_800_000),  # after the year 9999
        ("step", 2**63),
        ("value", "1e309"),  # a string, as proto3 writes doubles: not a number
    ],
)
def test_numbers_out_of_range_in_a_metric_are_400(
    shared_server: TrackingServer, field: str, value: Any
) -> None:
    run_id = _new_run(shared_server)
    body = {"run_id": run_id, "key": "m", "value": 1.0, "timestamp": 1, field: value}
    _error(shared_server.api("POST", "runs/log-metric", body), 400, "INVALID_PARAMETER_VALUE")
    run = shared_server.api("GET", "runs/get", {"run_id": run_id}).json()["run"]
    assert run["data"]["metrics"] == []


@pytest.mark.parametrize(
    "literal", [b"1e309", b"-1e309", b"1" * 5000], ids=["1e309", "-1e309", "5000-digits"]
)
def test_a_number_json_cannot_hold_is_400(shared_server: TrackingServer, literal: bytes) -> None:
    run_id = _new_run(shared_server)
    body = b'{"run_id": "%s", "key": "m", "value": %s, "timestamp": 1}' % (
        run_id.encode(),
        literal,
    )
    message = _error(
        shared_server.request("POST", f"{API}/runs/log-metric", body),
        400,
        "INVALID_PARAMETER_VALUE",
    )
    assert message.startswith("the request body holds a number out of range")
    run = shared_server.api("GET", "runs/get", {"run_id": run_id}).json()["run"]
    assert run["data"]["metrics"] == []


# -- finding 10 (HTTP): deep nesting and bodies of the wrong JSON type ---------------------------


DEEP = b"[" * 100_000 + b"]" * 100_000


def test_a_body_nested_100000_deep_is_400_on_every_endpoint(
    shared_server: TrackingServer,
) -> None:
    failures = []
    for endpoint in ENDPOINTS:
        if endpoint.method == "GET":
            continue
        path = endpoint.path.replace("{model_id}", "m-" + "0" * 32).replace("{tag_key}", "k")
        for body in (DEEP, b'{"tags": ' + DEEP + b"}", b'{"a": ' * 100_000):
            reply = shared_server.request(endpoint.method, _api(endpoint) + path, body)
            document = reply.json()
            if (reply.status, document["error_code"]) != (400, "MALFORMED_REQUEST"):
                failures.append((endpoint.path, reply.status, document))
            elif document["message"] != "the request body nests JSON arrays or objects too deeply":
                failures.append((endpoint.path, document["message"]))
    assert failures == []
    assert "Traceback" not in shared_server.log()


def test_a_field_nested_500_deep_is_a_400_naming_it(
    shared_server: TrackingServer,
) -> None:
    deep = "[" * 500 + "]" * 500
    for field in ("tags", "run_name", "experiment_id", "start_time"):
        body = '{"experiment_id": "0", "%s": %s}' % (field, deep)  # noqa: UP031
        reply = shared_server.request("POST", f"{API}/runs/create", body)
        message = _error(reply, 400, "INVALID_PARAMETER_VALUE")
        assert f"for parameter {field!r}" in message and len(message) < 200


@pytest.mark.parametrize("body", [b"[]", b"null", b"3", b'"x"', b"true", b"[{}]"])
def test_a_body_that_is_not_an_object_is_400(shared_server: TrackingServer, body: bytes) -> None:
    for path in ("runs/create", "experiments/create", "registered-models/create"):
        message = _error(
            shared_server.request("POST", f"{API}/{path}", body), 400, "MALFORMED_REQUEST"
        )
        assert message.startswith("the request body must be a JSON object, not ")
