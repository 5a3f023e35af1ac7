"""An MLflow tutorial, unchanged: what a user of ``import mlflow`` writes. The tests run
it against ``mlcli server`` (MLFLOW_TRACKING_URI) and print what it logged as JSON on
its last line, for the tests to compare with what mlcli's commands show."""

import json
import os
import sys
import tempfile
import warnings

warnings.simplefilter("ignore")  # MLflow's deprecation notices (stages) are not the point

import mlflow  # noqa: E402
import mlflow.sklearn  # noqa: E402
import numpy as np  # noqa: E402
from mlflow import MlflowClient  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402


def main() -> None:
    mlflow.set_tracking_uri(os.environ["MLFLOW_TRACKING_URI"])
    mlflow.set_experiment("tutorial")
    rng = np.random.default_rng(0)
    features = rng.normal(size=(60, 2))
    labels = (features[:, 0] + features[:, 1] > 0).astype(int)

    with mlflow.start_run(run_name="parent") as parent:
        mlflow.log_params({"C": 0.5, "solver": "lbfgs"})
        for step in range(5):
            mlflow.log_metrics({"loss": 1.0 / (step + 1), "accuracy": 0.5 + step / 10}, step=step)
        mlflow.set_tags({"team": "vision", "stage": "dev"})
        with tempfile.TemporaryDirectory() as tmp:
            notes = os.path.join(tmp, "notes.txt")
            with open(notes, "w") as handle:
                handle.write("trained on synthetic data\n")
            mlflow.log_artifact(notes, artifact_path="docs")
        mlflow.log_dict({"classes": [0, 1]}, "config/labels.json")

        children = []
        for c in (0.1, 1.0):
            with mlflow.start_run(run_name=f"child-{c}", nested=True) as child:
                mlflow.log_param("C", c)
                mlflow.log_metric("accuracy", 0.8 + c / 10)
                children.append(child.info.run_id)

        model = LogisticRegression(C=0.5).fit(features, labels)
        info = mlflow.sklearn.log_model(
            model,
            name="model",
            registered_model_name="tutorial-classifier",
            input_example=features[:2],
        )

    client = MlflowClient()
    version = info.registered_model_version
    client.transition_model_version_stage("tutorial-classifier", version, "Staging")
    client.set_registered_model_alias("tutorial-classifier", "champion", version)
    found = mlflow.search_runs(filter_string="metrics.accuracy > 0.85", output_format="list")
    by_parent = mlflow.search_runs(
        filter_string=f"tags.mlflow.parentRunId = '{parent.info.run_id}'", output_format="list"
    )
    champion = client.get_model_version_by_alias("tutorial-classifier", "champion")
    loaded = mlflow.pyfunc.load_model("models:/tutorial-classifier/1")
    predictions = loaded.predict(features[:3]).tolist()
    print(
        json.dumps(
            {
                "parent": parent.info.run_id,
                "children": children,
                "model_id": info.model_id,
                "model_uri": info.model_uri,
                "version": str(version),
                "champion": champion.version,
                "champion_stage": champion.current_stage,
                "found": sorted(r.info.run_id for r in found),
                "by_parent": sorted(r.info.run_id for r in by_parent),
                "predictions": predictions,
                "expected": model.predict(features[:3]).tolist(),
                "user": parent.info.user_id,
            }
        )
    )


if __name__ == "__main__":
    sys.exit(main())
