"""MLflow 3's quickstart pages with only the import changed: "Tracking quickstart" (a
scikit-learn model tracked, logged with a signature and input example, registered, and
loaded back to predict) and "Auto logging" (``mlflow.autolog()`` around a fit). Each
runs with mlcli and with the real mlflow (the oracle), and the two give the same values.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from exampletools import ok

pytest.importorskip("sklearn")
pytest.importorskip("pandas")
pytest.importorskip("mlflow")

pytestmark = [pytest.mark.slow, pytest.mark.mlflow]

# The quickstart as MLflow 3's docs write it, less the two lines that do not apply here:
# set_tracking_uri("http://127.0.0.1:8080") (the example tracks locally) and the
# hyperparameter "multi_class": "auto", which scikit-learn 1.8 removed.
QUICKSTART = """
import mlflow
from mlflow.models import infer_signature

import pandas as pd
from sklearn import datasets
from sklearn.model_selection import train_test_split
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, precision_score, recall_score, f1_score

# Load the Iris dataset
X, y = datasets.load_iris(return_X_y=True)

# Split the data into training and test sets
X_train, X_test, y_train, y_test = train_test_split(
    X, y, test_size=0.2, random_state=42
)

# Define the model hyperparameters
params = {
    "solver": "lbfgs",
    "max_iter": 1000,
    "random_state": 8888,
}

# Train the model
lr = LogisticRegression(**params)
lr.fit(X_train, y_train)

# Predict on the test set
y_pred = lr.predict(X_test)

# Calculate metrics
accuracy = accuracy_score(y_test, y_pred)

# Create a new MLflow Experiment
mlflow.set_experiment("MLflow Quickstart")

# Start an MLflow run
with mlflow.start_run():
    # Log the hyperparameters
    mlflow.log_params(params)

    # Log the loss metric
    mlflow.log_metric("accuracy", accuracy)

    # Infer the model signature
    signature = infer_signature(X_train, lr.predict(X_train))

    # Log the model, which inherits the parameters and metric
    model_info = mlflow.sklearn.log_model(
        sk_model=lr,
        name="iris_model",
        signature=signature,
        input_example=X_train,
        registered_model_name="tracking-quickstart",
    )

# Load the model back for predictions as a generic Python Function model
loaded_model = mlflow.pyfunc.load_model(model_info.model_uri)

predictions = loaded_model.predict(X_test)

iris_feature_names = datasets.load_iris().feature_names

result = pd.DataFrame(X_test, columns=iris_feature_names)
result["actual_class"] = y_test
result["predicted_class"] = predictions

print(result[:4])

run = mlflow.get_run(model_info.run_id)
experiment = mlflow.get_experiment(run.info.experiment_id)
report(
    experiment=experiment.name,
    status=run.info.status,
    params=dict(run.data.params),
    accuracy=run.data.metrics["accuracy"],
    registered_version=model_info.registered_model_version,
    signature_inputs=_json.loads(model_info.signature.inputs.to_json()),
    signature_outputs=_json.loads(model_info.signature.outputs.to_json()),
    predictions=[int(p) for p in predictions],
    actual=[int(a) for a in y_test],
    loaded_registered=[
        int(p)
        for p in mlflow.pyfunc.load_model("models:/tracking-quickstart/1").predict(X_test)
    ],
)
"""


def test_tracking_quickstart(tmp_path: Path) -> None:
    ours = ok(QUICKSTART, tmp_path / "mlcli")
    theirs = ok(QUICKSTART, tmp_path / "mlflow", oracle=True)
    assert (tmp_path / "mlcli" / ".mlruns").is_dir()
    assert not (tmp_path / "mlcli" / "mlruns").exists()
    assert not (tmp_path / "mlcli" / "tmp.db").exists()
    # What the docs show: the first rows of the test set, actual and predicted classes
    assert "actual_class" in ours.stdout and "predicted_class" in ours.stdout
    assert ours.result == theirs.result
    result = ours.result
    assert result["experiment"] == "MLflow Quickstart"
    assert result["status"] == "FINISHED"
    assert result["params"] == {"solver": "lbfgs", "max_iter": "1000", "random_state": "8888"}
    assert result["accuracy"] == 1.0  # the docs' iris split is classified perfectly
    assert result["predictions"] == result["actual"] == result["loaded_registered"]
    assert result["registered_version"] in (1, "1")


AUTOLOG = """
import mlflow

from sklearn.model_selection import train_test_split
from sklearn.datasets import load_diabetes
from sklearn.ensemble import RandomForestRegressor

mlflow.autolog()

db = load_diabetes()
X_train, X_test, y_train, y_test = train_test_split(db.data, db.target, random_state=0)

rf = RandomForestRegressor(n_estimators=100, max_depth=6, max_features=3, random_state=0)
# MLflow triggers logging automatically upon model fitting
rf.fit(X_train, y_train)

autolog_run = mlflow.last_active_run()
print(autolog_run.info.run_id)

run = mlflow.get_run(autolog_run.info.run_id)
report(
    status=run.info.status,
    params={k: run.data.params[k] for k in ("n_estimators", "max_depth", "max_features")},
    param_names=sorted(run.data.params),
    metric_names=sorted(run.data.metrics),
    training_score=run.data.metrics["training_score"],
    estimator_class=run.data.tags["estimator_class"],
    estimator_name=run.data.tags["estimator_name"],
)
"""


def test_autolog(tmp_path: Path) -> None:
    ours = ok(AUTOLOG, tmp_path / "mlcli").result
    theirs = ok(AUTOLOG, tmp_path / "mlflow", oracle=True).result
    assert ours["status"] == "FINISHED"
    assert ours["params"] == {"n_estimators": "100", "max_depth": "6", "max_features": "3"}
    assert ours["estimator_class"] == "sklearn.ensemble._forest.RandomForestRegressor"
    assert ours["estimator_name"] == "RandomForestRegressor"
    assert ours == theirs
