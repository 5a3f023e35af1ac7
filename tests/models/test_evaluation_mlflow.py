"""MLflow's documented evaluation examples, run twice: with ``import mlcli as mlflow`` and
with the real ``mlflow`` (the oracle, logging to a SQLite file in a temporary folder).
Same model directory, same data: the same metric values, names and failures.

The examples follow MLflow's "Model Evaluation" and "Model Validation" pages: a
scikit-learn classifier and regressor evaluated with ``model_type``, a custom metric
from ``make_metric`` (the ``(predictions, targets, metrics)`` form, the older
``(eval_df, builtin_metrics)`` form and per-row scores), and a validation with
``MetricThreshold`` and ``validate_evaluation_results`` that passes and one that fails.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

import mlcli
import mlcli.sklearn

pytest.importorskip("sklearn")
pd = pytest.importorskip("pandas")
np = pytest.importorskip("numpy")
real_mlflow = pytest.importorskip("mlflow")
pytest.importorskip("matplotlib")  # MLflow's evaluator draws its plots with it

from sklearn.datasets import load_breast_cancer, load_diabetes, load_iris  # noqa: E402
from sklearn.dummy import DummyClassifier  # noqa: E402
from sklearn.ensemble import RandomForestRegressor  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402

# MLflow's SHAP explainer is an optional extra (and slow): both sides skip it
NO_SHAP = {"log_model_explainability": False}


@pytest.fixture(scope="module")
def oracle(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModuleType]:
    """The real mlflow, tracking to a SQLite file outside the repository."""
    folder = tmp_path_factory.mktemp("mlflow-oracle")
    previous = real_mlflow.get_tracking_uri()
    real_mlflow.set_tracking_uri(f"sqlite:///{folder / 'mlflow.db'}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # its artifacts too: by default they would go to ./mlruns, in the repository
        location = (folder / "artifacts").as_uri()
        real_mlflow.create_experiment("oracle", artifact_location=location)
        real_mlflow.set_experiment("oracle")
    try:
        yield real_mlflow
    finally:
        while real_mlflow.active_run() is not None:
            real_mlflow.end_run()
        real_mlflow.set_tracking_uri(previous)


def _both(oracle: ModuleType, example: Any, *args: Any) -> tuple[Any, Any]:
    """The example's answer with mlcli, then with MLflow."""
    ours = example(mlcli, *args)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # MLflow's own deprecations and SQLAlchemy's
        theirs = example(oracle, *args)
    return ours, theirs


def _same_metrics(ours: dict[str, Any], theirs: dict[str, Any]) -> None:
    assert set(ours) == set(theirs)
    for name, value in theirs.items():
        assert ours[name] == pytest.approx(float(value), rel=1e-9, abs=1e-12), name


# --- the examples, as MLflow's docs write them (``mlflow`` is either package) ---------


def classifier_example(mlflow: Any, model_dir: str, eval_data: Any) -> Any:
    with mlflow.start_run():
        return mlflow.models.evaluate(
            model_dir,
            eval_data,
            targets="label",
            model_type="classifier",
            evaluators=["default"],
            evaluator_config={"default": NO_SHAP},
        )


def regressor_example(mlflow: Any, model_dir: str, eval_data: Any) -> Any:
    with mlflow.start_run():
        return mlflow.models.evaluate(
            model=model_dir,
            data=eval_data,
            targets="target",
            model_type="regressor",
            evaluator_config=NO_SHAP,
        )


def custom_metrics_example(mlflow: Any, model_dir: str, eval_data: Any) -> Any:
    def squared_diff_plus_one(eval_df: Any, _builtin_metrics: Any) -> float:
        return float(np.sum(np.abs(eval_df["prediction"] - eval_df["target"] + 1) ** 2))

    def sum_on_target_divided_by_two(_eval_df: Any, builtin_metrics: Any) -> float:
        return float(builtin_metrics["sum_on_target"] / 2)

    def mae_over_mse(predictions: Any, targets: Any, metrics: Any) -> float:
        mse = metrics["mean_squared_error"].aggregate_results["mean_squared_error"]
        return float(np.mean(np.abs(predictions - targets)) / mse)

    def squared_error(predictions: Any, targets: Any) -> Any:
        errors = ((predictions - targets) ** 2).tolist()
        return mlflow.metrics.MetricValue(
            scores=errors, aggregate_results={"mean": float(np.mean(errors))}
        )

    with mlflow.start_run():
        return mlflow.models.evaluate(
            model_dir,
            eval_data,
            targets="target",
            model_type="regressor",
            evaluator_config=NO_SHAP,
            extra_metrics=[
                mlflow.models.make_metric(
                    eval_fn=squared_diff_plus_one,
                    greater_is_better=False,
                    name="squared diff plus one",
                ),
                mlflow.models.make_metric(
                    eval_fn=sum_on_target_divided_by_two, greater_is_better=True
                ),
                mlflow.models.make_metric(eval_fn=mae_over_mse, greater_is_better=False),
                mlflow.models.make_metric(eval_fn=squared_error, greater_is_better=False),
            ],
        )


