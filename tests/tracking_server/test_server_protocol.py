"""MLflow's REST protocol spoken by a real ``mlcli server``, checked with raw HTTP:
JSON shapes, tag mapping, paging, artifacts, and MLflow-shaped 4xx errors (never a 500)."""

from __future__ import annotations

import itertools
import json
import math
from pathlib import Path
from typing import Any

import pytest
from trackingserver import TrackingServer

from mlcli.tracking import TrackingClient
from mlcli.tracking_server.app import ENDPOINTS


def _ok(reply: Any) -> Any:
    assert reply.status == 200, reply.body
    return reply.json()


def _error(reply: Any, status: int, code: str) -> str:
    assert reply.status == status, reply.body
    assert reply.headers["content-type"].startswith("application/json")
    body = reply.json()
    assert body["error_code"] == code, body
    assert body["message"]
    return str(body["message"])


def _run(server: TrackingServer, experiment: str = "0", **fields: Any) -> dict[str, Any]:
    body = {"experiment_id": experiment, "start_time": 1_700_000_000_000, **fields}
    return _ok(server.api("POST", "runs/create", body))["run"]


def test_health_is_json(shared_server: TrackingServer) -> None:
    reply = shared_server.request("GET", "/health")
    assert (reply.status, reply.json()) == (200, {"status": "OK"})


def test_experiments_round_trip(shared_server: TrackingServer) -> None:
    created = _ok(
        shared_server.api(
            "POST", "experiments/create", {"name": "proto", "tags": [{"key": "team", "value": "a"}]}
        )
    )
    experiment_id = created["experiment_id"]
    got = _ok(shared_server.api("GET", "experiments/get-by-name", {"experiment_name": "proto"}))
    experiment = got["experiment"]
    assert experiment["experiment_id"] == experiment_id
    assert experiment["artifact_location"] == f"mlflow-artifacts:/{experiment_id}"
    assert experiment["tags"] == [{"key": "team", "value": "a"}]
    _error(
        shared_server.api("POST", "experiments/create", {"name": "proto"}),
        400,
        "RESOURCE_ALREADY_EXISTS",
    )
    _error(
        shared_server.api("GET", "experiments/get-by-name", {"experiment_name": "nope"}),
        404,
        "RESOURCE_DOES_NOT_EXIST",
    )
    found = _ok(shared_server.api("POST", "experiments/search", {"filter": "name LIKE 'pro%'"}))
    assert [e["name"] for e in found["experiments"]] == ["proto"]
    _ok(
        shared_server.api(
            "POST", "experiments/update", {"experiment_id": experiment_id, "new_name": "proto2"}
        )
    )
    _ok(shared_server.api("POST", "experiments/delete", {"experiment_id": experiment_id}))
    deleted = _ok(shared_server.api("GET", "experiments/get", {"experiment_id": experiment_id}))
    assert deleted["experiment"]["lifecycle_stage"] == "deleted"
    _ok(shared_server.api("POST", "experiments/restore", {"experiment_id": experiment_id}))


