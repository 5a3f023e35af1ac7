"""``mlcli server --store s3://... --index postgresql://...``: replicas with no state
on disk, sharing one bucket (SeaweedFS) and one PostgreSQL; MLflow's client and mlcli's
against them; PostgreSQL restarted under a running server; a graceful stop that leaves
the bucket complete."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from loadclients import MLCLI_CLIENT, MLFLOW_CLIENT, environment, history
from proxies import Balancer
from trackingserver import TrackingServer, mlflow_environment, start_tracking_server


@pytest.fixture
def team(seaweedfs: Any, postgres: Any, s3_env: Any, tmp_path: Path) -> dict[str, str]:
    s3_env(seaweedfs)
    return {"store": f"s3://{seaweedfs.new_bucket()}/team", "index": postgres.new_database()}


@pytest.fixture
def start_replica(team: dict[str, str], tmp_path: Path) -> Iterator[Callable[..., TrackingServer]]:
    servers: list[TrackingServer] = []

    def start(*args: str) -> TrackingServer:
        log = tmp_path / f"replica-{len(servers)}.log"
        server = start_tracking_server(team["store"], log, "--index", team["index"], *args)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


def _mlcli(url: str, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("MLCLI_", "MLFLOW_"))}
    environ.update(MLCLI_STORE=url, XDG_CACHE_HOME=str(tmp_path / "cache"))
    return subprocess.run(
        [sys.executable, "-m", "mlcli", *args], capture_output=True, text=True, env=environ
    )


MLFLOW_LOGS = r"""
import mlflow
mlflow.set_experiment("team")
with mlflow.start_run(run_name="from-mlflow") as run:
    mlflow.log_params({"lr": "0.1", "depth": "3"})
    for step in range(300):
        mlflow.log_metric("loss", 1.0 / (step + 1), step=step)
    mlflow.set_tag("owner", "ann")
print(run.info.run_id)
"""


LEFT_RUNNING = r"""
from mlflow import MlflowClient
client = MlflowClient()
run = client.create_run(client.create_experiment("team"), run_name="still-running")
client.log_param(run.info.run_id, "lr", "0.1")
for step in range(300):
    client.log_metric(run.info.run_id, "loss", 1.0 / (step + 1), step=step)
