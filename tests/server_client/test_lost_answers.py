"""Answers lost on the way back from a team server: the server carried the request
out, the client did not hear it. mlcli's client names every batch, sends it again under
the same name, and the server writes a named batch once: no point lost, none twice."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from proxies import FlakyProxy
from trackingserver import TrackingServer

LOG_BATCH = "/api/2.0/mlflow/runs/log-batch"

TRAINING = r"""
import sys, mlcli
from mlcli.tracking.metric_buffer import metric_buffer
with mlcli.start_run() as run:
    for i in range(int(sys.argv[1])):
        mlcli.log_metric("x", float(i), step=i)
        if i % 1000 == 999:  # what the buffer's thread does on its deadline, now
            metric_buffer()._flush_or_warn()
print(run.info.run_id)
"""


@pytest.fixture
def lossy(served_store: TrackingServer) -> Iterator[FlakyProxy]:
    proxy = FlakyProxy(served_store.url, failures=3, lose_answers=LOG_BATCH)
    yield proxy
    proxy.close()


def steps(server: TrackingServer, run_id: str) -> list[int]:
    query = f"run_id={run_id}&metric_key=x&max_results=25000"
    reply = server.request("GET", f"/api/2.0/mlflow/metrics/get-history?{query}")
    return sorted(int(m["step"]) for m in reply.json()["metrics"])


def train(url: str, points: int, tmp_path: Path, **env: str) -> tuple[str, str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("MLCLI_", "MLFLOW_"))}
    environ.update(MLCLI_STORE=url, XDG_CACHE_HOME=str(tmp_path / "cache"), **env)
    result = subprocess.run(
        [sys.executable, "-c", TRAINING, str(points)],
        env=environ,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    return result.stdout.strip(), result.stderr


def test_batches_whose_answers_were_lost_are_sent_again_and_written_once(
    served_store: TrackingServer, lossy: FlakyProxy, tmp_path: Path
) -> None:
    run_id, _ = train(lossy.url, 2500, tmp_path)
    assert len(lossy.forwarded) >= 3 + 3  # three lost, each sent again
    assert steps(served_store, run_id) == list(range(2500))


def test_beyond_the_retries_the_points_wait_and_are_sent_again_under_their_name(
    served_store: TrackingServer, lossy: FlakyProxy, tmp_path: Path
) -> None:
    """One retry: the first batch loses its answer twice and fails; its points, in
    doubt, are kept aside and sent again under their name before the run's next ones."""
    run_id, stderr = train(lossy.url, 2500, tmp_path, MLCLI_HTTP_RETRIES="1")
    assert "could not write metrics yet" in stderr
    assert steps(served_store, run_id) == list(range(2500))


def test_a_named_batch_is_written_once(served_store: TrackingServer) -> None:
    created = served_store.api("POST", "runs/create", {"experiment_id": "0"}).json()
    run_id = created["run"]["info"]["run_id"]
    batch = {
        "run_id": run_id,
        "metrics": [{"key": "x", "value": 1.5, "step": s, "timestamp": 1} for s in range(3)],
        "params": [{"key": "lr", "value": "0.1"}],
        "mlcli_batch_id": "batch-0123456789",
    }
    for _ in range(2):
        assert served_store.api("POST", "runs/log-batch", batch).status == 200
    assert steps_of(served_store, run_id) == [0, 1, 2]
    bad = served_store.api("POST", "runs/log-batch", {**batch, "mlcli_batch_id": "../x"})
    assert bad.status == 400
    assert bad.json()["message"].startswith("invalid batch id '../x'")


def steps_of(server: TrackingServer, run_id: str) -> list[int]:
    query = f"run_id={run_id}&metric_key=x"
    reply = server.request("GET", f"/api/2.0/mlflow/metrics/get-history?{query}")
    return sorted(int(m["step"]) for m in reply.json()["metrics"])


def test_log_batch_through_the_client_survives_lost_answers(
    served_store: TrackingServer, lossy: FlakyProxy
) -> None:
    from mlcli.tracking import TrackingClient

    client = TrackingClient(lossy.url)
    run = client.create_run("0")
    client.log_batch(run.info.run_id, metrics=[("x", float(s), s) for s in range(2500)])
    assert steps(served_store, run.info.run_id) == list(range(2500))
    with urllib.request.urlopen(
        f"{served_store.url}/api/2.0/mlflow/runs/get?run_id={run.info.run_id}"
    ) as reply:
        assert json.load(reply)["run"]["data"]["metrics"][0]["value"] == 2499.0


MLFLOW_LOGGING = r"""
import sys, time
from mlflow import MlflowClient
from mlflow.entities import Metric
client = MlflowClient()
run_id = client.create_run("0").info.run_id
now = int(time.time() * 1000)
for start in range(0, 1000, 100):
    batch = [Metric("x", float(i), now + i, i) for i in range(start, start + 100)]
    client.log_batch(run_id, metrics=batch)
print(run_id)
"""


def test_mlflows_client_sending_a_batch_again_has_it_written_once(
    served_store: TrackingServer, lossy: FlakyProxy, tmp_path: Path
) -> None:
    """MLflow's client sends a log-batch again when the answer was lost (its retries
    cover every method); the server names a batch of metrics by its content."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("MLCLI_", "MLFLOW_"))}
    environ.update(
        MLFLOW_TRACKING_URI=lossy.url,
        MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR="0",
        GIT_PYTHON_REFRESH="quiet",
    )
    result = subprocess.run(
        [sys.executable, "-c", MLFLOW_LOGGING], env=environ, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert len(lossy.forwarded) >= 10 + 3  # three answers lost, each batch sent again
    assert steps(served_store, result.stdout.strip()) == list(range(1000))