def test_runs_map_mlflow_system_tags_to_mlcli_ones(shared_server: TrackingServer) -> None:
    parent = _run(shared_server, run_name="parent", user_id="alice")
    parent_id = parent["info"]["run_id"]
    assert parent["info"]["run_uuid"] == parent_id
    assert parent["info"]["artifact_uri"] == f"mlflow-artifacts:/0/{parent_id}/artifacts"
    child = _run(
        shared_server,
        user_id="bob",
        tags=[
            {"key": "mlflow.runName", "value": "child"},
            {"key": "mlflow.parentRunId", "value": parent_id},
            {"key": "mlflow.source.git.commit", "value": "abc123"},
        ],
    )
    child_id = child["info"]["run_id"]
    assert child["info"]["run_name"] == "child"
    tags = {t["key"]: t["value"] for t in child["data"]["tags"]}
    assert tags["mlflow.parentRunId"] == parent_id and tags["mlflow.user"] == "bob"
    # the store holds mlcli's names, so mlcli's commands see the lineage
    stored = TrackingClient(shared_server.store).get_run(child_id)
    assert stored.info.parent_run_id == parent_id
    assert stored.info.user_id == "bob" and stored.info.run_name == "child"
    assert stored.data.tags["mlcli.source.git.commit"] == "abc123"
    assert not any(key.startswith("mlflow.") for key in stored.data.tags)
    # filters over mlflow.* tags work too
    found = _ok(
        shared_server.api(
            "POST",
            "runs/search",
            {"experiment_ids": ["0"], "filter": f"tags.mlflow.parentRunId = '{parent_id}'"},
        )
    )
    assert [r["info"]["run_id"] for r in found["runs"]] == [child_id]
    _ok(
        shared_server.api(
            "POST",
            "runs/set-tag",
            {"run_id": child_id, "key": "mlflow.runName", "value": "renamed"},
        )
    )
    assert TrackingClient(shared_server.store).get_run(child_id).info.run_name == "renamed"


def test_logging_and_metric_history(shared_server: TrackingServer) -> None:
    run_id = _run(shared_server)["info"]["run_id"]
    batch = {
        "run_id": run_id,
        "metrics": [
            {"key": "loss", "value": 1.0 / (step + 1), "timestamp": 1000 + step, "step": step}
            for step in range(5)
        ]
        + [{"key": "odd", "value": "NaN", "timestamp": 5, "step": 0}],
        "params": [{"key": "alpha", "value": "0.5"}],
        "tags": [{"key": "team", "value": "vision"}],
    }
    _ok(shared_server.api("POST", "runs/log-batch", batch))
    _ok(
        shared_server.api(
            "POST",
            "runs/log-metric",
            {"run_id": run_id, "key": "loss", "value": 0.1, "timestamp": 2000, "step": 5},
        )
    )
    _ok(
        shared_server.api(
            "POST", "runs/log-parameter", {"run_id": run_id, "key": "beta", "value": "2"}
        )
    )
    history = _ok(
        shared_server.api("GET", "metrics/get-history", {"run_id": run_id, "metric_key": "loss"})
    )
    assert [m["step"] for m in history["metrics"]] == [0, 1, 2, 3, 4, 5]
    run = _ok(shared_server.api("GET", "runs/get", {"run_id": run_id}))["run"]
    metrics = {m["key"]: m["value"] for m in run["data"]["metrics"]}
    assert metrics == {"loss": 0.1, "odd": "NaN"}
    assert {p["key"]: p["value"] for p in run["data"]["params"]} == {"alpha": "0.5", "beta": "2"}
    assert math.isnan(TrackingClient(shared_server.store).get_run(run_id).data.metrics["odd"])
    message = _error(
        shared_server.api(
            "POST", "runs/log-parameter", {"run_id": run_id, "key": "alpha", "value": "0.6"}
        ),
        400,
        "INVALID_PARAMETER_VALUE",
    )
    assert "alpha" in message
    _ok(shared_server.api("POST", "runs/delete-tag", {"run_id": run_id, "key": "team"}))
    _ok(
        shared_server.api(
            "POST", "runs/update", {"run_id": run_id, "status": "FINISHED", "end_time": 3000}
        )
    )
    info = _ok(shared_server.api("GET", "runs/get", {"run_id": run_id}))["run"]["info"]
    assert (info["status"], info["end_time"]) == ("FINISHED", 3000)


def test_search_pages_with_tokens(shared_server: TrackingServer) -> None:
    experiment_id = _ok(shared_server.api("POST", "experiments/create", {"name": "paging"}))[
        "experiment_id"
    ]
    ids = {_run(shared_server, experiment_id)["info"]["run_id"] for _ in range(5)}
    seen: list[str] = []
    token = None
    for _ in range(4):
        body: dict[str, Any] = {"experiment_ids": [experiment_id], "max_results": 2}
        if token:
            body["page_token"] = token
        page = _ok(shared_server.api("POST", "runs/search", body))
        seen += [r["info"]["run_id"] for r in page["runs"]]
        token = page.get("next_page_token")
        if not token:
            break
    assert sorted(seen) == sorted(ids) and len(seen) == 5
    _error(
        shared_server.api(
            "POST", "runs/search", {"experiment_ids": [experiment_id], "page_token": "%%%"}
        ),
        400,
        "INVALID_PARAMETER_VALUE",
    )