print(run.info.run_id)
"""


def test_what_one_replica_writes_every_replica_reads(
    start_replica: Callable[..., TrackingServer], tmp_path: Path
) -> None:
    first, second = start_replica(), start_replica()
    done = subprocess.run(
        [sys.executable, "-c", MLFLOW_LOGS],
        capture_output=True,
        text=True,
        env=mlflow_environment(first),
    )
    assert done.returncode == 0, done.stderr
    run_id = done.stdout.split()[-1]
    shown = _mlcli(second.url, tmp_path, "runs", "show", run_id, "--json")
    assert shown.returncode == 0, shown.stderr
    run = json.loads(shown.stdout)
    assert run["params"] == {"depth": "3", "lr": "0.1"}
    assert run["status"] == "FINISHED" and run["tags"]["owner"] == "ann"
    assert run["metrics"]["loss"] == pytest.approx(1 / 300)
    found = _mlcli(
        second.url,
        tmp_path,
        "runs",
        "list",
        "--experiment",
        "team",
        "--filter",
        "metrics.loss < 0.01 and params.lr = '0.1'",
        "--json",
    )
    assert found.returncode == 0, found.stderr
    assert [r["run_id"] for r in json.loads(found.stdout)] == [run_id]
    query = f"run_id={run_id}&metric_key=loss&max_results=1000"
    reply = second.request("GET", f"/api/2.0/mlflow/metrics/get-history?{query}")
    assert [p["step"] for p in reply.json()["metrics"]] == list(range(300))


def test_postgresql_restarted_under_a_server_makes_it_not_ready_then_ready(
    start_replica: Callable[..., TrackingServer], postgres: Any, tmp_path: Path
) -> None:
    server = start_replica()
    created = server.api("POST", "experiments/create", {"name": "outage"})
    assert created.status == 200, created.text
    with postgres.stopped():
        ready = server.request("GET", "/ready")
        assert ready.status == 503
        assert ready.json()["checks"]["index"] != "ok"
        refused = server.api("POST", "experiments/create", {"name": "during"})
        assert refused.status == 503, refused.text
        assert "Traceback" not in refused.text
    assert server.request("GET", "/ready").status == 200  # no restart of the server
    again = server.api("POST", "experiments/create", {"name": "after"})
    assert again.status == 200, again.text
    names = {e["name"] for e in server.api("POST", "experiments/search", {}).json()["experiments"]}
    assert {"outage", "after"} <= names
    assert " 500 " not in server.log()


@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_graceful_stop_leaves_the_bucket_a_complete_store(
    start_replica: Callable[..., TrackingServer],
    team: dict[str, str],
    tmp_path: Path,
    workers: str,
) -> None:
    """Even a run still RUNNING: its buffered points are flushed before the server exits."""
    server = start_replica("--workers", workers)
    done = subprocess.run(
        [sys.executable, "-c", LEFT_RUNNING],
        capture_output=True,
        text=True,
        env=mlflow_environment(server),
    )
    assert done.returncode == 0, done.stderr
    run_id = done.stdout.split()[-1]
    assert server.stop() == 0
    cloned = _mlcli(team["store"], tmp_path, "clone", team["store"], str(tmp_path / "copy"))
    assert cloned.returncode == 0, cloned.stderr
    local = str(tmp_path / "copy" / ".mlruns")
    history = _mlcli(local, tmp_path, "runs", "show", run_id, "--json")
    assert history.returncode == 0, history.stderr
    shown = json.loads(history.stdout)
    assert shown["metrics"]["loss"] == pytest.approx(1 / 300)
    assert shown["status"] == "RUNNING" and shown["params"] == {"lr": "0.1"}
    from mlcli.store import Store

    points = Store.open(Path(local)).runs.read_metric_history(run_id, "loss")
    assert [p.step for p in points] == list(range(300))


def test_postgresql_restarted_under_load_loses_and_doubles_nothing(
    start_replica: Callable[..., TrackingServer], postgres: Any, tmp_path: Path
) -> None:
    """Two replicas behind a balancer, four clients of both kinds logging 5,000 points
    each; PostgreSQL stops for a few seconds mid-load and starts again. The servers
    answer 503 meanwhile, the clients retry, and every point is there once."""
    replicas = [start_replica(), start_replica()]
    balancer = Balancer([server.url for server in replicas])
    marks = tmp_path / "marks"
    marks.mkdir()
    environ = environment(balancer.url, tmp_path)
    created = subprocess.run(
        [sys.executable, "-m", "mlcli", "experiments", "create", "load"],
        env=environ,
        capture_output=True,
        text=True,
    )
    assert created.returncode == 0, created.stderr
    clients = {f"mlcli-{i}": MLCLI_CLIENT for i in range(2)}
    clients |= {f"mlflow-{i}": MLFLOW_CLIENT for i in range(2)}
    processes = {
        name: subprocess.Popen(
            [sys.executable, "-c", code, "5000", str(marks), name],
            env=environ,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name, code in clients.items()
    }
    try:
        while not all((marks / name).exists() for name in clients):
            for name, process in processes.items():
                assert process.poll() in (None, 0), (name, process.communicate())
            time.sleep(0.02)
        with postgres.stopped():
            while replicas[0].request("GET", "/ready").status != 503:
                time.sleep(0.05)
            time.sleep(2)  # requests meet a server without its index
        for name, process in processes.items():
            _, err = process.communicate(timeout=300)
            assert process.returncode == 0, (name, err)
            assert "Traceback" not in err, (name, err)
    finally:
        for process in processes.values():
            if process.poll() is None:
                process.kill()
                process.communicate()
        balancer.close()
    assert replicas[1].request("GET", "/ready").status == 200
    found = replicas[1].api("POST", "runs/search", {"experiment_ids": ["1"]}).json()["runs"]
    runs = {run["info"]["run_name"]: run["info"]["run_id"] for run in found}
    assert sorted(runs) == sorted(clients)
    for name, run_id in runs.items():
        for server in replicas:
            assert history(server, run_id) == list(range(5000)), (name, server.url)
    for server in replicas:
        assert " 500 " not in server.log()


def test_a_bucket_that_stops_answering_is_a_503_and_writes_go_on(
    postgres: Any, s3_env: Any, tmp_path: Path
) -> None:
    """Writes need only PostgreSQL; a read that needs the bucket (a flushed history) is a
    503 in one line while it is down, and /ready says why; never a 500."""
    from s3servers import moto_running

    bucket_server = contextlib.ExitStack()
    moto = bucket_server.enter_context(moto_running())
    s3_env(moto)
    store = f"s3://{moto.new_bucket()}/team"
    server = start_tracking_server(
        store, tmp_path / "server.log", "--index", postgres.new_database()
    )
    try:
        experiment = server.api("POST", "experiments/create", {"name": "e"}).json()
        run = server.api(
            "POST", "runs/create", {"experiment_id": experiment["experiment_id"]}
        ).json()["run"]["info"]
        run_id = run["run_id"]
        point = {"run_id": run_id, "key": "x", "value": 1.0, "timestamp": 1, "step": 0}
        assert server.api("POST", "runs/log-metric", point).status == 200
        ended = server.api("POST", "runs/update", {"run_id": run_id, "status": "FINISHED"})
        assert ended.status == 200
        client = moto.client()
        bucket = store[5:].split("/")[0]
        manifest = f"team/runs/{run_id}/manifest.json"
        deadline = time.monotonic() + 120
        while "Contents" not in client.list_objects_v2(Bucket=bucket, Prefix=manifest):
            assert time.monotonic() < deadline, "the ended run was never flushed"
            time.sleep(0.1)
        bucket_server.close()  # the bucket stops answering; the mlcli server runs on

        ready = server.request("GET", "/ready")
        assert ready.status == 503 and ready.json()["checks"]["store"] != "ok"
        query = f"run_id={run_id}&metric_key=x"
        history = server.request("GET", f"/api/2.0/mlflow/metrics/get-history?{query}")
        assert history.status == 503, history.text
        assert "cannot reach" in history.json()["message"]
        assert "\n" not in history.json()["message"]
        point["step"] = 1
        assert server.api("POST", "runs/log-metric", point).status == 200  # PostgreSQL only
        assert " 500 " not in server.log()
    finally:
        server.stop()
        bucket_server.close()
