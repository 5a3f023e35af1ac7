"""Writes an MLflow store with the real mlflow package (the tracking URI comes from
MLFLOW_TRACKING_URI: a ``file:`` file store or a ``sqlite:///`` database), then prints
what MLflow itself reads back from it, as JSON, for the import tests to compare."""

import json
import math
import os
import tempfile
import warnings

warnings.simplefilter("ignore")

import mlflow  # noqa: E402
import mlflow.sklearn  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from mlflow import MlflowClient  # noqa: E402
from sklearn.linear_model import LinearRegression  # noqa: E402


def main() -> None:
    mlflow.set_experiment("imported")
    mlflow.set_experiment_tag("team", "vision")
    features = np.array([[1.0], [2.0], [3.0]])
    with mlflow.start_run(run_name="parent") as parent:
        mlflow.log_params({"alpha": 0.5, "layers": "[64, 32]"})
        for step in range(5):
            mlflow.log_metric("loss", 1.0 / (step + 1), step=step)
        mlflow.log_metric("weird", math.nan)
        mlflow.set_tag("note", "hello")
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "data.txt")
            with open(path, "w") as handle:
                handle.write("some data\n")
            mlflow.log_artifact(path, "inputs")
        with mlflow.start_run(run_name="child", nested=True) as child:
            mlflow.log_metric("acc", 0.75, step=3)
        frame = pd.DataFrame({"x": [1.0, 2.0, 3.0], "y": [2.0, 4.0, 6.0]})
        train = mlflow.data.from_pandas(frame, source="/data/train.csv", name="train")
        mlflow.log_input(train, context="training", tags={"split": "a"})
        infos = []
        for coefficient in (2.0, 3.0, 4.0):
            model = LinearRegression().fit(features, coefficient * features[:, 0])
            infos.append(
                mlflow.sklearn.log_model(
                    model, name="model", registered_model_name="imported-model"
                )
            )
        model_id = infos[0].model_id
        # step 0: MLflow's file store reads the step of a line with a dataset as 0 (the
        # importer keeps the step written), so that both sides agree here
        mlflow.log_metric("rmse", 0.25, step=0, model_id=model_id, dataset=train)
        mlflow.log_metric("rmse", 0.125, step=2, model_id=model_id)
    with mlflow.start_run(run_name="doomed") as doomed:
        mlflow.log_param("x", "1")
    client = MlflowClient()
    client.delete_run(doomed.info.run_id)
    client.transition_model_version_stage("imported-model", "1", "Production")
    client.set_registered_model_alias("imported-model", "champion", "2")
    client.set_registered_model_tag("imported-model", "owner", "ml-team")
    client.set_model_version_tag("imported-model", "2", "validated", "yes")
    client.delete_model_version("imported-model", "3")

    runs = {}
    for run_id in (parent.info.run_id, child.info.run_id, doomed.info.run_id):
        run = client.get_run(run_id)
        runs[run_id] = {
            "name": run.info.run_name,
            "status": run.info.status,
            "lifecycle_stage": run.info.lifecycle_stage,
            "params": run.data.params,
            "tags": run.data.tags,
            "history": {
                key: [
                    [m.step, repr(m.value), m.timestamp]
                    for m in client.get_metric_history(run_id, key)
                ]
                for key in run.data.metrics
            },
        }
    experiment = client.get_experiment_by_name("imported")
    inputs = [
        {
            "dataset": {
                "name": d.dataset.name,
                "digest": d.dataset.digest,
                "source_type": d.dataset.source_type,
                "source": d.dataset.source,
                "schema": d.dataset.schema,
                "profile": d.dataset.profile,
            },
            "tags": {t.key: t.value for t in d.tags},
        }
        for d in client.get_run(parent.info.run_id).inputs.dataset_inputs
    ]
    model_metrics = sorted(
        [m.key, m.value, m.step, m.dataset_name, m.dataset_digest]
        for m in client.get_logged_model(model_id).metrics
    )
    print(
        json.dumps(
            {
                "experiment_times": [experiment.creation_time, experiment.last_update_time],
                "inputs": inputs,
                "model_id": model_id,
                "model_metrics": model_metrics,
                "parent": parent.info.run_id,
                "child": child.info.run_id,
                "doomed": doomed.info.run_id,
                "runs": runs,
            }
        )
    )


if __name__ == "__main__":
    main()