def test_artifacts_upload_list_download(shared_server: TrackingServer) -> None:
    run = _run(shared_server)
    run_id = run["info"]["run_id"]
    root = f"/api/2.0/mlflow-artifacts/artifacts/0/{run_id}/artifacts"
    put = shared_server.request("PUT", f"{root}/dir/a.txt", b"hello", content_type="text/plain")
    assert put.status == 200, put.body
    listed = _ok(
        shared_server.request(
            "GET", f"/api/2.0/mlflow-artifacts/artifacts?path=0/{run_id}/artifacts"
        )
    )
    assert listed["files"] == [{"path": "dir", "is_dir": True}]
    inner = _ok(
        shared_server.request(
            "GET", f"/api/2.0/mlflow-artifacts/artifacts?path=0/{run_id}/artifacts/dir"
        )
    )
    assert inner["files"] == [{"path": "a.txt", "is_dir": False, "file_size": 5}]
    got = shared_server.request("GET", f"{root}/dir/a.txt")
    assert (got.status, got.body) == (200, b"hello")
    assert (
        Path(TrackingClient(shared_server.store).artifact_path(run_id, "dir/a.txt"))
    ).read_bytes() == b"hello"
    tracking_list = _ok(
        shared_server.api("GET", "artifacts/list", {"run_id": run_id, "path": "dir"})
    )
    assert tracking_list["files"] == [{"path": "dir/a.txt", "is_dir": False, "file_size": 5}]
    # nothing escapes the run's folder; other runs' paths must match their experiment
    for bad in (
        f"{root}/../../x.txt",
        f"{root}/..%2F..%2Fx.txt",
        f"/api/2.0/mlflow-artifacts/artifacts/7/{run_id}/artifacts/x",
    ):
        reply = shared_server.request("PUT", bad, b"x", content_type="text/plain")
        assert reply.status in (400, 404), (bad, reply.body)
        assert "error_code" in reply.json()
    _error(shared_server.request("GET", f"{root}/missing.txt"), 404, "RESOURCE_DOES_NOT_EXIST")


