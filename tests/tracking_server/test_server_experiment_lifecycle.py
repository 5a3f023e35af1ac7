"""Deleting an experiment deletes its runs, and a metric's history comes in MLflow's
order (timestamp, step, value): the real ``mlflow`` client answers the same against
``mlcli server`` as against MLflow's own SQLite store, and so do mlcli's Python API
and CLI. One deliberate difference: restoring the experiment restores the runs its
deletion marked, not a run deleted on its own before (MLflow restores that one too)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from trackingserver import TrackingServer, mlflow_environment

from mlcli.tracking import TrackingClient

pytestmark = [pytest.mark.mlflow]
pytest.importorskip("mlflow")

SCENARIO = """\
import json
from mlflow.entities import Metric, ViewType
from mlflow.tracking import MlflowClient

client = MlflowClient()
experiment = client.create_experiment("gone")
kept = client.create_run(experiment).info.run_id
dropped = client.create_run(experiment).info.run_id
client.delete_run(dropped)
points = [(3, 0, 1.0), (1, 5, 2.0), (1, 2, 3.0), (2, 2, 0.5), (1, 2, -1.0), (2, 1, 7.0)]
client.log_batch(kept, metrics=[Metric("m", v, t, s) for t, s, v in points])
history = [(m.timestamp, m.step, m.value) for m in client.get_metric_history(kept, "m")]
label = {kept: "kept", dropped: "dropped"}

def runs(view):
    found = client.search_runs([experiment], run_view_type=view)
    return sorted(label[r.info.run_id] for r in found)

client.delete_experiment(experiment)
report = {
    "history": history,
    "deleted_stage": client.get_run(kept).info.lifecycle_stage,
    "active": runs(ViewType.ACTIVE_ONLY),
    "deleted": runs(ViewType.DELETED_ONLY),
}
client.restore_experiment(experiment)
report["restored_active"] = runs(ViewType.ACTIVE_ONLY)
report["ids"] = {"kept": kept, "dropped": dropped, "experiment": experiment}
print(json.dumps(report))
"""


def _scenario(environ: dict[str, str], cwd: Path) -> dict[str, Any]:
    result = subprocess.run(
        [sys.executable, "-c", SCENARIO],
        cwd=cwd,
        env=environ,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_the_mlflow_client_sees_mlflows_answers_from_mlcli_server(
    start_server: Any, tmp_path: Path, cli: Any
) -> None:
    server: TrackingServer = start_server()
    ours = _scenario(mlflow_environment(server), tmp_path)
    theirs_env = {k: v for k, v in os.environ.items() if not k.startswith(("MLCLI_", "MLFLOW_"))}
    theirs_env["MLFLOW_TRACKING_URI"] = f"sqlite:///{tmp_path / 'mlflow.db'}"
    theirs = _scenario(theirs_env, tmp_path)

    expected_history = [
        [1, 2, -1.0],
        [1, 2, 3.0],
        [1, 5, 2.0],
        [2, 1, 7.0],
        [2, 2, 0.5],
        [3, 0, 1.0],
    ]
    assert theirs["history"] == ours["history"] == expected_history
    for report in (ours, theirs):
        assert report["deleted_stage"] == "deleted"
        assert report["active"] == []
        assert report["deleted"] == ["dropped", "kept"]
    assert theirs["restored_active"] == ["dropped", "kept"]  # MLflow: every deleted run
    assert ours["restored_active"] == ["kept"]  # mlcli: the runs the deletion marked

    # mlcli's own Python API and CLI on the same store say the same
    client = TrackingClient(server.store)
    kept = ours["ids"]["kept"]
    history = [[m.timestamp, m.step, m.value] for m in client.get_metric_history(kept, "m")]
    assert history == expected_history
    store = ["--store", str(server.store)]
    assert cli(*store, "experiments", "delete", "gone").exit_code == 0
    assert client.search_runs([ours["ids"]["experiment"]]) == []
    assert client.get_run(kept).info.lifecycle_stage == "deleted"
    assert cli(*store, "experiments", "restore", "gone").exit_code == 0
    listed = cli(*store, "runs", "list", "-q", "--experiment", "gone").stdout.split()
    assert listed == [kept]
