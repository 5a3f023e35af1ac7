"""scikit-learn autologging with real scikit-learn: a script with no mlcli call but
``autolog()`` gets runs with params, metrics, a loadable model, the search results and
child runs; only the outermost fit is logged; disabling restores the exact methods."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from capturehelpers import history, runs_in

pytest.importorskip("sklearn")

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.datasets import make_classification, make_regression
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler

import mlcli
import mlcli.pyfunc
import mlcli.sklearn
from mlcli.tracking import TrackingClient

PATCHED = [
    (LogisticRegression, "fit"),
    (LinearRegression, "fit"),
    (StandardScaler, "fit"),
    (Pipeline, "fit"),
    (Pipeline, "fit_transform"),
    (GridSearchCV, "fit"),  # BaseSearchCV's, in fact
]


def owner(cls: type, name: str) -> type:
    """The class of ``cls``'s MRO that defines ``name``."""
    return next(c for c in cls.__mro__ if name in c.__dict__)


@pytest.fixture
def autolog(store_root: Path) -> Iterator[None]:
    mlcli.sklearn.autolog()
    yield
    mlcli.sklearn.autolog(disable=True)


@pytest.fixture
def data() -> tuple[np.ndarray, np.ndarray]:
    return make_classification(n_samples=200, n_features=4, random_state=0)


def by_estimator(store: Path) -> dict[str, list]:
    found: dict[str, list] = {}
    for run in runs_in(store):
        found.setdefault(run.data.tags.get("estimator_name", "?"), []).append(run)
    return found


def test_a_pipeline_is_one_run_with_params_metrics_and_model(
    autolog: None, store_root: Path, data: tuple
) -> None:
    X, y = data
    pipe = Pipeline([("scaler", StandardScaler()), ("clf", LogisticRegression())])
    pipe.fit(X, y)
    (run,) = runs_in(store_root)  # the steps' fits are not runs of their own
    assert run.info.status == "FINISHED"
    tags = run.data.tags
    assert tags["estimator_name"] == "Pipeline"
    assert tags["estimator_class"] == "sklearn.pipeline.Pipeline"
    assert tags["mlcli.autologging"] == "sklearn"
    params = run.data.params
    assert params["clf__C"] == "1.0" and params["scaler__with_mean"] == "True"
    assert params["steps"].startswith("[('scaler', StandardScaler())")
    metrics = run.data.metrics
    accuracy = float((pipe.predict(X) == y).mean())
    assert metrics["training_accuracy_score"] == pytest.approx(accuracy)
    assert metrics["training_score"] == pytest.approx(pipe.score(X, y))
    assert {"training_precision_score", "training_recall_score", "training_f1_score"} <= set(
        metrics
    )
    model = mlcli.sklearn.load_model(f"runs:/{run.info.run_id}/model")
    assert (model.predict(X) == pipe.predict(X)).all()
    pyfunc = mlcli.pyfunc.load_model(f"runs:/{run.info.run_id}/model")
    assert (np.asarray(pyfunc.predict(X)) == pipe.predict(X)).all()
    signature = pyfunc.metadata.signature
    assert signature is not None and signature.inputs.specs[0].shape == (-1, 4)


def test_a_grid_search_logs_results_and_child_runs(
    autolog: None, store_root: Path, data: tuple
) -> None:
    X, y = data
    search = GridSearchCV(LogisticRegression(), {"C": [0.01, 0.1, 1.0, 10.0]}, cv=3)
    search.fit(X, y)
    runs = by_estimator(store_root)
    (parent,) = runs["GridSearchCV"]
    children = runs["LogisticRegression"]
    assert len(children) == 4  # every candidate (fewer than max_tuning_runs=5)
    assert {c.data.tags["mlcli.parentRunId"] for c in children} == {parent.info.run_id}
    assert parent.data.params["best_C"] == str(search.best_params_["C"])
    assert parent.data.params["estimator"] == "LogisticRegression()"
    assert parent.data.metrics["best_cv_score"] == pytest.approx(search.best_score_)
    assert sorted(c.data.params["C"] for c in children) == ["0.01", "0.1", "1.0", "10.0"]
    best = min(children, key=lambda c: c.data.metrics["rank_test_score"])
    assert best.data.params["C"] == str(search.best_params_["C"])
    assert {"mean_test_score", "std_test_score", "mean_fit_time"} <= set(best.data.metrics)
    client = TrackingClient(store_root)
    artifacts = {a.path for a in client.list_artifacts(parent.info.run_id)}
    assert artifacts == {"model", "best_estimator", "cv_results.csv"}
    csv_text = client.artifact_path(parent.info.run_id, "cv_results.csv").read_text()
    header, *rows = csv_text.splitlines()
    assert "mean_test_score" in header.split(",") and len(rows) == 4
    for name in ("model", "best_estimator"):
        loaded = mlcli.sklearn.load_model(f"runs:/{parent.info.run_id}/{name}")
        assert (loaded.predict(X) == search.predict(X)).all()