def test_registry_round_trip(shared_server: TrackingServer, tmp_path: Path) -> None:
    run_id = _run(shared_server)["info"]["run_id"]
    root = f"/api/2.0/mlflow-artifacts/artifacts/0/{run_id}/artifacts/model"
    mlmodel = "flavors:\n  python_function:\n    loader_module: nothing\n"
    assert (
        shared_server.request("PUT", f"{root}/MLmodel", mlmodel, content_type="text/plain").status
        == 200
    )
    _ok(
        shared_server.api(
            "POST",
            "registered-models/create",
            {"name": "proto-model", "tags": [{"key": "k", "value": "v"}]},
        )
    )
    _error(
        shared_server.api("POST", "registered-models/create", {"name": "proto-model"}),
        400,
        "RESOURCE_ALREADY_EXISTS",
    )
    source = f"mlflow-artifacts:/0/{run_id}/artifacts/model"
    version = _ok(
        shared_server.api(
            "POST",
            "model-versions/create",
            {"name": "proto-model", "source": source, "run_id": run_id},
        )
    )["model_version"]
    assert (version["version"], version["run_id"], version["status"]) == ("1", run_id, "READY")
    assert version["source"] == f"runs:/{run_id}/model"
    _ok(
        shared_server.api(
            "POST",
            "model-versions/transition-stage",
            {
                "name": "proto-model",
                "version": "1",
                "stage": "production",
                "archive_existing_versions": False,
            },
        )
    )
    _ok(
        shared_server.api(
            "POST",
            "registered-models/alias",
            {"name": "proto-model", "alias": "champion", "version": "1"},
        )
    )
    by_alias = _ok(
        shared_server.api(
            "GET", "registered-models/alias", {"name": "proto-model", "alias": "champion"}
        )
    )
    assert by_alias["model_version"]["current_stage"] == "Production"
    assert by_alias["model_version"]["aliases"] == ["champion"]
    model = _ok(shared_server.api("GET", "registered-models/get", {"name": "proto-model"}))[
        "registered_model"
    ]
    assert model["aliases"] == [{"alias": "champion", "version": "1"}]
    assert [v["version"] for v in model["latest_versions"]] == ["1"]
    versions = _ok(
        shared_server.api("GET", "model-versions/search", {"filter": f"run_id = '{run_id}'"})
    )
    assert [v["name"] for v in versions["model_versions"]] == ["proto-model"]
    uri = _ok(
        shared_server.api(
            "GET", "model-versions/get-download-uri", {"name": "proto-model", "version": "1"}
        )
    )
    assert uri["artifact_uri"] == "mlflow-artifacts:/models/proto-model/versions/1/artifacts"
    copy = shared_server.request(
        "GET", "/api/2.0/mlflow-artifacts/artifacts/models/proto-model/versions/1/artifacts/MLmodel"
    )
    assert copy.body.decode() == mlmodel
    # a registered copy is read-only
    _error(
        shared_server.request(
            "PUT",
            "/api/2.0/mlflow-artifacts/artifacts/models/proto-model/versions/1/artifacts/MLmodel",
            "x",
            content_type="text/plain",
        ),
        400,
        "INVALID_PARAMETER_VALUE",
    )
    _ok(
        shared_server.api(
            "POST",
            "model-versions/set-tag",
            {"name": "proto-model", "version": "1", "key": "mlflow.note", "value": "x"},
        )
    )
    _ok(
        shared_server.api(
            "DELETE",
            "model-versions/delete-tag",
            {"name": "proto-model", "version": "1", "key": "mlflow.note"},
        )
    )
    _ok(
        shared_server.api(
            "DELETE", "registered-models/alias", {"name": "proto-model", "alias": "champion"}
        )
    )
    _error(
        shared_server.api(
            "POST", "model-versions/create", {"name": "proto-model", "source": "/client/local/path"}
        ),
        400,
        "INVALID_PARAMETER_VALUE",
    )
    _ok(shared_server.api("DELETE", "registered-models/delete", {"name": "proto-model"}))
    _error(
        shared_server.api("GET", "registered-models/get", {"name": "proto-model"}),
        404,
        "RESOURCE_DOES_NOT_EXIST",
    )


def test_ajax_prefix_serves_the_same_api(shared_server: TrackingServer) -> None:
    reply = shared_server.request("GET", "/ajax-api/2.0/mlflow/experiments/get?experiment_id=0")
    assert _ok(reply)["experiment"]["name"] == "Default"


