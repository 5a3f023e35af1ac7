"""Load for replicated servers: client programs of both kinds (mlcli's Python API, MLflow's
client) that log N points into a run of the experiment "load", touching a mark file a
quarter of the way through, and how to read a run's points back from a server."""

from __future__ import annotations

import os
from pathlib import Path

from trackingserver import TrackingServer

MLCLI_CLIENT = r"""
import pathlib, sys, time, mlcli
points, marks, name = int(sys.argv[1]), pathlib.Path(sys.argv[2]), sys.argv[3]
mlcli.set_experiment("load")
with mlcli.start_run(run_name=name) as run:
    for i in range(points):
        mlcli.log_metric("x", float(i), step=i)
        if i % 1000 == 999:  # a training loop's pace: what is buffered goes out, a pause
            mlcli.get_run(run.info.run_id)
            time.sleep(0.05)
        if i == points // 4:
            (marks / name).touch()
"""

MLFLOW_CLIENT = r"""
import pathlib, sys, time
from mlflow import MlflowClient
from mlflow.entities import Metric
points, marks, name = int(sys.argv[1]), pathlib.Path(sys.argv[2]), sys.argv[3]
client = MlflowClient()
experiment = client.get_experiment_by_name("load").experiment_id
run_id = client.create_run(experiment, run_name=name).info.run_id
now = int(time.time() * 1000)
for start in range(0, points, 500):
    batch = [Metric("x", float(i), now + i, i) for i in range(start, start + 500)]
    client.log_batch(run_id, metrics=batch)
    time.sleep(0.02)
    if start <= points // 4 < start + 500:
        (marks / name).touch()
client.set_terminated(run_id)
"""


def environment(url: str, tmp_path: Path) -> dict[str, str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("MLCLI_", "MLFLOW_"))}
    environ.update(
        MLCLI_STORE=url,
        MLFLOW_TRACKING_URI=url,
        MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR="1",  # MLflow's own retries: 1 s, 2 s, 4 s...
        XDG_CACHE_HOME=str(tmp_path / "cache"),
        GIT_PYTHON_REFRESH="quiet",
    )
    return environ


def history(server: TrackingServer, run_id: str) -> list[int]:
    query = f"run_id={run_id}&metric_key=x&max_results=25000"
    reply = server.request("GET", f"/api/2.0/mlflow/metrics/get-history?{query}")
    assert reply.status == 200, reply.text
    return sorted(int(point["step"]) for point in reply.json()["metrics"])