def test_max_tuning_runs_keeps_the_best_candidates(store_root: Path, data: tuple) -> None:
    X, y = data
    mlcli.sklearn.autolog(max_tuning_runs=2, log_models=False)
    try:
        GridSearchCV(LogisticRegression(), {"C": [0.001, 0.1, 1.0, 10.0]}, cv=3).fit(X, y)
    finally:
        mlcli.sklearn.autolog(disable=True)
    runs = by_estimator(store_root)
    ranks = sorted(c.data.metrics["rank_test_score"] for c in runs["LogisticRegression"])
    assert ranks == [1.0, 2.0] or ranks == [1.0, 1.0]
    (parent,) = runs["GridSearchCV"]
    assert [a.path for a in TrackingClient(store_root).list_artifacts(parent.info.run_id)] == [
        "cv_results.csv"
    ]


def test_regressors_get_error_metrics(autolog: None, store_root: Path) -> None:
    X, y = make_regression(n_samples=100, n_features=3, noise=1.0, random_state=0)
    model = LinearRegression().fit(X, y)
    (run,) = runs_in(store_root)
    metrics = run.data.metrics
    mse = float(((model.predict(X) - y) ** 2).mean())
    assert metrics["training_mean_squared_error"] == pytest.approx(mse)
    assert metrics["training_root_mean_squared_error"] == pytest.approx(mse**0.5)
    assert metrics["training_r2_score"] == pytest.approx(model.score(X, y))
    assert metrics["training_score"] == metrics["training_r2_score"]
    assert "training_mean_absolute_error" in metrics
    assert history(store_root, run, "training_r2_score")[0][0] == 0


def test_inside_an_active_run_the_second_model_gets_a_child_run(
    autolog: None, store_root: Path, data: tuple
) -> None:
    X, y = data
    with mlcli.start_run(run_name="mine") as mine:
        mlcli.log_param("C", "user value")
        LogisticRegression(C=2.0).fit(X, y)
        StandardScaler().fit(X)
        assert mlcli.active_run().run_id == mine.run_id  # still the user's, still open
    runs = {r.info.run_name: r for r in runs_in(store_root)}
    assert runs["mine"].data.params["C"] == "user value"  # the user's value was kept
    assert runs["mine"].data.tags["estimator_name"] == "LogisticRegression"
    (child,) = [r for r in runs.values() if r.info.run_name != "mine"]
    assert child.data.tags["estimator_name"] == "StandardScaler"
    assert child.data.tags["mlcli.parentRunId"] == mine.run_id


def test_a_failing_fit_fails_its_run_and_raises(autolog: None, store_root: Path) -> None:
    with pytest.raises(ValueError):
        LogisticRegression().fit(np.zeros((4, 2)), np.zeros(4))  # one class only
    (run,) = runs_in(store_root)
    assert run.info.status == "FAILED"
    assert mlcli.active_run() is None


def test_what_cannot_be_logged_never_breaks_the_fit(
    autolog: None, store_root: Path, data: tuple, caplog: pytest.LogCaptureFixture
) -> None:
    X, y = data
    # skops refuses to store a lambda: the model is not logged, everything else is.
    pipe = Pipeline(
        [("double", FunctionTransformer(lambda v: v * 2)), ("clf", LogisticRegression())]
    )
    with caplog.at_level(logging.WARNING, logger="mlcli"):
        pipe.fit(X, y)
    (run,) = runs_in(store_root)
    assert run.info.status == "FINISHED"
    assert "training_accuracy_score" in run.data.metrics
    assert "the model not logged" in caplog.text
    assert TrackingClient(store_root).list_artifacts(run.info.run_id) == []


