"""MLflow 3's models API examples with only the import changed: the custom pyfunc
``AddN`` of the "Custom Python Models" page (saved, loaded, and its documented assert),
a ``PythonModel`` with ``load_context`` and artifacts logged to a run, a scikit-learn
model saved and logged with a signature inferred from its input example or built from
``Schema``/``ColSpec``, loaded back with ``mlflow.sklearn`` and ``mlflow.pyfunc``, and
the signature enforced at predict time. Each runs with mlcli and with the real mlflow,
and the answers are compared.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from exampletools import ok

pytest.importorskip("sklearn")
pytest.importorskip("pandas")
pytest.importorskip("mlflow")

pytestmark = [pytest.mark.slow, pytest.mark.mlflow]

# The "Custom Python Models" example, its assert included
ADD_N = """
import mlflow.pyfunc


# Define the model class
class AddN(mlflow.pyfunc.PythonModel):
    def __init__(self, n):
        self.n = n

    def predict(self, context, model_input, params=None):
        return model_input.apply(lambda column: column + self.n)


# Construct and save the model
model_path = "add_n_model"
add5_model = AddN(n=5)
mlflow.pyfunc.save_model(path=model_path, python_model=add5_model)

# Load the model in `python_function` format
loaded_model = mlflow.pyfunc.load_model(model_path)

# Evaluate the model
import pandas as pd

model_input = pd.DataFrame([range(10)])
model_output = loaded_model.predict(model_input)
assert model_output.equals(pd.DataFrame([range(5, 15)]))

report(output=model_output.values.tolist(), flavors=sorted(loaded_model.metadata.flavors))
"""


def test_custom_pyfunc_add_n(tmp_path: Path) -> None:
    ours = ok(ADD_N, tmp_path / "mlcli").result
    theirs = ok(ADD_N, tmp_path / "mlflow", oracle=True).result
    assert ours == theirs
    assert ours["output"] == [list(range(5, 15))]
    assert ours["flavors"] == ["python_function"]


# A PythonModel reading an artifact in load_context, logged to a run with an input
# example (its signature inferred from it), loaded back by its URI
CONTEXT_MODEL = """
import json

import mlflow
import pandas as pd


class ScaledModel(mlflow.pyfunc.PythonModel):
    def load_context(self, context):
        with open(context.artifacts["config"]) as f:
            self.factor = json.load(f)["factor"]

    def predict(self, context, model_input, params=None):
        return model_input[["x"]] * self.factor


with open("config.json", "w") as f:
    json.dump({"factor": 3}, f)

with mlflow.start_run() as run:
    model_info = mlflow.pyfunc.log_model(
        name="scaled",
        python_model=ScaledModel(),
        artifacts={"config": "config.json"},
        input_example=pd.DataFrame({"x": [1.0, 2.0]}),
    )

loaded = mlflow.pyfunc.load_model(model_info.model_uri)
print(loaded)
report(
    run=model_info.run_id == run.info.run_id,
    inputs=json.loads(model_info.signature.inputs.to_json()),
    outputs=json.loads(model_info.signature.outputs.to_json()),
    predicted=loaded.predict(pd.DataFrame({"x": [1.5, -2.0, 4.0]}))["x"].tolist(),
)
"""


def test_python_model_with_artifacts(tmp_path: Path) -> None:
    ours = ok(CONTEXT_MODEL, tmp_path / "mlcli").result
    theirs = ok(CONTEXT_MODEL, tmp_path / "mlflow", oracle=True).result
    assert ours == theirs
    assert ours["predicted"] == [4.5, -6.0, 12.0]
    assert ours["inputs"] == [{"type": "double", "name": "x", "required": True}]
    # the outputs inferred by running the model, its context loaded, on the example
    assert ours["outputs"] == ours["inputs"]


# The "Model Signatures" page: a column-based signature inferred from an input example,
# and the same built by hand with Schema and ColSpec; predict enforces it
SIGNATURES = """
import pandas as pd
from sklearn import datasets
from sklearn.linear_model import LogisticRegression
import mlflow
import mlflow.sklearn
from mlflow.models import Model, ModelSignature, infer_signature
from mlflow.types import Schema, ColSpec

iris = datasets.load_iris()
iris_train = pd.DataFrame(iris.data, columns=iris.feature_names)
clf = LogisticRegression(max_iter=1000)

with mlflow.start_run():
    clf.fit(iris_train, iris.target)
    # Take the first row of the training dataset as the model input example.
    input_example = iris_train.iloc[[0]]
    # The signature is automatically inferred from the input example and its predicted output.
    inferred_info = mlflow.sklearn.log_model(clf, name="iris_lr", input_example=input_example)

input_schema = Schema(
    [
        ColSpec("double", "sepal length (cm)"),
        ColSpec("double", "sepal width (cm)"),
        ColSpec("double", "petal length (cm)"),
        ColSpec("double", "petal width (cm)"),
    ]
)
output_schema = Schema([ColSpec("long")])
signature = ModelSignature(inputs=input_schema, outputs=output_schema)

with mlflow.start_run():
    manual_info = mlflow.sklearn.log_model(clf, name="iris_lr", signature=signature)

signature = infer_signature(iris_train, clf.predict(iris_train))
mlflow.sklearn.save_model(clf, "saved_iris_lr", signature=signature)

pyfunc_model = mlflow.pyfunc.load_model(manual_info.model_uri)
sk_model = mlflow.sklearn.load_model(inferred_info.model_uri)
saved = mlflow.pyfunc.load_model("saved_iris_lr")

try:
    pyfunc_model.predict(iris_train.drop(columns=["petal width (cm)"]))
    missing_column = "accepted"
except Exception as error:
    missing_column = type(error).__name__

report(
    inferred_inputs=inferred_info.signature.inputs.to_json() == input_schema.to_json(),
    inferred_outputs=json.loads(inferred_info.signature.outputs.to_json()),
    manual=json.loads(pyfunc_model.metadata.get_input_schema().to_json()),
    # Model.load reads a model's MLmodel by its URI
    loaded_by_uri=json.loads(Model.load(manual_info.model_uri).get_input_schema().to_json()),
    no_params=Model.load(manual_info.model_uri).get_params_schema(),
    saved_inputs=saved.metadata.get_input_schema().input_names(),
    same=(
        pyfunc_model.predict(iris_train).tolist()
        == sk_model.predict(iris_train).tolist()
        == saved.predict(iris_train).tolist()
        == clf.predict(iris_train).tolist()
    ),
    sk_class=type(sk_model).__name__,
    missing_column_raises=missing_column != "accepted",
)
""".replace("import pandas as pd\n", "import json\nimport pandas as pd\n", 1)


def test_signatures(tmp_path: Path) -> None:
    ours = ok(SIGNATURES, tmp_path / "mlcli").result
    theirs = ok(SIGNATURES, tmp_path / "mlflow", oracle=True).result
    assert ours == theirs
    assert ours["inferred_inputs"] is True
    # a column of predictions, as the hand-made signature's output
    assert ours["inferred_outputs"] == [{"type": "long", "required": True}]
    assert ours["same"] is True
    assert ours["sk_class"] == "LogisticRegression"
    assert ours["missing_column_raises"] is True
    assert ours["loaded_by_uri"] == ours["manual"]
    assert [column["name"] for column in ours["manual"]] == ours["saved_inputs"]
    assert ours["no_params"] is None
    assert ours["saved_inputs"] == [
        "sepal length (cm)",
        "sepal width (cm)",
        "petal length (cm)",
        "petal width (cm)",
    ]
