"""A real ``mlcli server``: ``runs/log-batch`` is one batch, checked whole before it
is written, and run names set through tags are checked like any other (issue 15,
findings 6, 10 and 11)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from trackingserver import TrackingServer

API = "/api/2.0/mlflow"


def _new_run(server: TrackingServer, name: str = "plain") -> str:
    reply = server.api("POST", "runs/create", {"experiment_id": "0", "run_name": name})
    assert reply.status == 200, reply.body
    return str(reply.json()["run"]["info"]["run_id"])


def _logs(server: TrackingServer, run_id: str) -> dict[str, bytes]:
    run_dir = Path(server.store) / "runs" / run_id
    return {p.name: p.read_bytes() for p in sorted(run_dir.glob("*.jsonl"))}


def _refused(reply: Any) -> str:
    assert reply.status == 400, (reply.status, reply.body[:300])
    body = reply.json()
    assert body["error_code"] == "INVALID_PARAMETER_VALUE", body
    return str(body["message"])


def test_log_batch_writes_one_batch(shared_server: TrackingServer) -> None:
    run_id = _new_run(shared_server)
    body = {
        "run_id": run_id,
        "metrics": [{"key": "m", "value": v, "timestamp": 1, "step": v} for v in range(3)],
        "params": [{"key": "p", "value": "1"}],
        "tags": [{"key": "mlflow.runName", "value": "renamed"}],
    }
    assert shared_server.api("POST", "runs/log-batch", body).status == 200
    logs = _logs(shared_server, run_id)
    commits = [json.loads(line) for line in logs["batches.jsonl"].splitlines()]
    assert [c["lines"] for c in commits] == [5]
    marked = [json.loads(line).get("batch") for line in logs["metrics.jsonl"].splitlines()]
    assert marked == [commits[0]["batch"]] * 3
    run = shared_server.api("GET", "runs/get", {"run_id": run_id}).json()["run"]
    assert run["info"]["run_name"] == "renamed"
    assert run["data"]["params"] == [{"key": "p", "value": "1"}]


@pytest.mark.parametrize(
    "bad",
    [
        {"metrics": [{"key": "m", "value": 10**400, "timestamp": 1}]},
        {"tags": [{"key": "mlflow.runName", "value": "evil\nrow"}]},
        {"tags": [{"key": "mlflow.parentRunId", "value": "f" * 32}]},
        {"metrics": [{"key": "m", "value": 1, "timestamp": 1, "model_id": "m-" + "0" * 32}]},
    ],
    ids=["401-digit-metric", "run-name-newline", "unknown-parent", "unknown-model"],
)
def test_a_bad_item_in_a_batch_writes_nothing(
    shared_server: TrackingServer, bad: dict[str, Any]
) -> None:
    run_id = _new_run(shared_server)
    before = _logs(shared_server, run_id)
    body = {
        "run_id": run_id,
        "params": [{"key": "p", "value": "1"}],
        "metrics": [{"key": "ok", "value": 1.0, "timestamp": 1}],
        **{k: v + bad[k] if k == "metrics" else v for k, v in bad.items()},
    }
    reply = shared_server.api("POST", "runs/log-batch", body)
    assert reply.status in (400, 404), (reply.status, reply.body[:300])
    assert _logs(shared_server, run_id) == before


def test_a_metric_of_hundreds_of_digits_is_400(shared_server: TrackingServer) -> None:
    run_id = _new_run(shared_server)
    body = {"run_id": run_id, "key": "m", "value": 10**400, "timestamp": 1}
    message = _refused(shared_server.api("POST", "runs/log-metric", body))
    assert "within the range of a double" in message


@pytest.mark.parametrize("key", ["mlflow.runName", "mlcli.runName"])
def test_a_run_name_tag_with_a_newline_is_400(shared_server: TrackingServer, key: str) -> None:
    run_id = _new_run(shared_server, "kept")
    body = {"run_id": run_id, "key": key, "value": "evil\nfake-row"}
    assert "invalid run name" in _refused(shared_server.api("POST", "runs/set-tag", body))
    run = shared_server.api("GET", "runs/get", {"run_id": run_id}).json()["run"]
    assert run["info"]["run_name"] == "kept"


def test_runs_create_with_a_run_name_tag_holding_a_newline_is_400(
    shared_server: TrackingServer,
) -> None:
    before = sorted((Path(shared_server.store) / "runs").iterdir())
    body = {"experiment_id": "0", "tags": [{"key": "mlflow.runName", "value": "a\nb"}]}
    assert "invalid run name" in _refused(shared_server.api("POST", "runs/create", body))
    assert sorted((Path(shared_server.store) / "runs").iterdir()) == before
