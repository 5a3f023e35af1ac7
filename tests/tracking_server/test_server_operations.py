"""Running ``mlcli server`` in production: probes, Prometheus metrics, JSON access logs
and a graceful stop, each against real server processes (docs/server.md,
"Operations")."""

from __future__ import annotations

import http.client
import json
import signal
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from trackingserver import TrackingServer

prometheus_parser = pytest.importorskip("prometheus_client.parser")

TOKEN = "operations-token-0123456789"
RUNS_GET = "/api/2.0/mlflow/runs/get"
ARTIFACT_ROUTE = "/api/2.0/mlflow-artifacts/artifacts/{path:path}"


def _server_with_token(start_server: Callable[..., TrackingServer], tmp_path: Path, *args: str):
    (tmp_path / "token").write_text(TOKEN + "\n")
    server = start_server("--auth-token-file", str(tmp_path / "token"), *args)
    server.token = TOKEN
    return server


def _create_run(server: TrackingServer) -> str:
    reply = server.api("POST", "runs/create", {"experiment_id": "0"})
    assert reply.status == 200, reply.body
    return str(reply.json()["run"]["info"]["run_id"])


def _samples(server: TrackingServer) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """The scrape of ``/metrics``: (sample name, labels) -> value."""
    reply = server.request("GET", "/metrics")
    assert reply.status == 200, reply.body
    assert reply.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in prometheus_parser.text_string_to_metric_families(reply.text)
        for sample in family.samples
    }


