"""``mlcli models predict`` and ``mlcli evaluate``, end to end through the CLI."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import mlcli
import mlcli.sklearn

np = pytest.importorskip("numpy")


@pytest.fixture
def logged(store: Path, iris: Any, iris_classifier: Any) -> str:
    """A classifier (with a signature) logged to a finished run; returns the run id."""
    with mlcli.start_run() as run:
        mlcli.sklearn.log_model(iris_classifier, "model", input_example=iris[0].head(2))
    return run.run_id


@pytest.fixture
def iris_csv(workdir: Path, iris: Any) -> Path:
    features, target = iris
    features.assign(species=target).to_csv(workdir / "iris.csv", index=False)
    return workdir / "iris.csv"


def test_predict_a_json_file(
    cli: Any, logged: str, iris: Any, iris_classifier: Any, workdir: Path
) -> None:
    features, _ = iris
    rows = features.head(5)
    (workdir / "rows.json").write_text(
        json.dumps(
            {"dataframe_split": {"columns": list(rows.columns), "data": rows.values.tolist()}}
        )
    )
    result = cli("models", "predict", "-m", f"runs:/{logged[:8]}/model", "-i", "rows.json")
    assert result.exit_code == 0, result.stderr
    assert result.json() == {"predictions": iris_classifier.predict(rows).tolist()}


def test_predict_csv_from_stdin_to_a_file(
    cli: Any, logged: str, iris: Any, iris_classifier: Any, workdir: Path
) -> None:
    features, _ = iris
    body = features.tail(4).to_csv(index=False)
    result = cli(
        "models",
        "predict",
        "-m",
        f"runs:/{logged}/model",
        "-t",
        "csv",
        "-o",
        "out.json",
        input=body,
    )
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "" and "Wrote 4 predictions to out.json" in result.stderr
    expected = iris_classifier.predict(features.tail(4)).tolist()
    assert json.loads((workdir / "out.json").read_text()) == {"predictions": expected}


def test_predict_reports_bad_input_in_one_line(cli: Any, logged: str) -> None:
    body = {
        "dataframe_records": [
            {
                "sepal length (cm)": "tall",
                "sepal width (cm)": 1.0,
                "petal length (cm)": 1.0,
                "petal width (cm)": 1.0,
            }
        ]
    }
    result = cli("models", "predict", "-m", f"runs:/{logged}/model", input=json.dumps(body))
    assert result.exit_code == 2
    assert result.stderr == (
        "mlcli: error: input column 'sepal length (cm)' expects double, "
        "got the string 'tall' (row 0)\n"
    )
    result = cli("models", "predict", "-m", f"runs:/{logged}/model", input='{"rows": []}')
    assert result.exit_code == 2 and "exactly one of the fields" in result.stderr
    result = cli("models", "predict", "-m", "runs:/ffffff/model", input="{}")
    assert result.exit_code == 2 and result.stderr.startswith("mlcli: error: no run")


def test_predict_reports_a_failing_model_in_one_line(
    cli: Any, store: Path, iris: Any, iris_classifier: Any
) -> None:
    with mlcli.start_run() as run:  # no signature: the input reaches the estimator as it is
        mlcli.sklearn.log_model(iris_classifier, "bare")
    body = iris[0].head(1).assign(note="x").to_csv(index=False)
    result = cli("models", "predict", "-m", f"runs:/{run.run_id}/bare", "-t", "csv", input=body)
    assert result.exit_code == 2
    assert result.stderr.startswith("mlcli: error: the model failed on this input: ValueError: ")
    assert len(result.stderr.splitlines()) == 1


def test_predict_warns_about_ignored_columns(cli: Any, logged: str, iris: Any) -> None:
    features, _ = iris
    body = features.head(1).assign(note="x").to_csv(index=False)
    result = cli("models", "predict", "-m", f"runs:/{logged}/model", "-t", "csv", input=body)
    assert result.exit_code == 0
    assert result.stderr == (
        "mlcli: warning: ignoring input columns not in the model signature: 'note'\n"
    )


def test_evaluate_iris_logs_metrics_and_the_confusion_matrix(
    cli: Any, logged: str, iris_csv: Path, store: Path
) -> None:
    run = cli("runs", "create", "--experiment", "eval", "-q").stdout.strip()
    result = cli(
        "evaluate",
        "-m",
        f"runs:/{logged}/model",
        "--data",
        str(iris_csv),
        "--target",
        "species",
        "--model-type",
        "classifier",
        "--run",
        run,
    )
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines()[0].split() == ["METRIC", "VALUE"]
    assert "accuracy_score" in result.stdout
    assert f"Logged 8 metrics to run {run[:8]}" in result.stderr
    shown = json.loads(cli("runs", "show", run, "--json").stdout)
    names = {"accuracy_score", "f1_score", "precision_score", "recall_score", "log_loss", "roc_auc"}
    assert names <= set(shown["metrics"])
    artifacts = store / "runs" / run / "artifacts"
    assert (artifacts / "confusion_matrix.png").stat().st_size > 1000
    assert json.loads((artifacts / "confusion_matrix.json").read_text())["labels"] == [0, 1, 2]


def test_evaluate_exits_1_with_a_report_when_a_threshold_fails(
    cli: Any, logged: str, iris_csv: Path
) -> None:
    result = cli(
        "evaluate",
        "-m",
        f"runs:/{logged}/model",
        "--data",
        str(iris_csv),
        "--target",
        "species",
        "--threshold",
        "accuracy_score>=0.999",
        "--threshold",
        "recall_score>=0.5",
    )
    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    report = lines[lines.index("mlcli: error: 1 of 2 thresholds failed") :]
    assert report[1].startswith(
        "  FAIL  Metric accuracy_score value threshold check failed: candidate model "
        "accuracy_score = 0.97"
    )
    assert report[1].endswith("accuracy_score threshold = 0.999.")
    assert report[2] == "  ok    Metric recall_score passed the validation."
    assert "accuracy_score" in result.stdout  # the metrics are shown (and logged) all the same


def test_evaluate_json(cli: Any, logged: str, iris_csv: Path) -> None:
    result = cli(
        "evaluate",
        "-m",
        f"runs:/{logged}/model",
        "-d",
        str(iris_csv),
        "--target",
        "species",
        "--threshold",
        "accuracy_score>=0.5",
        "--prefix",
        "test_",
        "--json",
    )
    assert result.exit_code == 0, result.stderr
    document = result.json()
    assert set(document) == {
        "run_id",
        "model_type",
        "metric_prefix",
        "metrics",
        "baseline_metrics",
        "artifacts",
        "validation",
        "passed",
    }
    assert document["passed"] is True and document["metric_prefix"] == "test_"
    assert document["artifacts"]["confusion_matrix"] == "test_confusion_matrix.png"
    assert document["artifacts"]["confusion_matrix_data"] == "test_confusion_matrix.json"
    assert "test_accuracy_score" in document["metrics"]
    assert document["validation"][0]["threshold"] == ">=0.5"


def test_evaluate_usage_errors_exit_2(cli: Any, logged: str, iris_csv: Path) -> None:
    base = ["evaluate", "-m", f"runs:/{logged}/model", "--data", str(iris_csv)]
    assert cli(*base, "--target", "nope").exit_code == 2
    result = cli(*base, "--target", "species", "--threshold", "accuracy=1")
    assert result.exit_code == 2 and "invalid threshold 'accuracy=1'" in result.stderr


MODEL_LIBRARIES = {"pandas", "numpy", "sklearn", "skops", "cloudpickle", "matplotlib", "mlflow",
                   "yaml"}  # fmt: skip


@pytest.mark.parametrize(
    "args",
    [["--help"], ["models", "--help"], ["evaluate", "--help"], ["models", "predict", "--help"]],
)
def test_help_imports_no_model_libraries(args: list[str], tmp_path: Path, loaded_modules) -> None:
    assert loaded_modules(*args, cwd=tmp_path) & MODEL_LIBRARIES == set()


def test_predict_reads_its_input_as_every_command_does(
    cli: Any, logged: str, workdir: Path
) -> None:
    """One reader for "a file or -": bad bytes or a directory are one-line errors."""
    uri = f"runs:/{logged}/model"
    (workdir / "rows.json").write_bytes(b'{"dataframe_split":\n {"columns": ["\xff"]}}\n')
    (workdir / "rows").mkdir()
    result = cli("models", "predict", "-m", uri, "-i", "rows.json")
    assert (result.exit_code, result.stderr) == (2, "mlcli: error: line 2: not valid UTF-8 text\n")
    result = cli("models", "predict", "-m", uri, "-i", "rows")
    assert (result.exit_code, result.stderr) == (
        2,
        "mlcli: error: rows is a directory, not an input file\n",
    )
    result = cli("models", "predict", "-m", uri, "-i", "missing.json")
    assert result.stderr == "mlcli: error: no such file: missing.json\n"
