"""MLflow 3's tracking API examples with only the import changed: experiments
(``create_experiment``, ``get_experiment``, ``get_experiment_by_name``,
``set_experiment``), runs (``start_run`` with tags and a description, nested runs found
by ``tags.mlflow.parentRunId``), params, metrics and tags, a metric's history through
``MlflowClient``, artifacts (``log_artifact``, ``log_artifacts``, ``log_text``,
``log_dict``, listed and downloaded back), and the "Search Runs" guide's filters and
orderings. Each runs with mlcli and with the real mlflow, and the answers are compared.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from exampletools import ok

pytest.importorskip("pandas")
pytest.importorskip("mlflow")

pytestmark = [pytest.mark.slow, pytest.mark.mlflow]


def both(code: str, tmp_path: Path) -> tuple[Any, Any]:
    """The example's report with mlcli, then with the real mlflow."""
    ours = ok(code, tmp_path / "mlcli")
    theirs = ok(code, tmp_path / "mlflow", oracle=True)
    return ours, theirs


# mlflow.create_experiment's and mlflow.get_experiment_by_name's API examples (without
# artifact_location, which mlcli refuses: docs/mlflow.md), then set_experiment's
EXPERIMENTS = """
import mlflow

# Create an experiment name, which must be unique and case sensitive
experiment_id = mlflow.create_experiment(
    "Social NLP Experiments",
    tags={"version": "v1", "priority": "P1"},
)
experiment = mlflow.get_experiment(experiment_id)
print(f"Name: {experiment.name}")
print(f"Tags: {experiment.tags}")
print(f"Lifecycle_stage: {experiment.lifecycle_stage}")

# Case sensitive name
experiment = mlflow.get_experiment_by_name("Default")
print(f"Experiment_id: {experiment.experiment_id}")
print(f"Lifecycle_stage: {experiment.lifecycle_stage}")

by_name = mlflow.get_experiment_by_name("Social NLP Experiments")
missing = mlflow.get_experiment_by_name("social nlp experiments")

# Set an experiment name, which must be unique and case-sensitive.
experiment = mlflow.set_experiment("Social NLP Experiments")
mlflow.set_experiment_tag("nlp.framework", "Spark NLP")

# Get Experiment Details
print(f"Experiment_id: {experiment.experiment_id}")
print(f"Name: {experiment.name}")
print(f"Tags: {experiment.tags}")
print(f"Lifecycle_stage: {experiment.lifecycle_stage}")

new = mlflow.set_experiment("A new one")
with mlflow.start_run() as run:
    pass

report(
    same_id=by_name.experiment_id == experiment_id == experiment.experiment_id,
    missing=missing,
    tags={k: v for k, v in mlflow.get_experiment(experiment_id).tags.items()},
    new_name=new.name,
    run_in_new=run.info.experiment_id == new.experiment_id,
)
"""


def test_experiments(tmp_path: Path) -> None:
    ours, theirs = both(EXPERIMENTS, tmp_path)
    # The outputs MLflow's docs show
    for line in (
        "Name: Social NLP Experiments",
        "Lifecycle_stage: active",
        "Experiment_id: 0",
    ):
        assert line in ours.stdout.splitlines(), ours
        assert line in theirs.stdout.splitlines(), theirs
    assert ours.result == theirs.result
    assert ours.result == {
        "same_id": True,
        "missing": None,
        "tags": {"version": "v1", "priority": "P1", "nlp.framework": "Spark NLP"},
        "new_name": "A new one",
        "run_in_new": True,
    }


# mlflow.start_run's API example: a parent run with tags and a description, a nested
# child, and the child found by its parent's id (a DataFrame, as search_runs returns)
NESTED_RUNS = """
import mlflow

# Create nested runs
experiment_id = mlflow.create_experiment("experiment1")
with mlflow.start_run(
    run_name="PARENT_RUN",
    experiment_id=experiment_id,
    tags={"version": "v1", "priority": "P1"},
    description="parent",
) as parent_run:
    mlflow.log_param("parent", "yes")
    with mlflow.start_run(
        run_name="CHILD_RUN",
        experiment_id=experiment_id,
        description="child",
        nested=True,
    ) as child_run:
        mlflow.log_param("child", "yes")
print("parent run:")
print(f"run_id: {parent_run.info.run_id}")
print("description: {}".format(parent_run.data.tags.get("mlflow.note.content")))
print("version tag value: {}".format(parent_run.data.tags.get("version")))
print("priority tag value: {}".format(parent_run.data.tags.get("priority")))
print("--")

# Search all child runs with a parent id
query = f"tags.mlflow.parentRunId = '{parent_run.info.run_id}'"
results = mlflow.search_runs(experiment_ids=[experiment_id], filter_string=query)
print("child runs:")
print(results[["run_id", "params.child", "tags.mlflow.runName"]])

child = mlflow.get_run(child_run.info.run_id)
report(
    children=results["run_id"].tolist() == [child_run.info.run_id],
    child_param=results["params.child"].tolist(),
    child_name=results["tags.mlflow.runName"].tolist(),
    child_parent=child.data.tags["mlflow.parentRunId"] == parent_run.info.run_id,
    child_description=child.data.tags.get("mlflow.note.content"),
    parent_status=mlflow.get_run(parent_run.info.run_id).info.status,
    parent_name=mlflow.get_run(parent_run.info.run_id).info.run_name,
    active_after=mlflow.active_run(),
)
"""