@pytest.mark.parametrize(
    ("method", "path", "body", "content_type", "status", "code"),
    [
        ("GET", "/api/2.0/mlflow/nope", None, None, 404, "ENDPOINT_NOT_FOUND"),
        ("GET", "/nope", None, None, 404, "ENDPOINT_NOT_FOUND"),
        ("GET", "/api/2.0/mlflow/runs/create", None, None, 405, "METHOD_NOT_ALLOWED"),
        (
            "POST",
            "/api/2.0/mlflow/runs/create",
            "{bad",
            "application/json",
            400,
            "MALFORMED_REQUEST",
        ),
        (
            "POST",
            "/api/2.0/mlflow/runs/create",
            "[1, 2]",
            "application/json",
            400,
            "MALFORMED_REQUEST",
        ),
        (
            "POST",
            "/api/2.0/mlflow/runs/create",
            "name=x",
            "application/x-www-form-urlencoded",
            415,
            "UNSUPPORTED_MEDIA_TYPE",
        ),
        (
            "POST",
            "/api/2.0/mlflow/experiments/create",
            "{}",
            "application/json",
            400,
            "INVALID_PARAMETER_VALUE",
        ),
        (
            "GET",
            "/api/2.0/mlflow/runs/get?run_id=0123456789abcdef0123456789abcdef",
            None,
            None,
            404,
            "RESOURCE_DOES_NOT_EXIST",
        ),
        (
            "GET",
            "/api/2.0/mlflow/runs/get?run_id=..%2F..%2Fetc",
            None,
            None,
            400,
            "INVALID_PARAMETER_VALUE",
        ),
        (
            "GET",
            "/api/2.0/mlflow/experiments/get?experiment_id=..",
            None,
            None,
            404,
            "RESOURCE_DOES_NOT_EXIST",
        ),
        (
            "POST",
            "/api/2.0/mlflow/experiments/search",
            '{"max_results": 0}',
            "application/json",
            400,
            "INVALID_PARAMETER_VALUE",
        ),
        (
            "POST",
            "/api/2.0/mlflow/experiments/search",
            '{"filter": "name = "}',
            "application/json",
            400,
            "INVALID_PARAMETER_VALUE",
        ),
        (
            "POST",
            "/api/2.0/mlflow/runs/search",
            '{"filter": "metrics.x > \'a\'"}',
            "application/json",
            400,
            "INVALID_PARAMETER_VALUE",
        ),
        (
            "POST",
            "/api/2.0/mlflow/runs/search",
            '{"run_view_type": "SOME"}',
            "application/json",
            400,
            "INVALID_PARAMETER_VALUE",
        ),
        (
            "GET",
            "/api/2.0/mlflow/registered-models/search?filter=name%3D",
            None,
            None,
            400,
            "INVALID_PARAMETER_VALUE",
        ),
        (
            "GET",
            "/api/2.0/mlflow/logged-models/m-nothing",
            None,
            None,
            400,
            "INVALID_PARAMETER_VALUE",
        ),
        (
            "GET",
            "/api/2.0/mlflow/logged-models/m-0123456789abcdef0123456789abcdef",
            None,
            None,
            404,
            "RESOURCE_DOES_NOT_EXIST",
        ),
        ("GET", "/api/2.0/mlflow-artifacts/artifacts", None, None, 400, "INVALID_PARAMETER_VALUE"),
        (
            "GET",
            "/api/2.0/mlflow-artifacts/artifacts/x/y",
            None,
            None,
            404,
            "RESOURCE_DOES_NOT_EXIST",
        ),
    ],
)
def test_client_mistakes_are_mlflow_shaped_4xx(
    shared_server: TrackingServer,
    method: str,
    path: str,
    body: str | None,
    content_type: str | None,
    status: int,
    code: str,
) -> None:
    _error(shared_server.request(method, path, body, content_type=content_type), status, code)


def test_invalid_values_in_logging_requests(shared_server: TrackingServer) -> None:
    run_id = _run(shared_server)["info"]["run_id"]
    bad = [
        {"run_id": run_id, "key": "m", "value": "high", "timestamp": 1},
        {"run_id": run_id, "key": "m", "value": True, "timestamp": 1},
        {"run_id": run_id, "key": "m", "timestamp": 1},
        {"run_id": run_id, "key": "m", "value": 1, "step": "abc"},
        {"run_id": run_id, "key": "../m", "value": 1, "timestamp": 1},
        {"run_id": run_id, "key": "m", "value": 1, "timestamp": -5},
        {"run_id": run_id, "key": ["m"], "value": 1},
    ]
    for body in bad:
        _error(shared_server.api("POST", "runs/log-metric", body), 400, "INVALID_PARAMETER_VALUE")
    too_many = {"run_id": run_id, "metrics": [{"key": "m", "value": 1, "timestamp": 1}] * 1001}
    _error(shared_server.api("POST", "runs/log-batch", too_many), 400, "INVALID_PARAMETER_VALUE")