def static_predictions_example(mlflow: Any, model_dir: str, eval_data: Any) -> Any:
    """MLflow's "evaluating a static dataset": the outputs are a column of the data."""
    model = mlflow.pyfunc.load_model(model_dir)
    data = eval_data.assign(predictions=model.predict(eval_data.drop(columns=["target"])))
    with mlflow.start_run():
        return mlflow.models.evaluate(
            data=data, targets="target", predictions="predictions", model_type="regressor"
        )


def only_extra_metrics_example(mlflow: Any, model_dir: str, eval_data: Any) -> Any:
    """No model type: only the extra metrics, one of which reads a feature column."""

    def weighted_error(predictions: Any, targets: Any, bmi: Any) -> float:
        return float(((predictions - targets) * bmi).abs().mean())

    with mlflow.start_run():
        return mlflow.models.evaluate(
            model_dir,
            eval_data,
            targets="target",
            extra_metrics=[
                mlflow.models.make_metric(eval_fn=weighted_error, greater_is_better=False)
            ],
        )


def custom_artifacts_example(mlflow: Any, model_dir: str, eval_data: Any) -> Any:
    """MLflow's custom artifacts: a plot saved to a path, a DataFrame, a JSON-able dict."""
    from matplotlib.figure import Figure

    def prediction_target_scatter(eval_df: Any, _builtin_metrics: Any, artifacts_dir: str) -> Any:
        figure = Figure()
        figure.add_subplot().scatter(eval_df["prediction"], eval_df["target"])
        plot_path = str(Path(artifacts_dir) / "example_scatter_plot.png")
        figure.savefig(plot_path)
        return {"example_scatter_plot_artifact": plot_path}

    def worst_rows(eval_df: Any, builtin_metrics: Any, _artifacts_dir: str) -> Any:
        errors = (eval_df["prediction"] - eval_df["target"]).abs()
        mse = builtin_metrics["mean_squared_error"].aggregate_results["mean_squared_error"]
        return {
            "worst_rows": eval_df.assign(error=errors).nlargest(5, "error"),
            "summary": {"mse": mse, "rows": len(eval_df)},
        }

    with mlflow.start_run():
        return mlflow.models.evaluate(
            model_dir,
            eval_data,
            targets="target",
            model_type="regressor",
            evaluator_config=NO_SHAP,
            custom_artifacts=[prediction_target_scatter, worst_rows],
        )


def validation_example(
    mlflow: Any, candidate_dir: str, baseline_dir: str, eval_data: Any, strict: bool
) -> str | None:
    """MLflow's model validation: a candidate against absolute bounds and a baseline.
    Answers the failure message, or None when the candidate passes."""
    thresholds = {
        "accuracy_score": mlflow.models.MetricThreshold(
            threshold=0.999 if strict else 0.8,
            min_absolute_change=0.5 if strict else None,
            min_relative_change=0.05,
            greater_is_better=True,
        ),
        "log_loss": mlflow.models.MetricThreshold(
            threshold=0.01 if strict else 0.5, greater_is_better=False
        ),
    }
    with mlflow.start_run():
        candidate = mlflow.models.evaluate(
            candidate_dir,
            eval_data,
            targets="label",
            model_type="classifier",
            evaluator_config=NO_SHAP,
        )
    with mlflow.start_run():
        baseline = mlflow.models.evaluate(
            baseline_dir,
            eval_data,
            targets="label",
            model_type="classifier",
            evaluator_config=NO_SHAP,
        )
    try:
        mlflow.validate_evaluation_results(thresholds, candidate, baseline)
    except Exception as exc:  # MLflow's ModelValidationFailedException, mlcli's error
        return getattr(exc, "message", str(exc))
    return None


# --- data and models --------------------------------------------------------------


@pytest.fixture(scope="module")
def breast_cancer(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str, Any]:
    """A binary classifier and a weaker baseline, saved by mlcli, and the test data."""
    features, target = load_breast_cancer(return_X_y=True, as_frame=True)
    x_train, x_test, y_train, y_test = train_test_split(
        features, target, test_size=0.33, random_state=42
    )
    folder = tmp_path_factory.mktemp("breast-cancer")
    candidate = LogisticRegression(max_iter=5000).fit(x_train, y_train)
    baseline = DummyClassifier(strategy="prior").fit(x_train, y_train)
    mlcli.sklearn.save_model(candidate, folder / "candidate")
    mlcli.sklearn.save_model(baseline, folder / "baseline")
    return str(folder / "candidate"), str(folder / "baseline"), x_test.assign(label=y_test)


