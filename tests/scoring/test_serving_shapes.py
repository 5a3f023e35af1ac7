"""The shape of ``{"predictions": ...}`` for every kind of model output, against
MLflow's own ``predictions_to_json`` (the oracle), through a real ``mlcli serve`` and
through ``mlcli models predict``."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from servinghelpers import HERE, Server
from servingmodels import SHAPES, ShapesModel, output_of_shape

import mlcli.pyfunc
from mlcli.scoring.protocol import encode_predictions

X = [1.0, 2.0]
BODY = {"dataframe_split": {"columns": ["x"], "data": [[v] for v in X]}}


def mlflow_answer(shape: str) -> object:
    scoring_server = pytest.importorskip("mlflow.pyfunc.scoring_server")
    out = io.StringIO()
    scoring_server.predictions_to_json(output_of_shape(shape, X), out)
    return json.loads(out.getvalue())


@pytest.fixture(scope="module")
def shapes_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("shapes") / "model"
    mlcli.pyfunc.save_model(path, python_model=ShapesModel(), signature=False)
    return path


def test_a_series_answers_records_as_mlflow_does() -> None:
    assert mlflow_answer("named-series") == {"predictions": [{"score": 1}, {"score": 2}]}
    assert json.loads(encode_predictions(output_of_shape("named-series", X))) == {
        "predictions": [{"score": 1}, {"score": 2}]
    }
    assert json.loads(encode_predictions(output_of_shape("series", X))) == {
        "predictions": [{"0": 1.0}, {"0": 2.0}]
    }


@pytest.mark.parametrize("shape", SHAPES)
def test_every_shape_is_mlflows(shape: str) -> None:
    assert json.loads(encode_predictions(output_of_shape(shape, X))) == mlflow_answer(shape)


def test_a_real_server_answers_every_shape_as_mlflow(
    serve: Callable[..., Server], shapes_model: Path
) -> None:
    server = serve("-m", str(shapes_model))
    for shape in SHAPES:
        reply = server.post({**BODY, "params": {"shape": shape}})
        assert reply.status == 200, reply.body
        assert reply.json() == mlflow_answer(shape), shape


def test_version_is_answered_as_mlflow_does(
    serve: Callable[..., Server], shapes_model: Path
) -> None:
    reply = serve("-m", str(shapes_model)).request("GET", "/version")
    assert reply.status == 200
    assert reply.headers["content-type"] == "application/json"
    assert reply.body.decode() == mlcli.__version__


@pytest.mark.parametrize("shape", ["named-series", "frame", "dict"])
def test_models_predict_answers_as_the_server(
    shapes_model: Path, tmp_path: Path, shape: str
) -> None:
    (tmp_path / "in.json").write_text(json.dumps({**BODY, "params": {"shape": shape}}))
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]),
    }
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "mlcli",
            "models",
            "predict",
            "-m",
            str(shapes_model),
            "-i",
            str(tmp_path / "in.json"),
        ],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == mlflow_answer(shape)