def _value(samples: dict[Any, float], name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def test_the_probes_answer_without_a_token_and_nothing_else_does(
    start_server: Callable[..., TrackingServer], tmp_path: Path
) -> None:
    server = _server_with_token(start_server, tmp_path)
    health = server.request("GET", "/health", auth=False)
    assert (health.status, health.json()) == (200, {"status": "OK"})
    ready = server.request("GET", "/ready", auth=False)
    assert ready.status == 200
    assert ready.json() == {"status": "ready", "checks": {"store": "ok", "index": "ok"}}
    # everything else, /metrics included, needs the token; the allow-list is exact paths
    for path in ("/metrics", "/version", "/health/", "/ready/", f"{RUNS_GET}?run_id=x"):
        assert server.request("GET", path, auth=False).status == 401, path
    assert server.request("GET", "/metrics").status == 200
    # a probe is still refused for a foreign Host (DNS rebinding of a loopback server)
    foreign = server.request("GET", "/ready", headers={"Host": "evil.example"}, auth=False)
    assert foreign.status == 403


def test_ready_is_503_while_the_store_is_away_and_200_once_it_is_back(
    start_server: Callable[..., TrackingServer], tmp_path: Path
) -> None:
    server = start_server()
    _create_run(server)
    assert server.request("GET", "/ready").status == 200
    away = server.store.with_name("away")
    server.store.rename(away)  # as root, chmod 000 would not stop the server reading it
    try:
        reply = server.request("GET", "/ready")
        assert reply.status == 503
        body = reply.json()
        assert body["status"] == "not ready"
        assert body["checks"]["store"].startswith("the store's root cannot be read")
        assert body["checks"]["index"] == "not checked"
        assert str(tmp_path) not in reply.text  # an unauthenticated probe learns no paths
        assert server.request("GET", "/health").status == 200  # alive, just not ready
    finally:
        away.rename(server.store)
    assert server.request("GET", "/ready").status == 200
    log = server.log()
    assert "mlcli server: not ready: " in log and "mlcli server: ready again" in log


@pytest.mark.parametrize("workers", ["1", "2"])
def test_metrics_count_requests_errors_and_points_by_route(
    start_server: Callable[..., TrackingServer], workers: str
) -> None:
    server = start_server("--workers", workers)
    run_id = _create_run(server)

    def post(endpoint: str, body: dict[str, Any], status: int = 200) -> None:
        assert server.api("POST", endpoint, {"run_id": run_id, **body}).status == status

    metric = {"key": "loss", "value": 0.5, "timestamp": 1_700_000_000_000, "step": 0}
    for step in range(3):
        post("runs/log-metric", {**metric, "step": step})
    for batch in range(2):
        post("runs/log-batch", {"metrics": [{**metric, "step": 10 * batch + i} for i in range(5)]})
    post("runs/log-batch", {"params": [{"key": "lr", "value": "0.1"}]})  # no points
    post("runs/log-metric", {**metric, "value": "not a number"}, status=400)  # none written
    for _ in range(4):
        assert server.api("GET", "runs/get", {"run_id": run_id}).status == 200
    assert server.api("GET", "runs/get", {"run_id": "f" * 32}).status == 404

    # With two workers each scrape is answered by one of them; every one adds up both.
    for _ in range(4 if workers == "2" else 1):
        samples = _samples(server)
        assert _value(samples, "mlcli_metric_points_written_total") == 13
        requests = "mlcli_http_requests_total"
        runs = "/api/2.0/mlflow/runs"
        assert _value(samples, requests, route=f"{runs}/create", method="POST", status="200") == 1
        assert (
            _value(samples, requests, route=f"{runs}/log-metric", method="POST", status="200") == 3
        )
        assert (
            _value(samples, requests, route=f"{runs}/log-metric", method="POST", status="400") == 1
        )
        assert (
            _value(samples, requests, route=f"{runs}/log-batch", method="POST", status="200") == 3
        )
        assert _value(samples, requests, route=RUNS_GET, method="GET", status="200") == 4
        assert _value(samples, requests, route=RUNS_GET, method="GET", status="404") == 1
        errors = "mlcli_http_errors_total"
        assert _value(samples, errors, route=RUNS_GET, method="GET", **{"class": "4xx"}) == 1
        assert (
            _value(samples, errors, route=f"{runs}/log-metric", method="POST", **{"class": "4xx"})
            == 1
        )
        assert not any(name == errors and ("class", "5xx") in labels for name, labels in samples)
        latency = "mlcli_http_request_duration_seconds_count"
        assert _value(samples, latency, route=RUNS_GET) == 5
        assert _value(samples, "mlcli_http_requests_in_flight") == 1  # this scrape
        assert not any(run_id in value for _, labels in samples for _, value in labels)


def test_two_workers_keep_their_metrics_in_a_folder_removed_at_exit(
    start_server: Callable[..., TrackingServer],
) -> None:
    psutil = pytest.importorskip("psutil")
    server = start_server("--workers", "2")
    folders = {
        child.environ().get("PROMETHEUS_MULTIPROC_DIR")
        for child in psutil.Process(server.process.pid).children()
    }
    folders.discard(None)
    assert len(folders) == 1
    folder = Path(str(folders.pop()))
    assert any(folder.iterdir())  # the workers' values
    assert server.stop() == 0
    assert not folder.exists()


def test_json_access_log_lines_parse_and_name_the_route(
    start_server: Callable[..., TrackingServer],
) -> None:
    server = start_server("--log-format", "json")
    run_id = _create_run(server)
    assert server.api("GET", "runs/get", {"run_id": run_id}).status == 200
    upload = f"/api/2.0/mlflow-artifacts/artifacts/0/{run_id}/artifacts/notes.txt"
    assert server.request("PUT", upload, b"hello", content_type="text/plain").status == 200
    lines = [json.loads(line) for line in server.log().splitlines() if line.startswith("{")]
    by_path = {line["path"]: line for line in lines}
    get = by_path[RUNS_GET]
    assert get["route"] == RUNS_GET and get["method"] == "GET" and get["status"] == 200
    assert get["query"] == f"run_id={run_id}"
    assert get["client"].startswith("127.0.0.1:") and get["user"] is None
    assert get["bytes"] > 0 and get["duration_ms"] >= 0
    assert get["time"].endswith("Z")
    put = by_path[upload]
    assert (put["route"], put["status"]) == (ARTIFACT_ROUTE, 200)
    assert by_path["/health"]["route"] == "/health"  # the start-up probe of the helper
    assert set(get) == {
        "time", "client", "method", "route", "path", "query", "status", "bytes", "duration_ms",
        "user",
    }  # fmt: skip


def test_an_unknown_log_format_is_refused(tmp_path: Path, mlcli_process: Any) -> None:
    result = mlcli_process("server", "--log-format", "xml", cwd=tmp_path, check=False)
    assert result.returncode == 2
    assert "--log-format must be text or json" in result.stderr


def test_sigterm_lets_an_upload_in_flight_finish_then_exits_0(
    start_server: Callable[..., TrackingServer],
) -> None:
    server = start_server()
    run_id = _create_run(server)
    upload = f"/api/2.0/mlflow-artifacts/artifacts/0/{run_id}/artifacts/big.bin"
    piece, pieces = b"x" * 65536, 32
    connection = http.client.HTTPConnection(server.host, server.port, timeout=60)
    connection.putrequest("PUT", upload)
    connection.putheader("Content-Length", str(len(piece) * pieces))
    connection.putheader("Content-Type", "application/octet-stream")
    connection.endheaders()
    for _ in range(pieces // 2):
        connection.send(piece)
    # The upload is in the server's hands (in flight: it and this scrape) before SIGTERM.
    _wait_for(lambda: _value(_samples(server), "mlcli_http_requests_in_flight") == 2)
    server.process.send_signal(signal.SIGTERM)
    _wait_for(lambda: not _accepts_connections(server))  # shutting down: no new requests
    for _ in range(pieces // 2):
        connection.send(piece)
    reply = connection.getresponse()
    assert reply.status == 200, reply.read()
    connection.close()
    assert server.process.wait(30) == 0
    assert "mlcli server: stopped" in server.log()
    stored = server.store / "runs" / run_id / "artifacts" / "big.bin"
    assert stored.stat().st_size == len(piece) * pieces


def _accepts_connections(server: TrackingServer) -> bool:
    try:
        socket.create_connection((server.host, server.port), timeout=1).close()
    except OSError:
        return False
    return True


def _wait_for(condition: Callable[[], bool], timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)
