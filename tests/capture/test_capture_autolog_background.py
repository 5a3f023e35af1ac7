"""scikit-learn autologging writes the model on a background thread after ``fit``
returns: the model is in place when its run ends (the user's ``start_run`` block, the
run autologging started, process exit), reads in the same process wait for it, a
failure there is reported at the run's end, and what is logged is the estimator as it
was when ``fit`` returned."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("sklearn")

import numpy as np
from sklearn.datasets import make_classification
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer

import mlcli
import mlcli.sklearn
from mlcli.store.layout import StoreLayout
from mlcli.tracking import TrackingClient


@pytest.fixture
def autolog(store_root: Path) -> Iterator[None]:
    mlcli.sklearn.autolog()
    yield
    mlcli.sklearn.autolog(disable=True)


@pytest.fixture
def data() -> tuple[np.ndarray, np.ndarray]:
    return make_classification(n_samples=300, n_features=6, random_state=0)


def forest() -> RandomForestClassifier:
    return RandomForestClassifier(n_estimators=30, random_state=0)


def model_files(store_root: Path, run_id: str) -> Path:
    """The model's folder read straight from the disk: no read that waits."""
    return StoreLayout(store_root).artifacts_dir(run_id) / "model"


def test_leaving_the_users_run_waits_for_the_model(
    autolog: None, store_root: Path, data: tuple
) -> None:
    X, y = data
    with mlcli.start_run() as run:
        forest().fit(X, y)
    assert (model_files(store_root, run.info.run_id) / "MLmodel").is_file()
    finished = TrackingClient(store_root).get_run(run.info.run_id)
    assert finished.info.status == "FINISHED"
    assert len(finished.data.tags["mlflow.log-model.history"]) > 2


def test_reads_in_the_process_wait_for_the_model(
    autolog: None, store_root: Path, data: tuple
) -> None:
    X, y = data
    with mlcli.start_run() as run:
        fitted = forest().fit(X, y)
        uri = f"runs:/{run.info.run_id}/model"
        assert (mlcli.sklearn.load_model(uri).predict(X) == fitted.predict(X)).all()
        logged = mlcli.last_logged_model()
        assert logged is not None and logged.status == "READY"
    # The run autologging starts itself ends on the thread, after the model.
    other = forest().fit(X, y)
    run_id = mlcli.last_active_run_id()
    assert run_id is not None and run_id != run.info.run_id
    client = TrackingClient(store_root)
    assert [f.path for f in client.list_artifacts(run_id)] == ["model"]
    assert client.get_run(run_id).info.status == "FINISHED"
    last = mlcli.last_logged_model()
    assert last is not None and last.source_run_id == run_id
    loaded = mlcli.sklearn.load_model(f"models:/{last.model_id}")
    assert (loaded.predict(X) == other.predict(X)).all()


def test_the_model_is_the_estimator_as_fit_returned_it(
    autolog: None, store_root: Path, data: tuple
) -> None:
    X, y = data
    X = X.copy()
    with mlcli.start_run() as run:
        classifier = LogisticRegression().fit(X, y)
        coefficients = classifier.coef_.copy()
        accuracy = float((classifier.predict(X) == y).mean())
        # Changed at once, before the thread computes the metrics and writes the model.
        classifier.coef_[:] = 0.0
        X[:] = 0.0
    logged = mlcli.sklearn.load_model(f"runs:/{run.info.run_id}/model")
    assert (logged.coef_ == coefficients).all()
    metrics = TrackingClient(store_root).get_run(run.info.run_id).data.metrics
    assert metrics["training_accuracy_score"] == pytest.approx(accuracy)
    assert accuracy > 0.6  # on the zeroed data it would be about 0.5


def test_a_failure_on_the_thread_is_reported_when_the_run_ends(
    autolog: None, store_root: Path, data: tuple, caplog: pytest.LogCaptureFixture
) -> None:
    X, y = data
    # skops refuses to store a lambda: the thread fails to write the model.
    pipe = Pipeline([("double", FunctionTransformer(lambda v: v * 2)), ("clf", forest())])
    with caplog.at_level(logging.WARNING, logger="mlcli"):
        with mlcli.start_run() as run:
            pipe.fit(X, y)
            mlcli.flush()  # the thread is done; its failure waits for the run's end
            assert "not logged" not in caplog.text
        assert "mlcli: the model not logged: " in caplog.text
    client = TrackingClient(store_root)
    assert client.get_run(run.info.run_id).info.status == "FINISHED"
    assert client.list_artifacts(run.info.run_id) == []
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="mlcli"):
        pipe.fit(X, y)  # in a run of its own: reported as the thread ends that run
        mlcli.flush()
    assert "mlcli: the model not logged: " in caplog.text


SCRIPT = """
import mlcli, mlcli.sklearn
from sklearn.datasets import make_classification
from sklearn.ensemble import RandomForestClassifier
mlcli.sklearn.autolog()
X, y = make_classification(n_samples=300, n_features=6, random_state=0)
RandomForestClassifier(n_estimators=30, random_state=0).fit(X, y)
print(mlcli.last_active_run_id())
"""


@pytest.mark.slow
def test_a_process_that_exits_after_fit_leaves_its_model(store_root: Path, tmp_path: Path) -> None:
    script = tmp_path / "train.py"
    script.write_text(SCRIPT)
    env = {**os.environ, "MLCLI_STORE": str(store_root)}
    result = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, env=env, timeout=120
    )
    assert result.returncode == 0, result.stderr
    run_id = result.stdout.strip()
    assert (model_files(store_root, run_id) / "MLmodel").is_file()
    assert TrackingClient(store_root).get_run(run_id).info.status == "FINISHED"
