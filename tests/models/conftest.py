"""Fixtures for the models tests: real scikit-learn data sets, an isolated store, a run."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest


@pytest.fixture
def store(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh store, named by MLCLI_STORE."""
    from mlcli.store import Store

    root = workdir / ".mlruns"
    Store.initialize(root)
    monkeypatch.setenv("MLCLI_STORE", str(root))
    return root


@pytest.fixture
def run_id(store: Path) -> Iterator[str]:
    """An active fluent run, ended after the test."""
    import mlcli

    with mlcli.start_run(experiment="models-tests") as run:
        yield run.run_id


@pytest.fixture(scope="session")
def iris() -> tuple[Any, Any]:
    pytest.importorskip("sklearn")
    from sklearn.datasets import load_iris

    features, target = load_iris(return_X_y=True, as_frame=True)
    return features, target


@pytest.fixture(scope="session")
def diabetes() -> tuple[Any, Any]:
    pytest.importorskip("sklearn")
    from sklearn.datasets import load_diabetes

    features, target = load_diabetes(return_X_y=True, as_frame=True)
    return features, target


@pytest.fixture(scope="session")
def iris_classifier(iris: tuple[Any, Any]) -> Any:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    features, target = iris
    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)).fit(features, target)


@pytest.fixture(scope="session")
def diabetes_regressor(diabetes: tuple[Any, Any]) -> Any:
    from sklearn.ensemble import RandomForestRegressor

    features, target = diabetes
    return RandomForestRegressor(n_estimators=10, random_state=0).fit(features, target)