def test_nested_runs(tmp_path: Path) -> None:
    ours, theirs = both(NESTED_RUNS, tmp_path)
    for line in ("description: parent", "version tag value: v1", "priority tag value: P1"):
        assert line in ours.stdout.splitlines(), ours
    assert ours.result == theirs.result
    assert ours.result == {
        "children": True,
        "child_param": ["yes"],
        "child_name": ["CHILD_RUN"],
        "child_parent": True,
        "child_description": "child",
        "parent_status": "FINISHED",
        "parent_name": "PARENT_RUN",
        "active_after": None,
    }


# Params, metrics (with steps) and tags, fluent, then read back with MlflowClient
PARAMS_METRICS_TAGS = """
import mlflow
from mlflow import MlflowClient

mlflow.set_experiment("logging")
with mlflow.start_run() as run:
    mlflow.log_param("learning_rate", 0.01)
    mlflow.log_params({"n_estimators": 100, "max_depth": 5})
    mlflow.log_metric("mse", 2500.00)
    for epoch in range(0, 3):
        mlflow.log_metric(key="train_loss", value=1 / (epoch + 1), step=epoch)
    mlflow.log_metrics({"mse": 2400.0, "rmse": 48.99}, step=1)
    mlflow.set_tag("release.version", "2.2.0")
    mlflow.set_tags({"engineering": "ML Platform", "release.candidate": "RC1"})

client = MlflowClient()
history = client.get_metric_history(run.info.run_id, "train_loss")
for m in history:
    print(f"{m.key} step={m.step} value={m.value}")

data = client.get_run(run.info.run_id).data
report(
    params=data.params,
    metrics=data.metrics,
    tags={k: v for k, v in data.tags.items() if not k.startswith(("mlflow.", "mlcli."))},
    history=[(m.key, m.step, m.value) for m in history],
    mse_history=[m.value for m in client.get_metric_history(run.info.run_id, "mse")],
)
"""


def test_params_metrics_tags(tmp_path: Path) -> None:
    ours, theirs = both(PARAMS_METRICS_TAGS, tmp_path)
    assert "train_loss step=2 value=0.3333333333333333" in ours.stdout.splitlines()
    assert ours.result == theirs.result
    assert ours.result["params"] == {
        "learning_rate": "0.01",
        "n_estimators": "100",
        "max_depth": "5",
    }
    assert ours.result["metrics"] == {"mse": 2400.0, "rmse": 48.99, "train_loss": 1 / 3}
    assert ours.result["mse_history"] == [2500.0, 2400.0]


# mlflow.log_artifact's and log_artifacts' API examples, log_text and log_dict; then the
# artifacts listed with MlflowClient and read back with mlflow.artifacts
ARTIFACTS = """
import json
import os

import mlflow
from mlflow.tracking import MlflowClient

# Create a features.txt artifact file
features = "rooms, zipcode, median_price, school_rating, transport"
with open("features.txt", "w") as f:
    f.write(features)

# Create some files to preserve as artifacts
data = {"state": "TX", "Available": 25, "Type": "Detached"}

# Create couple of artifact files under the directory "data"
os.makedirs("data", exist_ok=True)
with open("data/data.json", "w", encoding="utf-8") as f:
    json.dump(data, f, indent=2)
with open("data/features.txt", "w") as f:
    f.write(features)

# With artifact_path=None write features.txt under
# root artifact_uri/artifacts directory
with mlflow.start_run() as run:
    mlflow.log_artifact("features.txt")
    # Write all files in "data" to root artifact_uri/states
    mlflow.log_artifacts("data", artifact_path="states")
    # Log text to a file under the run's root artifact directory
    mlflow.log_text("text1", "file1.txt")
    # Log text in a subdirectory of the run's root artifact directory
    mlflow.log_text("text2", "dir/file2.txt")
    # Log a dictionary as a JSON file under the run's root artifact directory
    mlflow.log_dict({"mlflow-version": "0.28", "n_cores": "10"}, "data.json")
    # Log a dictionary as a YAML file in a subdirectory of the run's root artifact directory
    mlflow.log_dict({"mlflow-version": "0.28", "n_cores": "10"}, "dir/data.yml")

client = MlflowClient()
top = client.list_artifacts(run.info.run_id)
states = client.list_artifacts(run.info.run_id, "states")
local = mlflow.artifacts.download_artifacts(run_id=run.info.run_id, artifact_path="states")
uri = f"runs:/{run.info.run_id}"
report(
    # sorted: mlcli lists folders first, MLflow by path
    top=sorted((f.path, f.is_dir) for f in top),
    states=[(f.path, f.is_dir, f.file_size) for f in states],
    downloaded=sorted(os.listdir(local)),
    state=json.load(open(os.path.join(local, "data.json"))),
    text=mlflow.artifacts.load_text(f"{uri}/dir/file2.txt"),
    json_dict=mlflow.artifacts.load_dict(f"{uri}/data.json"),
    yaml_dict=mlflow.artifacts.load_dict(f"{uri}/dir/data.yml"),
    features=open(client.download_artifacts(run.info.run_id, "features.txt")).read(),
)
"""