def test_no_request_body_makes_a_500(shared_server: TrackingServer) -> None:
    """Every endpoint, fed odd bodies: always a JSON answer below 500."""
    bodies: list[Any] = [
        {},
        {"run_id": 5, "experiment_id": [], "name": {"a": 1}, "key": None},
        {"run_id": "f" * 32, "name": "x", "version": "zz", "source": 3, "model_id": "m-x"},
        {"experiment_ids": "0", "filter": 7, "max_results": "many", "page_token": 1},
        {"tags": "x", "params": [1, 2], "metrics": [{"key": 1}], "models": [None]},
        {"name": "a" * 300, "alias": "v1", "stage": "Nowhere", "status": "EXPLODED"},
    ]
    for endpoint, body in itertools.product(ENDPOINTS, bodies):
        path = endpoint.path.replace("{model_id}", "m-" + "0" * 32).replace("{tag_key}", "k")
        if endpoint.method == "GET":
            query = {k: json.dumps(v) if not isinstance(v, str) else v for k, v in body.items()}
            reply = shared_server.api("GET", path.lstrip("/"), query)
        else:
            reply = shared_server.api(endpoint.method, path.lstrip("/"), body)
        assert reply.status < 500, (endpoint, body, reply.body)
        if reply.status >= 400:
            assert set(reply.json()) == {"error_code", "message"}, reply.body


def test_body_limit(start_server: Any) -> None:
    server = start_server("--max-body-size", "1KiB", "--max-artifact-size", "2KiB")
    big = {"name": "x" * 2000}
    _error(server.api("POST", "experiments/create", big), 413, "REQUEST_LIMIT_EXCEEDED")
    run_id = _run(server)["info"]["run_id"]
    root = f"/api/2.0/mlflow-artifacts/artifacts/0/{run_id}/artifacts"
    _error(
        server.request(
            "PUT", f"{root}/big.bin", b"x" * 4096, content_type="application/octet-stream"
        ),
        413,
        "REQUEST_LIMIT_EXCEEDED",
    )
    assert (
        _ok(
            server.request("GET", f"/api/2.0/mlflow-artifacts/artifacts?path=0/{run_id}/artifacts")
        )["files"]
        == []
    )


def test_a_token_file_makes_every_request_authenticate(start_server: Any, tmp_path: Path) -> None:
    token = "s3cret-token-0123456789"
    token_file = tmp_path / "token"
    token_file.write_text(token + "\n")
    server = start_server("--auth-token-file", str(token_file))
    server.token = token
    assert "bearer token required" in server.log()
    for path in ("/version", "/api/2.0/mlflow/experiments/get?experiment_id=0"):
        reply = server.request("GET", path, auth=False)
        _error(reply, 401, "UNAUTHENTICATED")
        assert reply.headers["www-authenticate"].startswith("Bearer")
        wrong = server.request("GET", path, headers={"Authorization": "Bearer nope"}, auth=False)
        _error(wrong, 401, "UNAUTHENTICATED")
        assert server.request("GET", path).status == 200
    put = server.request(
        "PUT",
        "/api/2.0/mlflow-artifacts/artifacts/0/x/artifacts/f",
        b"x",
        content_type="text/plain",
        auth=False,
    )
    _error(put, 401, "UNAUTHENTICATED")


def test_a_short_token_file_is_refused(tmp_path: Path, mlcli_process: Any) -> None:
    (tmp_path / "token").write_text("short\n")
    result = mlcli_process(
        "server", "--auth-token-file", str(tmp_path / "token"), cwd=tmp_path, check=False
    )
    assert result.returncode == 2
    assert "at least 16 characters" in result.stderr


def test_listens_on_loopback_and_refuses_foreign_hosts(shared_server: TrackingServer) -> None:
    assert shared_server.host == "127.0.0.1"
    reply = shared_server.request("GET", "/health", headers={"Host": "evil.example:5000"})
    _error(reply, 403, "PERMISSION_DENIED")
    assert shared_server.request("GET", "/health", headers={"Host": "localhost:5000"}).status == 200
