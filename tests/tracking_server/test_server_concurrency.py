"""Many MLflow clients logging through one server at once lose nothing: 8 processes,
1,000 ``mlflow.log_metric`` calls each, into one run, against two worker processes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from trackingserver import mlflow_environment

from mlcli.tracking import TrackingClient

pytestmark = [pytest.mark.slow, pytest.mark.mlflow]
pytest.importorskip("mlflow")

CLIENTS = 8
POINTS = 1000

CLIENT = """
import sys
from mlflow import MlflowClient
client = MlflowClient()
run_id, key = sys.argv[1], sys.argv[2]
for step in range({points}):
    client.log_metric(run_id, key, step * 0.5, timestamp=1_700_000_000_000 + step, step=step)
    if step % 100 == 0:
        client.log_param(run_id, "shared", "same value from every client")
"""


def test_eight_clients_logging_at_once_lose_nothing(start_server: Any, tmp_path: Path) -> None:
    server = start_server("--workers", "2")
    run_id = server.api("POST", "runs/create", {"experiment_id": "0"}).json()["run"]["info"][
        "run_id"
    ]
    script = tmp_path / "client.py"
    script.write_text(CLIENT.format(points=POINTS))
    environ = mlflow_environment(server)
    processes = [
        subprocess.Popen(
            [sys.executable, str(script), run_id, f"client{i}/loss"],
            env=environ,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for i in range(CLIENTS)
    ]
    for process in processes:
        _, err = process.communicate(timeout=600)
        assert process.returncode == 0, err.decode()
    client = TrackingClient(server.store)
    for i in range(CLIENTS):
        history = client.get_metric_history(run_id, f"client{i}/loss")
        assert sorted(m.step for m in history) == list(range(POINTS))
        assert all(m.value == m.step * 0.5 for m in history)
    run = client.get_run(run_id)
    assert len(run.data.metrics) == CLIENTS
    assert run.data.params == {"shared": "same value from every client"}
    assert " 500 " not in server.log()
