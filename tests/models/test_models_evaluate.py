"""Evaluation: standard metrics logged to a run, confusion matrices, thresholds."""

from __future__ import annotations

import json
import math
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

import mlcli
import mlcli.sklearn
from mlcli.errors import InvalidInputError
from mlcli.models import MetricThreshold, ModelValidationFailedError, make_metric
from mlcli.models.evaluation import parse_threshold
from mlcli.models.evaluation.confusion import svg

np = pytest.importorskip("numpy")
pd = pytest.importorskip("pandas")
metrics = pytest.importorskip("sklearn.metrics")


@pytest.fixture
def iris_frame(iris: Any) -> Any:
    features, target = iris
    return features.assign(species=target)


@pytest.fixture
def classifier_uri(run_id: str, iris_classifier: Any) -> str:
    return mlcli.sklearn.log_model(iris_classifier, "clf").model_uri


def test_classifier_metrics_are_logged_and_returned(
    run_id: str, store: Path, classifier_uri: str, iris: Any, iris_frame: Any, iris_classifier: Any
) -> None:
    features, target = iris
    result = mlcli.evaluate(classifier_uri, iris_frame, "species", model_type="classifier")
    predicted = iris_classifier.predict(features)
    assert result.run_id == run_id
    assert result.metrics["accuracy_score"] == pytest.approx(
        metrics.accuracy_score(target, predicted)
    )
    assert result.metrics["f1_score"] == pytest.approx(
        metrics.f1_score(target, predicted, average="weighted")
    )
    assert result.metrics["log_loss"] == pytest.approx(
        metrics.log_loss(target, iris_classifier.predict_proba(features))
    )
    assert 0.9 < result.metrics["roc_auc"] <= 1.0
    assert result.metrics["example_count"] == 150
    logged = mlcli.get_run(run_id).data.latest_metrics
    assert {k: m.value for k, m in logged.items()} == result.metrics
    assert result.metrics["score"] == pytest.approx(iris_classifier.score(features, target))
    artifacts = store / "runs" / run_id / "artifacts"
    assert (artifacts / "confusion_matrix.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    matrix = json.loads((artifacts / "confusion_matrix.json").read_text())
    assert matrix["labels"] == [0, 1, 2]
    assert matrix["matrix"] == metrics.confusion_matrix(target, predicted).tolist()


def test_regressor_metrics_with_a_prefix(
    run_id: str, diabetes: Any, diabetes_regressor: Any
) -> None:
    features, target = diabetes
    uri = mlcli.sklearn.log_model(diabetes_regressor, "reg").model_uri
    result = mlcli.evaluate(uri, features, target.to_numpy(), metric_prefix="val_")
    predicted = diabetes_regressor.predict(features)
    assert result.model_type == "regressor"  # inferred from the float target
    mse = metrics.mean_squared_error(target, predicted)
    assert result.metrics["val_mean_squared_error"] == pytest.approx(mse)
    assert result.metrics["val_root_mean_squared_error"] == pytest.approx(math.sqrt(mse))
    assert result.metrics["val_mean_absolute_error"] == pytest.approx(
        metrics.mean_absolute_error(target, predicted)
    )
    assert result.metrics["val_r2_score"] == pytest.approx(metrics.r2_score(target, predicted))
    assert result.metrics["val_max_error"] == pytest.approx(metrics.max_error(target, predicted))
    assert result.metrics["val_sum_on_target"] == pytest.approx(float(target.sum()))
    logged = mlcli.get_run(run_id).data.latest_metrics
    assert set(logged) == set(result.metrics)
    assert all(name.startswith("val_") for name in logged)


def test_a_failed_threshold_raises_after_logging(
    run_id: str, classifier_uri: str, iris_frame: Any
) -> None:
    with pytest.raises(ModelValidationFailedError) as caught:
        mlcli.evaluate(
            classifier_uri,
            iris_frame,
            "species",
            validation_thresholds={
                "accuracy_score": MetricThreshold(threshold=0.999, greater_is_better=True),
                "log_loss": MetricThreshold(threshold=0.5, greater_is_better=False),
            },
        )
    result = caught.value.result
    assert [(o.metric, o.passed) for o in result.validation] == [
        ("accuracy_score", False),
        ("log_loss", True),
    ]
    accuracy = result.metrics["accuracy_score"]
    assert str(caught.value) == (
        "Metric accuracy_score value threshold check failed: candidate model accuracy_score = "
        f"{accuracy}, accuracy_score threshold = 0.999."
    )
    assert caught.value.display().splitlines()[1].strip().startswith("FAIL  Metric accuracy_score")
    assert "accuracy_score" in mlcli.get_run(run_id).data.latest_metrics  # logged all the same


def test_thresholds_relative_to_a_baseline(
    run_id: str, diabetes: Any, diabetes_regressor: Any
) -> None:
    from sklearn.dummy import DummyRegressor

    features, target = diabetes
    candidate = mlcli.sklearn.log_model(diabetes_regressor, "candidate").model_uri
    baseline = mlcli.sklearn.log_model(DummyRegressor().fit(features, target), "baseline").model_uri
    result = mlcli.evaluate(
        candidate,
        features,
        target.to_numpy(),
        baseline_model=baseline,
        validation_thresholds=["root_mean_squared_error<=baseline-20%", "r2_score>=baseline+0.5"],
    )
    assert result.passed and result.baseline_metrics is not None
    assert result.baseline_metrics["r2_score"] == pytest.approx(0.0, abs=1e-9)
    with pytest.raises(
        ModelValidationFailedError,
        match=r"root_mean_squared_error minimum relative change threshold = 10\.0\.$",
    ):
        mlcli.evaluate(
            candidate,
            features,
            target.to_numpy(),
            baseline_model=baseline,
            validation_thresholds=["root_mean_squared_error<=baseline-1000%"],
        )


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("accuracy>=0.9", ("accuracy", (0.9, None, None, True))),
        (" mae <= 3.5 ", ("mae", (3.5, None, None, False))),
        ("f1>=baseline", ("f1", (None, 0.0, None, True))),
        ("f1>=baseline+0.01", ("f1", (None, 0.01, None, True))),
        ("f1>=baseline+2%", ("f1", (None, None, 0.02, True))),
        ("rmse<=baseline-5%", ("rmse", (None, None, 0.05, False))),
    ],
)
def test_threshold_expressions(expression: str, expected: Any) -> None:
    name, threshold = parse_threshold(expression)
    fields = ("threshold", "min_absolute_change", "min_relative_change", "greater_is_better")
    assert (name, tuple(getattr(threshold, f) for f in fields)) == expected
    if expected[1][1] != 0.0:  # a change of 0 is the command line's own: MLflow refuses it
        assert threshold == MetricThreshold(*expected[1])


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"threshold": 0.9}, "`greater_is_better` parameter must be defined."),
        ({"greater_is_better": True}, "no threshold was specified."),
        ({"threshold": "0.9", "greater_is_better": True}, "`threshold` parameter must be a number"),
        (
            {"min_absolute_change": 0, "greater_is_better": True},
            "`min_absolute_change` parameter must be a positive number.",
        ),
        (
            {"min_relative_change": 1, "greater_is_better": True},
            "`min_relative_change` parameter must be a floating point number.",
        ),
        (
            {"min_relative_change": 1.5, "greater_is_better": True},
            "`min_relative_change` parameter must be between 0 and 1.",
        ),
        ({"threshold": 1, "greater_is_better": 1}, "`greater_is_better` parameter must be a bool"),
    ],
)
def test_metric_threshold_refuses_what_mlflow_refuses(
    arguments: dict[str, Any], message: str
) -> None:
    with pytest.raises(InvalidInputError) as caught:
        MetricThreshold(**arguments)
    assert str(caught.value).startswith("Could not instantiate MetricThreshold class: ")
    assert message in str(caught.value)


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("accuracy=0.9", "expected METRIC>=VALUE"),
        ("accuracy>=high", "'high' is not a number"),
        ("accuracy>=baseline-1", "use baseline\\+X with >="),
    ],
)
def test_bad_threshold_expressions(expression: str, message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        parse_threshold(expression)


def test_usage_errors_come_before_anything_is_logged(
    run_id: str, classifier_uri: str, iris_frame: Any
) -> None:
    with pytest.raises(InvalidInputError, match="threshold on unknown metric 'acc'"):
        mlcli.evaluate(classifier_uri, iris_frame, "species", validation_thresholds=["acc>=1"])
    with pytest.raises(InvalidInputError, match="compares with a baseline model"):
        mlcli.evaluate(
            classifier_uri,
            iris_frame,
            "species",
            validation_thresholds=["accuracy_score>=baseline"],
        )
    with pytest.raises(InvalidInputError, match="no column 'label' in the data"):
        mlcli.evaluate(classifier_uri, iris_frame, "label")
    with pytest.raises(InvalidInputError, match="invalid model type 'ranker'"):
        mlcli.evaluate(classifier_uri, iris_frame, "species", model_type="ranker")
    assert mlcli.get_run(run_id).data.latest_metrics == {}


def test_extra_metrics_and_a_new_run_when_none_is_active(
    store: Path, tmp_path: Path, iris_classifier: Any, iris_frame: Any
) -> None:
    mlcli.sklearn.save_model(iris_classifier, tmp_path / "clf")
    errors = make_metric(
        eval_fn=lambda predictions, targets: float(np.sum(predictions != targets)),
        name="errors",
        greater_is_better=False,
    )
    result = mlcli.evaluate(
        str(tmp_path / "clf"),
        iris_frame,
        targets="species",
        model_type="classifier",
        extra_metrics=[errors],
        experiment="eval",
    )
    assert result.metrics["errors"] == pytest.approx(150 * (1 - result.metrics["accuracy_score"]))
    run = mlcli.get_run(result.run_id)
    assert run.info.status == "FINISHED" and run.experiment_name == "eval"
    assert mlcli.active_run() is None


def test_data_from_a_parquet_file(
    run_id: str, classifier_uri: str, iris_frame: Any, tmp_path: Path
) -> None:
    pytest.importorskip("pyarrow")
    iris_frame.to_parquet(tmp_path / "iris.parquet")
    result = mlcli.evaluate(classifier_uri, tmp_path / "iris.parquet", "species")
    assert result.model_type == "classifier" and result.metrics["example_count"] == 150


def test_the_svg_confusion_matrix_is_a_real_image() -> None:
    root = ET.fromstring(svg(["setosa", "versi<color>"], [[50, 0], [1, 49]]))
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    texts = [t.text for t in root.iter("{http://www.w3.org/2000/svg}text")]
    assert {"50", "0", "1", "49", "setosa", "versi<color>", "Predicted label"} <= set(texts)
    cells = [r for r in root.iter("{http://www.w3.org/2000/svg}rect") if r.get("stroke")]
    assert len(cells) == 4


def test_a_custom_artifact_mlcli_cannot_log_is_one_error(
    run_id: str, classifier_uri: str, iris_frame: Any
) -> None:
    def a_set(eval_df: Any, builtin_metrics: Any, artifacts_dir: str) -> Any:
        return {"labels": set(eval_df["target"])}

    with pytest.raises(InvalidInputError, match="mlcli does not log pickles") as caught:
        mlcli.evaluate(
            classifier_uri, iris_frame, targets="species", model_type="classifier",
            custom_artifacts=[a_set],
        )  # fmt: skip
    assert "custom artifact function 'a_set'" in str(caught.value)
