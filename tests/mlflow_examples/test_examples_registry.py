"""MLflow 3's Model Registry examples with only the import changed: a scikit-learn model
registered as it is logged (``registered_model_name=``) and by ``register_model``, then
the ``MlflowClient`` workflow (create a registered model and a version, descriptions,
aliases, tags, stages, searches, ``get_latest_versions``, a rename, deleting a version)
and the models loaded back by ``models:/name@alias`` and ``models:/name/version``. Run
with mlcli and with the real mlflow, and the answers compared.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from exampletools import ok

pytest.importorskip("sklearn")
pytest.importorskip("pandas")
pytest.importorskip("mlflow")

pytestmark = [pytest.mark.slow, pytest.mark.mlflow]

REGISTRY = """
import warnings

import mlflow
import mlflow.sklearn
from mlflow.models import infer_signature
from mlflow.tracking import MlflowClient
from sklearn.datasets import make_regression
from sklearn.linear_model import Ridge
from sklearn.metrics import mean_squared_error
from sklearn.model_selection import train_test_split

warnings.simplefilter("ignore", FutureWarning)  # MLflow's notice that stages are deprecated

with mlflow.start_run() as run:
    X, y = make_regression(n_features=4, n_informative=2, random_state=0, shuffle=False)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.2, random_state=42
    )
    params = {"alpha": 0.5, "random_state": 42}
    model = Ridge(**params)
    model.fit(X_train, y_train)

    # Infer the model signature
    y_pred = model.predict(X_test)
    signature = infer_signature(X_test, y_pred)

    # Log parameters and metrics using the MLflow APIs
    mlflow.log_params(params)
    mlflow.log_metrics({"mse": mean_squared_error(y_test, y_pred)})

    # Log the sklearn model and register as version 1
    model_info = mlflow.sklearn.log_model(
        sk_model=model,
        name="sklearn-model",
        signature=signature,
        registered_model_name="sk-learn-random-forest-reg-model",
    )

# Register the same model again: version 2
result = mlflow.register_model(model_info.model_uri, "sk-learn-random-forest-reg-model")
print(f"Name: {result.name}")
print(f"Version: {result.version}")

client = MlflowClient()

# A registered model created empty, then a version from the run's model
client.create_registered_model("example-model", tags={"team": "ml"}, description="An example")
version = client.create_model_version(
    name="example-model", source=model_info.model_uri, run_id=run.info.run_id
)
print(f"example-model version: {version.version}")

name = "sk-learn-random-forest-reg-model"
client.update_registered_model(name=name, description="This sentiment analysis model classifies")
client.update_model_version(
    name=name, version=1, description="This model version was built using random forest"
)

# Aliases
client.set_registered_model_alias(name, "champion", 1)
client.set_registered_model_alias(name, "challenger", 2)
champion_version = client.get_model_version_by_alias(name, "champion")
print(f"champion: {champion_version.version}")

# Tags
client.set_registered_model_tag(name, "task", "regression")
client.set_model_version_tag(name, "1", "validation_status", "approved")

# Stages
client.transition_model_version_stage(name=name, version=1, stage="Production")
client.transition_model_version_stage(
    name=name, version=2, stage="Staging", archive_existing_versions=False
)
latest = client.get_latest_versions(name, stages=["Production", "Staging"])

# Load the versions back
X_new = X_test[:5]
champion = mlflow.pyfunc.load_model(f"models:/{name}@champion")
by_version = mlflow.pyfunc.load_model(model_uri=f"models:/{name}/2")
by_stage = mlflow.sklearn.load_model(f"models:/{name}/Production")

registered = client.get_registered_model(name)
found = client.search_registered_models(filter_string="name LIKE 'sk-learn%'")
versions = client.search_model_versions(f"name='{name}'")
v1 = client.get_model_version(name, "1")

# Remove an alias and a version, rename the model
client.delete_registered_model_alias(name, "challenger")
client.delete_model_version(name="example-model", version=1)
client.rename_registered_model("example-model", "renamed-example-model")
renamed = client.get_registered_model("renamed-example-model")

report(
    first_version=model_info.registered_model_version,
    second_version=result.version,
    example_version=version.version,
    champion=champion_version.version,
    description=registered.description,
    tags=registered.tags,
    aliases=registered.aliases,
    latest=sorted((v.version, v.current_stage) for v in latest),
    v1_description=v1.description,
    v1_tags=v1.tags,
    v1_stage=v1.current_stage,
    v1_run=v1.run_id == run.info.run_id,
    found=[m.name for m in found],
    versions=sorted(v.version for v in versions),
    predictions_agree=(
        champion.predict(X_new).tolist()
        == by_version.predict(X_new).tolist()
        == by_stage.predict(X_new).tolist()
        == model.predict(X_new).tolist()
    ),
    aliases_after=client.get_registered_model(name).aliases,
    renamed=(renamed.name, renamed.description, renamed.tags),
    renamed_versions=[v.version for v in client.search_model_versions(
        "name='renamed-example-model'"
    )],
    missing=[m.name for m in client.search_registered_models(
        filter_string="name = 'example-model'"
    )],
)
"""


def test_registry_workflow(tmp_path: Path) -> None:
    ours = ok(REGISTRY, tmp_path / "mlcli")
    theirs = ok(REGISTRY, tmp_path / "mlflow", oracle=True)
    for line in (
        "Name: sk-learn-random-forest-reg-model",
        "Version: 2",
        "example-model version: 1",
        "champion: 1",
    ):
        assert line in ours.stdout.splitlines(), ours
        assert line in theirs.stdout.splitlines(), theirs
    assert ours.result == theirs.result
    result = ours.result
    assert result["aliases"] == {"champion": 1, "challenger": 2}
    assert result["latest"] == [[1, "Production"], [2, "Staging"]]
    assert result["v1_tags"] == {"validation_status": "approved"}
    assert result["predictions_agree"] is True
    assert result["aliases_after"] == {"champion": 1}
    assert result["renamed"] == ["renamed-example-model", "An example", {"team": "ml"}]
    assert result["missing"] == []
