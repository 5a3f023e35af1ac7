"""MLflow 3's logged models through ``mlcli server``: mlcli as the client logs a model
(its ModelInfo is ``models:/m-<id>``), and both mlcli and the real ``mlflow`` client load
it back by that URI from the server."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from trackingserver import TrackingServer

import mlcli
import mlcli.models
import mlcli.pyfunc
import mlcli.sklearn

pytest.importorskip("sklearn")
np = pytest.importorskip("numpy")


def test_a_model_logged_through_the_server_loads_by_its_model_id(
    served_store: TrackingServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from sklearn.linear_model import LinearRegression

    monkeypatch.setenv("MLCLI_STORE", served_store.url)
    features = np.arange(10.0).reshape(-1, 1)
    model: Any = LinearRegression().fit(features, features[:, 0] * 2)
    with mlcli.start_run():
        info = mlcli.sklearn.log_model(model, name="model")
    assert info.model_uri == f"models:/{info.model_id}"
    expected = model.predict(features[:3]).tolist()
    assert mlcli.pyfunc.load_model(info.model_uri).predict(features[:3]).tolist() == expected
    assert mlcli.get_logged_model(info.model_id).status == "READY"
    assert mlcli.models.get_model_info(info.model_uri).model_id == info.model_id
    code = (
        "import sys, numpy, mlflow\n"
        "model = mlflow.pyfunc.load_model(sys.argv[1])\n"
        "print(model.predict(numpy.arange(3.0).reshape(-1, 1)).tolist())\n"
    )
    done = subprocess.run(
        [sys.executable, "-W", "ignore", "-c", code, info.model_uri],
        cwd=tmp_path, capture_output=True, text=True, timeout=300,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path),
             "MLFLOW_TRACKING_URI": served_store.url},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == str(expected)