def test_disabling_restores_the_original_methods_exactly(store_root: Path) -> None:
    before = {(owner(c, name), name): owner(c, name).__dict__[name] for c, name in PATCHED}
    assert "__init_subclass__" not in BaseEstimator.__dict__
    mlcli.sklearn.autolog()
    try:
        for (cls, name), original in before.items():
            assert cls.__dict__[name] is not original, f"{cls.__name__}.{name} not patched"
        mlcli.sklearn.autolog()  # a second call patches nothing twice
    finally:
        mlcli.sklearn.autolog(disable=True)
    for (cls, name), original in before.items():
        assert cls.__dict__[name] is original
    assert "__init_subclass__" not in BaseEstimator.__dict__
    LogisticRegression().fit(*make_classification(n_samples=50, random_state=0))
    assert runs_in(store_root) == []


def test_mlcli_autolog_turns_on_every_installed_integration(store_root: Path) -> None:
    from importlib.util import find_spec

    from mlcli.autologging import INTEGRATIONS

    installed = [name for name, (library, _) in INTEGRATIONS.items() if find_spec(library)]
    assert installed[0] == "sklearn"  # the flavors' libraries are in the dev extra too
    try:
        assert mlcli.autolog() == installed
        StandardScaler().fit(np.ones((3, 2)))
    finally:
        assert mlcli.autolog(disable=True) == installed
    assert len(runs_in(store_root)) == 1


SCRIPT = """
import mlcli.sklearn
mlcli.sklearn.autolog()  # before scikit-learn's estimators are imported
from sklearn.datasets import make_classification
from sklearn.svm import SVC
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
X, y = make_classification(n_samples=100, n_features=4, random_state=0)
assert hasattr(SVC.fit, "__mlcli_autolog__")  # patched as its module was imported
make_pipeline(StandardScaler(), SVC()).fit(X, y)
mlcli.sklearn.autolog(disable=True)
assert not hasattr(SVC.fit, "__mlcli_autolog__")
SVC().fit(X, y)
print("done")
"""


@pytest.mark.slow
def test_a_script_with_no_mlcli_call_patches_classes_imported_later(
    store_root: Path, tmp_path: Path
) -> None:
    script = tmp_path / "train.py"
    script.write_text(SCRIPT)
    env = {**os.environ, "MLCLI_STORE": str(store_root)}
    result = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, env=env, timeout=120
    )
    assert result.returncode == 0, result.stderr
    (run,) = runs_in(store_root)
    assert run.data.tags["estimator_name"] == "Pipeline"
    assert run.data.params["svc__kernel"] == "rbf"
    assert run.data.tags["mlcli.source.name"] == str(script)


@pytest.mark.slow
def test_under_mlcli_run_the_first_model_logs_to_the_project_run(
    cli, store_root: Path, make_project
) -> None:
    project = make_project(
        {
            "train.py": """
                import mlcli
                mlcli.autolog()
                from sklearn.datasets import make_classification
                from sklearn.linear_model import LogisticRegression
                from sklearn.model_selection import GridSearchCV
                X, y = make_classification(n_samples=100, n_features=4, random_state=0)
                LogisticRegression().fit(X, y)
                GridSearchCV(LogisticRegression(), {"C": [0.1, 1.0]}, cv=2).fit(X, y)
            """
        }
    )
    result = cli("run", str(project), "-e", "train.py", "--env-manager", "local", "-q")
    assert result.exit_code == 0, result.stderr
    project_run = TrackingClient(store_root).get_run(result.stdout.strip())
    assert project_run.data.tags["estimator_name"] == "LogisticRegression"
    assert "training_accuracy_score" in project_run.data.metrics
    runs = by_estimator(store_root)
    (search,) = runs["GridSearchCV"]
    assert search.data.tags["mlcli.parentRunId"] == project_run.info.run_id
    candidates = [r for r in runs["LogisticRegression"] if r.run_id != project_run.run_id]
    assert len(candidates) == 2