@pytest.fixture(scope="module")
def iris_model(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Any]:
    features, target = load_iris(return_X_y=True, as_frame=True)
    x_train, x_test, y_train, y_test = train_test_split(
        features, target, test_size=0.4, random_state=1
    )
    folder = tmp_path_factory.mktemp("iris")
    model = LogisticRegression(max_iter=5000, C=0.05).fit(x_train, y_train)
    mlcli.sklearn.save_model(model, folder / "model")
    return str(folder / "model"), x_test.assign(label=y_test)


@pytest.fixture(scope="module")
def diabetes_model(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Any]:
    features, target = load_diabetes(return_X_y=True, as_frame=True)
    x_train, x_test, y_train, y_test = train_test_split(
        features, target, test_size=0.33, random_state=42
    )
    folder = tmp_path_factory.mktemp("diabetes")
    model = RandomForestRegressor(n_estimators=20, random_state=0).fit(x_train, y_train)
    mlcli.sklearn.save_model(model, folder / "model")
    return str(folder / "model"), x_test.assign(target=y_test)


# --- the comparisons ------------------------------------------------------------------


def test_a_binary_classifier_has_mlflows_metrics(
    store: Path, oracle: ModuleType, breast_cancer: tuple[str, str, Any]
) -> None:
    candidate, _, data = breast_cancer
    ours, theirs = _both(oracle, classifier_example, candidate, data)
    _same_metrics(ours.metrics, theirs.metrics)
    assert {"accuracy_score", "f1_score", "roc_auc", "log_loss", "true_positives"} <= set(
        ours.metrics
    )
    logged = mlcli.get_run(ours.run_id).data.latest_metrics
    assert {k: m.value for k, m in logged.items()} == pytest.approx(ours.metrics)
    confusion = ours.artifacts["confusion_matrix"]
    assert confusion.uri.endswith("/confusion_matrix.png") and confusion.content[:4] == b"\x89PNG"


def test_a_multiclass_classifier_has_mlflows_metrics(
    store: Path, oracle: ModuleType, iris_model: tuple[str, Any]
) -> None:
    model_dir, data = iris_model
    ours, theirs = _both(oracle, classifier_example, model_dir, data)
    _same_metrics(ours.metrics, theirs.metrics)
    assert ours.metrics["example_count"] == 60
    per_class = ours.artifacts["per_class_metrics"].content
    expected = theirs.artifacts["per_class_metrics"].content
    shared = [c for c in expected.columns if c in per_class.columns]
    assert len(shared) >= 9
    for column in shared:
        assert per_class[column].tolist() == pytest.approx(expected[column].tolist()), column


def test_a_regressor_has_mlflows_metrics(
    store: Path, oracle: ModuleType, diabetes_model: tuple[str, Any]
) -> None:
    model_dir, data = diabetes_model
    ours, theirs = _both(oracle, regressor_example, model_dir, data)
    _same_metrics(ours.metrics, theirs.metrics)
    assert ours.metrics["root_mean_squared_error"] == pytest.approx(
        math.sqrt(ours.metrics["mean_squared_error"])
    )
    assert ours.tables == theirs.tables == {}  # no per-row metric, no per-row table


def test_custom_metrics_from_make_metric(
    store: Path, oracle: ModuleType, diabetes_model: tuple[str, Any]
) -> None:
    model_dir, data = diabetes_model
    ours, theirs = _both(oracle, custom_metrics_example, model_dir, data)
    _same_metrics(ours.metrics, theirs.metrics)
    assert {"squared diff plus one", "sum_on_target_divided_by_two", "squared_error/mean"} <= set(
        ours.metrics
    )
    table, expected = ours.tables["eval_results_table"], theirs.tables["eval_results_table"]
    assert list(table.columns) == list(expected.columns)
    assert table["squared_error/score"].tolist() == pytest.approx(
        expected["squared_error/score"].tolist()
    )
    assert table["outputs"].tolist() == pytest.approx(expected["outputs"].tolist())


@pytest.mark.parametrize("example", [static_predictions_example, only_extra_metrics_example])
def test_evaluations_without_a_model_or_a_model_type(
    store: Path, oracle: ModuleType, diabetes_model: tuple[str, Any], example: Any
) -> None:
    model_dir, data = diabetes_model
    ours, theirs = _both(oracle, example, model_dir, data)
    _same_metrics(ours.metrics, theirs.metrics)
    assert ours.metrics


