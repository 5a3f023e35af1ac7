"""``mlcli models convert MODEL --to onnx``, end to end through the CLI, with the real
skl2onnx, torch.onnx and onnxruntime: the converted model predicts as the original
(within float32's tolerance) and needs neither scikit-learn nor torch."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import mlcli
import mlcli.pyfunc
import mlcli.sklearn
from mlcli.models import Model
from mlcli.models.environment import read_requirements

np = pytest.importorskip("numpy")
pytest.importorskip("skl2onnx")
pytest.importorskip("onnxruntime")


def _requirements(path: Path) -> set[str]:
    return {line.split("==")[0] for line in read_requirements(path)}


def test_a_classifier_pipeline_predicts_as_before(
    cli: Any, workdir: Path, iris: Any, iris_classifier: Any
) -> None:
    features, _ = iris
    mlcli.sklearn.save_model(iris_classifier, workdir / "sk", input_example=features.head(2))
    result = cli("models", "convert", "sk", "--to", "onnx", "-o", "sk-onnx")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.strip() == "sk-onnx"
    converted = mlcli.pyfunc.load_model(str(workdir / "sk-onnx"))
    answer = converted.predict(features)  # the source's columns fit the graph's tensor
    assert np.array_equal(answer["label"], iris_classifier.predict(features))
    assert np.allclose(answer["probabilities"], iris_classifier.predict_proba(features), atol=1e-5)
    mlmodel = Model.load(workdir / "sk-onnx")
    assert mlmodel.metadata == {"converted_from": "sk", "converted_flavor": "sklearn"}
    assert {"onnx", "onnxruntime"} <= _requirements(workdir / "sk-onnx")
    assert "scikit-learn" not in _requirements(workdir / "sk-onnx")
    rows = features.head(3)
    (workdir / "rows.json").write_text(
        json.dumps(
            {"dataframe_split": {"columns": list(rows.columns), "data": rows.values.tolist()}}
        )
    )
    predicted = cli("models", "predict", "-m", "sk-onnx", "-i", "rows.json")
    assert predicted.json()["predictions"]["label"] == iris_classifier.predict(rows).tolist()


def test_a_regressor_without_signature_predicts_as_before(
    cli: Any, workdir: Path, diabetes: Any, diabetes_regressor: Any
) -> None:
    features, _ = diabetes
    mlcli.sklearn.save_model(diabetes_regressor, workdir / "sk")  # no signature: n_features_in_
    result = cli("models", "convert", "sk", "--to", "onnx", "-o", "out", "--json")
    assert result.exit_code == 0, result.stderr
    assert result.json() == {"source": "sk", "flavor": "sklearn", "uri": "out"}
    answer = mlcli.pyfunc.load_model(str(workdir / "out")).predict(features.to_numpy())
    expected = diabetes_regressor.predict(features)
    assert np.allclose(answer["variable"].ravel(), expected, rtol=1e-4, atol=1e-3)


def test_text_columns_become_one_input_each(cli: Any, workdir: Path) -> None:
    import pandas as pd
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder

    frame = pd.DataFrame({"city": ["a", "b", "c", "a", "b", "c"], "x": [1.0, 2, 3, 4, 5, 6]})
    target = [0, 1, 1, 0, 1, 1]
    encode = ColumnTransformer([("city", OneHotEncoder(), ["city"])], remainder="passthrough")
    model = make_pipeline(encode, LogisticRegression()).fit(frame, target)
    mlcli.sklearn.save_model(model, workdir / "sk", input_example=frame.head(2))
    assert cli("models", "convert", "sk", "--to", "onnx", "-o", "out").exit_code == 0
    signature = Model.load(workdir / "out").signature
    assert signature is not None and signature.inputs is not None
    assert signature.inputs.names() == ["city", "x"]
    converted = mlcli.pyfunc.load_model(str(workdir / "out"))
    feeds = {
        "city": frame[["city"]].to_numpy(),
        "x": frame[["x"]].to_numpy(dtype=np.float32),
    }
    assert np.array_equal(converted.predict(feeds)["label"], model.predict(frame))
    assert np.array_equal(converted.predict(frame)["label"], model.predict(frame))  # columns


def test_log_next_to_the_source_and_register(
    cli: Any, store: Path, iris: Any, iris_classifier: Any
) -> None:
    features, _ = iris
    with mlcli.start_run() as run:
        mlcli.sklearn.log_model(iris_classifier, "model", input_example=features.head(2))
    source = f"runs:/{run.run_id}/model"
    result = cli("models", "convert", source, "--to", "onnx", "--register", "iris-onnx")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.strip() == f"runs:/{run.run_id}/onnx"
    assert "Registered 'iris-onnx' version 1" in result.stderr
    converted = mlcli.pyfunc.load_model("models:/iris-onnx/1")
    assert np.array_equal(converted.predict(features)["label"], iris_classifier.predict(features))
    again = cli("models", "convert", source, "--to", "onnx", "--log")
    assert again.exit_code != 0 and "already has an artifact at 'onnx'" in again.stderr
    named = cli("models", "convert", source, "--to", "onnx", "--log", "--name", "second")
    assert named.exit_code == 0, named.stderr
    assert named.stdout.strip() == f"runs:/{run.run_id}/second"


def test_a_pytorch_module_predicts_as_before(cli: Any, workdir: Path) -> None:
    torch = pytest.importorskip("torch")
    pytorch = pytest.importorskip("mlcli.pytorch")
    torch.manual_seed(0)
    module = torch.nn.Sequential(
        torch.nn.Linear(4, 16), torch.nn.ReLU(), torch.nn.Linear(16, 3)
    ).eval()
    inputs = np.random.default_rng(0).normal(size=(20, 4)).astype(np.float32)
    pytorch.save_model(module, workdir / "pt", input_example=inputs[:2])
    result = cli("models", "convert", "pt", "--to", "onnx", "-o", "pt-onnx")
    assert result.exit_code == 0, result.stderr
    assert "torch" not in _requirements(workdir / "pt-onnx")
    answer = mlcli.pyfunc.load_model(str(workdir / "pt-onnx")).predict(inputs)  # any batch
    with torch.no_grad():
        expected = module(torch.from_numpy(inputs)).numpy()
    assert np.allclose(answer["output"], expected, atol=1e-5)


def test_bad_requests_are_one_line(cli: Any, workdir: Path, iris: Any) -> None:
    import mlcli.pyfunc as pyfunc

    class Echo(pyfunc.PythonModel):
        def predict(self, context: Any, model_input: Any, params: Any = None) -> Any:
            return model_input

    pyfunc.save_model(workdir / "custom", python_model=Echo())
    cases = {
        ("custom", "--to", "onnx", "-o", "x"): "it has the flavors python_function",
        ("custom", "--to", "tflite", "-o", "x"): "cannot convert to 'tflite'",
        ("custom", "--to", "onnx"): "give either an output directory or --log/--register",
        ("custom", "--to", "onnx", "-o", "x", "--log"): "give either an output directory",
        ("nowhere", "--to", "onnx", "-o", "x"): "nowhere",
    }
    for args, message in cases.items():
        result = cli("models", "convert", *args)
        assert result.exit_code == 2, (args, result.stderr)
        assert message in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert not (workdir / "x").exists()


def test_mlcli_evaluate_scores_the_converted_model_as_the_source(
    cli: Any, store: Path, workdir: Path, iris: Any, iris_classifier: Any
) -> None:
    features, target = iris
    features.assign(species=target).to_csv(workdir / "iris.csv", index=False)
    mlcli.sklearn.save_model(iris_classifier, workdir / "sk", input_example=features.head(2))
    assert cli("models", "convert", "sk", "--to", "onnx", "-o", "sk-onnx").exit_code == 0
    metrics = []
    for model in ("sk", "sk-onnx"):  # the ONNX model answers {"label", "probabilities"}
        args = ["-m", model, "--data", "iris.csv", "--target", "species"]
        result = cli("evaluate", *args, "--model-type", "classifier", "--json")
        assert result.exit_code == 0, result.stderr
        metrics.append(result.json()["metrics"])
    assert metrics[1]["accuracy_score"] == metrics[0]["accuracy_score"] > 0.9


BLOCK_FRAMEWORKS = """
import importlib.abc, sys

class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("sklearn", "torch", "skl2onnx", "skops"):
            raise ImportError(f"{name} is blocked: the model must not need it")

sys.meta_path.insert(0, Block())
"""


def test_the_converted_model_runs_where_no_framework_imports(
    cli: Any, workdir: Path, iris: Any, iris_classifier: Any
) -> None:
    import subprocess
    import sys

    features, _ = iris
    mlcli.sklearn.save_model(iris_classifier, workdir / "sk")
    assert cli("models", "convert", "sk", "--to", "onnx", "-o", "sk-onnx").exit_code == 0
    rows = features.head(4).values.tolist()
    script = BLOCK_FRAMEWORKS + (
        "import json, mlcli.pyfunc\n"
        "model = mlcli.pyfunc.load_model(sys.argv[1])\n"
        "print(json.dumps(model.predict(json.loads(sys.argv[2]))['label'].tolist()))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(workdir / "sk-onnx"), json.dumps(rows)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout) == iris_classifier.predict(features.head(4)).tolist()
    blocked = subprocess.run(
        [sys.executable, "-c", script, str(workdir / "sk"), json.dumps(rows)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert blocked.returncode != 0  # the source needs it
    assert "needs the 'scikit-learn' package" in blocked.stderr
