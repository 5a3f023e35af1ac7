"""Datasets a run read (MLflow's ``log_input``, ``runs/log-inputs``), through the real
``mlflow`` client against a real ``mlcli server``, and what the store keeps of them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from trackingserver import TrackingServer, mlflow_environment

pytestmark = [pytest.mark.slow, pytest.mark.mlflow]
pytest.importorskip("mlflow")


def _client_script(server: TrackingServer, code: str, cwd: Path) -> Any:
    script = cwd / "client.py"
    script.write_text(code)
    result = subprocess.run(
        [sys.executable, str(script)],
        cwd=cwd,
        env=mlflow_environment(server),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, f"{result.stdout}\n{result.stderr}\n{server.log()}"
    return json.loads(result.stdout.strip().splitlines()[-1])


AUTOLOG = """
import json, os, warnings
warnings.simplefilter("ignore")
import mlflow
import numpy as np
from sklearn.linear_model import LogisticRegression
mlflow.set_tracking_uri(os.environ["MLFLOW_TRACKING_URI"])
mlflow.set_experiment("autolog")
mlflow.autolog(log_models=False)
rng = np.random.default_rng(0)
x = rng.normal(size=(40, 2))
y = (x[:, 0] > 0).astype(int)
with mlflow.start_run() as run:
    LogisticRegression().fit(x, y)
got = mlflow.get_run(run.info.run_id)
print(json.dumps({
    "run_id": run.info.run_id,
    "status": got.info.status,
    "inputs": [
        {"name": d.dataset.name, "digest": d.dataset.digest, "source_type": d.dataset.source_type,
         "schema": d.dataset.schema, "tags": {t.key: t.value for t in d.tags}}
        for d in got.inputs.dataset_inputs
    ],
    "searched": [
        len(r.inputs.dataset_inputs)
        for r in mlflow.search_runs(experiment_names=["autolog"], output_format="list")
    ],
}))
"""


@pytest.mark.skipif(not __import__("importlib").util.find_spec("sklearn"), reason="sklearn")
def test_sklearn_autolog_ends_finished_with_its_dataset(start_server: Any, tmp_path: Path) -> None:
    server = start_server()
    report = _client_script(server, AUTOLOG, tmp_path)
    assert report["status"] == "FINISHED"
    [dataset] = report["inputs"]
    assert dataset["tags"] == {"mlflow.data.context": "train"}
    assert dataset["source_type"] == "code"
    assert dataset["digest"] and dataset["name"]
    assert json.loads(dataset["schema"])["mlflow_tensorspec"]
    assert report["searched"] == [1]
    # the store keeps it in the run's inputs.jsonl, readable with mlcli's own API
    from mlcli.tracking import TrackingClient

    run = TrackingClient(server.store).get_run(report["run_id"])
    [kept] = run.inputs.dataset_inputs
    assert (kept.dataset.name, kept.dataset.digest) == (dataset["name"], dataset["digest"])
    assert kept.context == "train"
    lines = (Path(server.store) / "runs" / report["run_id"] / "inputs.jsonl").read_text()
    assert json.loads(lines.splitlines()[0])["dataset"]["name"] == dataset["name"]


LOG_INPUT = """
import json, os, warnings
warnings.simplefilter("ignore")
import mlflow
import pandas as pd
from mlflow import MlflowClient
from mlflow.entities import Dataset, DatasetInput, InputTag
mlflow.set_tracking_uri(os.environ["MLFLOW_TRACKING_URI"])
frame = pd.DataFrame({"a": [1, 2, 3], "b": [0.5, 0.25, 0.125]})
train = mlflow.data.from_pandas(frame, source="/data/train.csv", name="train-set")
with mlflow.start_run() as run:
    mlflow.log_input(train, context="training", tags={"split": "a"})
    mlflow.log_input(train, context="again")  # the same name and digest: kept once
    other = Dataset("eval-set", "d1", "http", '{"url": "https://x/e.csv"}')
    MlflowClient().log_inputs(run.info.run_id, [DatasetInput(other, [InputTag("k", "v")])])
got = mlflow.get_run(run.info.run_id)
print(json.dumps([
    {"name": d.dataset.name, "digest": d.dataset.digest, "source_type": d.dataset.source_type,
     "source": d.dataset.source, "profile": d.dataset.profile,
     "tags": sorted((t.key, t.value) for t in d.tags)}
    for d in got.inputs.dataset_inputs
]))
"""


def test_log_input_and_log_inputs_read_back_as_mlflow_wrote_them(
    start_server: Any, tmp_path: Path
) -> None:
    server = start_server()
    first, second = _client_script(server, LOG_INPUT, tmp_path)
    assert first["name"] == "train-set"
    assert first["source_type"] == "local"
    assert json.loads(first["source"]) == {"uri": "/data/train.csv"}
    assert json.loads(first["profile"])["num_rows"] == 3
    assert first["tags"] == [["mlflow.data.context", "training"], ["split", "a"]]
    assert second == {
        "name": "eval-set",
        "digest": "d1",
        "source_type": "http",
        "source": '{"url": "https://x/e.csv"}',
        "profile": None,
        "tags": [["k", "v"]],
    }


def test_log_inputs_refuses_bad_datasets_with_a_400(start_server: Any) -> None:
    server = start_server()
    run = server.api("POST", "runs/create", {"experiment_id": "0"}).json()["run"]["info"]
    run_id = run["run_id"]
    missing = server.api(
        "POST", "runs/log-inputs", {"run_id": run_id, "datasets": [{"dataset": {"name": "x"}}]}
    )
    assert missing.status == 400
    assert "dataset.digest" in missing.json()["message"]
    long = {"name": "x", "digest": "d" * 37, "source_type": "local", "source": "{}"}
    too_long = server.api(
        "POST", "runs/log-inputs", {"run_id": run_id, "datasets": [{"dataset": long}]}
    )
    assert too_long.status == 400
    assert "longer than 36" in too_long.json()["message"]
    no_model = server.api(
        "POST", "runs/log-inputs", {"run_id": run_id, "models": [{"model_id": "m-" + "0" * 32}]}
    )
    assert no_model.status == 404
    got = server.api("GET", "runs/get", {"run_id": run_id}).json()["run"]
    assert got["inputs"] == {"dataset_inputs": [], "model_inputs": []}


def test_mlcli_s_client_logs_and_reads_inputs_through_the_server(start_server: Any) -> None:
    from mlcli.store import Dataset, DatasetInput
    from mlcli.tracking import TrackingClient

    server = start_server()
    client = TrackingClient(server.url)
    run_id = client.create_run(None).info.run_id
    dataset = Dataset("iris", "abc", "local", '{"uri": "/d.csv"}', schema='{"s": 1}')
    client.log_inputs(run_id, [DatasetInput(dataset, {"mlflow.data.context": "train"})])
    client.log_inputs(run_id, [DatasetInput(dataset, {"mlflow.data.context": "eval"})])
    [kept] = client.get_run(run_id).inputs.dataset_inputs
    assert (kept.dataset, kept.context) == (dataset, "train")
    local = TrackingClient(server.store).get_run(run_id).inputs
    assert local == client.get_run(run_id).inputs