def test_custom_artifacts(store: Path, oracle: ModuleType, diabetes_model: tuple[str, Any]) -> None:
    model_dir, data = diabetes_model
    ours, theirs = _both(oracle, custom_artifacts_example, model_dir, data)
    names = {"example_scatter_plot_artifact", "worst_rows", "summary"}
    assert names <= set(ours.artifacts) and names <= set(theirs.artifacts)
    for name in names:
        assert Path(ours.artifacts[name].uri).name == Path(theirs.artifacts[name].uri).name
    worst, expected = ours.artifacts["worst_rows"].content, theirs.artifacts["worst_rows"].content
    assert list(worst.columns) == list(expected.columns)
    assert worst.to_numpy().ravel().tolist() == pytest.approx(expected.to_numpy().ravel().tolist())
    assert ours.artifacts["summary"].content == pytest.approx(theirs.artifacts["summary"].content)
    image = store / "runs" / ours.run_id / "artifacts" / "example_scatter_plot_artifact.png"
    assert image.read_bytes()[:4] == b"\x89PNG"


def test_a_validation_that_passes(
    store: Path, oracle: ModuleType, breast_cancer: tuple[str, str, Any]
) -> None:
    candidate, baseline, data = breast_cancer
    ours, theirs = _both(oracle, validation_example, candidate, baseline, data, False)
    assert ours is None and theirs is None


def test_a_validation_that_fails_lists_each_failed_threshold(
    store: Path, oracle: ModuleType, breast_cancer: tuple[str, str, Any]
) -> None:
    candidate, baseline, data = breast_cancer
    ours, theirs = _both(oracle, validation_example, candidate, baseline, data, True)
    assert theirs is not None and ours is not None
    assert ours.splitlines() == theirs.splitlines()
    assert ours.startswith("Metric accuracy_score value threshold check failed: candidate model")
    assert "minimum absolute change check failed" in ours


class _Result:
    """What validate_evaluation_results reads of an evaluation result: its metrics."""

    def __init__(self, metrics: dict[str, float]) -> None:
        self.metrics = metrics


@pytest.mark.parametrize(
    ("candidate", "baseline"),
    [
        ({"r2_score": 0.5, "max_error": 3.0}, {"r2_score": 0.2, "max_error": 4.0}),
        ({"r2_score": 0.1, "max_error": 5.0}, {"r2_score": 0.2, "max_error": 4.0}),
        ({"r2_score": 0.1}, {"r2_score": 0.0, "max_error": 4.0}),  # no candidate max_error
        ({"r2_score": -0.5, "max_error": 3.9}, {"r2_score": -1.0, "max_error": 4.0}),
        ({"r2_score": 0.3, "max_error": 3.0}, None),  # no baseline at all
    ],
)
def test_validation_messages_are_mlflows(candidate: dict[str, float], baseline: Any) -> None:
    from mlflow.models.evaluation.validation import MetricThreshold as MlflowThreshold

    def answer(module: Any, threshold_class: Any) -> str | None:
        thresholds = {
            "r2_score": threshold_class(
                threshold=0.0, min_relative_change=0.25, greater_is_better=True
            ),
            "max_error": threshold_class(min_absolute_change=0.5, greater_is_better=False),
        }
        base = None if baseline is None else _Result(baseline)
        try:
            module.validate_evaluation_results(thresholds, _Result(candidate), base)
        except Exception as exc:
            return getattr(exc, "message", str(exc))
        return None

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # both warn of the baseline of 0
        ours = answer(mlcli, mlcli.models.MetricThreshold)
        theirs = answer(real_mlflow, MlflowThreshold)
    assert ours == theirs


def test_a_baseline_without_the_metric_fails_the_comparison() -> None:
    """MLflow 3.18 raises a KeyError here (it reads the baseline's value before checking
    that it has one); mlcli gives the line MLflow meant to give."""
    thresholds = {"max_error": mlcli.models.MetricThreshold(
        min_absolute_change=0.5, greater_is_better=False
    )}  # fmt: skip
    with pytest.raises(mlcli.models.ModelValidationFailedError) as caught:
        mlcli.validate_evaluation_results(
            thresholds, _Result({"max_error": 1.0}), _Result({"r2_score": 0.5})
        )
    assert str(caught.value) == (
        "Model comparison failed: metric max_error was missing from the evaluation result "
        "of the baseline model."
    )


def test_bad_thresholds_are_refused_in_mlflows_words() -> None:
    with pytest.raises(mlcli.errors.InvalidInputError) as caught:
        mlcli.validate_evaluation_results({"accuracy_score": 0.9}, _Result({}))
    with pytest.raises(real_mlflow.MlflowException) as expected:
        real_mlflow.validate_evaluation_results({"accuracy_score": 0.9}, _Result({}))
    assert str(caught.value) == expected.value.message