def test_artifacts(tmp_path: Path) -> None:
    ours, theirs = both(ARTIFACTS, tmp_path)
    assert ours.result == theirs.result
    assert ours.result["top"] == [
        ["data.json", False],
        ["dir", True],
        ["features.txt", False],
        ["file1.txt", False],
        ["states", True],
    ]
    assert ours.result["downloaded"] == ["data.json", "features.txt"]
    assert ours.result["yaml_dict"] == {"mlflow-version": "0.28", "n_cores": "10"}


# MLflow's "Search Runs" guide: ten runs with metrics, params and tags (its datasets
# left out), then its searches: filters on metrics (a name with a space in backticks),
# params, tags, attributes, LIKE, and orderings
SEARCH_RUNS = """
import mlflow
import numpy as np

mlflow.set_experiment("search-run-guide")

accuracy = np.arange(0, 1, 0.1)
loss = np.arange(1, 0, -0.1)
log_scale_loss = np.log(loss)
f1_score = np.arange(0, 1, 0.1)

batch_size = [2] * 5 + [4] * 5
learning_rate = [0.001, 0.01] * 5
model = ["GPT-2", "GPT-3", "GPT-3.5", "GPT-4"] + [None] * 6

task = ["classification", "regression", "causal lm"] + [None] * 7
environment = ["notebook"] * 5 + [None] * 5

for i in range(10):
    with mlflow.start_run(run_name=f"run-{i}"):
        mlflow.log_metrics(
            {
                "loss": loss[i],
                "accuracy": accuracy[i],
                "log-scale-loss": log_scale_loss[i],
                "f1 score": f1_score[i],
            }
        )

        mlflow.log_params(
            {
                "batch_size": batch_size[i],
                "learning rate": learning_rate[i],
                "model": model[i],
            }
        )

        mlflow.set_tags(
            {
                "task": task[i],
                "environment": environment[i],
            }
        )

all_runs = mlflow.search_runs(search_all_experiments=True)
print(all_runs)


def names(frame):
    return frame["tags.mlflow.runName"].tolist()


def name_set(frame):  # runs started in the same millisecond have no order between them
    return sorted(names(frame))


report(
    count=len(all_runs),
    columns=sorted(c for c in all_runs.columns if c.split(".")[0] in ("metrics", "params")),
    bad=name_set(mlflow.search_runs(
        filter_string="metrics.loss > 0.8", search_all_experiments=True
    )),
    f1=name_set(mlflow.search_runs(filter_string="metrics.`f1 score` < 0.5")),
    batch=name_set(mlflow.search_runs(filter_string="params.batch_size = '2'")),
    lr=name_set(mlflow.search_runs(filter_string="params.`learning rate` = '0.01'")),
    task=name_set(mlflow.search_runs(filter_string="tags.task = 'classification'")),
    gpt=name_set(mlflow.search_runs(filter_string="params.model LIKE 'GPT%'")),
    gpt3=name_set(mlflow.search_runs(filter_string="params.model ILIKE 'gpt-3%'")),
    both=name_set(mlflow.search_runs(
        filter_string="metrics.accuracy > 0.25 AND params.batch_size = '4'"
    )),
    finished=len(mlflow.search_runs(filter_string="attributes.status = 'FINISHED'")),
    by_name=name_set(mlflow.search_runs(filter_string="attributes.run_name = 'run-3'")),
    by_accuracy=names(mlflow.search_runs(order_by=["metrics.accuracy DESC"])),
    top3=names(mlflow.search_runs(order_by=["metrics.loss ASC"], max_results=3)),
    by_batch=names(mlflow.search_runs(order_by=["params.batch_size DESC", "metrics.loss"])),
    listed=[r.info.run_name for r in mlflow.search_runs(
        filter_string="metrics.loss < 0.3", order_by=["metrics.loss"], output_format="list"
    )],
)
"""


def test_search_runs(tmp_path: Path) -> None:
    ours, theirs = both(SEARCH_RUNS, tmp_path)
    assert ours.result == theirs.result
    result = ours.result
    assert result["count"] == 10
    assert result["bad"] == ["run-0", "run-1"]
    assert result["gpt"] == ["run-0", "run-1", "run-2", "run-3"]
    assert result["f1"] == ["run-0", "run-1", "run-2", "run-3", "run-4"]
    assert result["by_accuracy"] == [f"run-{i}" for i in range(9, -1, -1)]
    assert result["top3"] == ["run-9", "run-8", "run-7"]
    assert result["listed"] == ["run-9", "run-8"]  # loss[7] is 0.30000000000000004
