"""The xgboost flavor and XGBoost autologging, with the real xgboost and (marked
``mlflow``) the real mlflow: each loads the other's models, both serve mlcli's model
over real HTTP with the same answers, and MLflow's own example (iris, ``xgboost.train``
with autolog) made by MLflow loads and serves in mlcli."""

from __future__ import annotations

import importlib
import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import mlcli
import mlcli.pyfunc
import mlcli.xgboost
from mlcli.autologging import INTEGRATIONS
from mlcli.errors import InvalidInputError
from mlcli.models import Model, save_model
from mlcli.models.errors import UntrustedModelError

np = pytest.importorskip("numpy")
xgb = pytest.importorskip("xgboost")

PARAMS = {"objective": "multi:softprob", "num_class": 3, "eval_metric": "mlogloss", "seed": 42}


@pytest.fixture(scope="module")
def split() -> tuple[Any, Any, Any, Any]:
    """MLflow's example's data: iris as arrays, 80/20 with random_state=42."""
    from sklearn.datasets import load_iris
    from sklearn.model_selection import train_test_split

    features, target = load_iris(return_X_y=True)
    return tuple(train_test_split(features, target, test_size=0.2, random_state=42))


@pytest.fixture(scope="module")
def models(iris: tuple[Any, Any]) -> dict[str, Any]:
    features, target = iris
    return {
        "booster": xgb.train(PARAMS, xgb.DMatrix(features, label=target), 5),
        "classifier": xgb.XGBClassifier(n_estimators=5).fit(features, target),
        "regressor": xgb.XGBRegressor(n_estimators=5).fit(features, target.astype(float)),
    }


@pytest.fixture
def autologging() -> Iterator[None]:
    mlcli.xgboost.autolog()
    yield
    mlcli.xgboost.autolog(disable=True)


def _predict(model: Any, data: Any) -> Any:
    return (
        model.predict(xgb.DMatrix(data)) if isinstance(model, xgb.Booster) else model.predict(data)
    )


@pytest.mark.parametrize(
    ("kind", "model_format"),
    [("booster", "ubj"), ("booster", "json"), ("classifier", "ubj"), ("regressor", "json")],
)
def test_a_model_round_trips_as_its_own_class_in_xgboosts_format(
    tmp_path: Path, iris: Any, models: dict[str, Any], kind: str, model_format: str
) -> None:
    features, _ = iris
    model = models[kind]
    path = tmp_path / "m"
    mlcli.xgboost.save_model(model, path, model_format=model_format, input_example=features.head(3))
    flavors = Model.load(path).flavors
    assert flavors["xgboost"] == {
        "code": None,
        "data": f"model.{model_format}",
        "model_class": f"{type(model).__module__}.{type(model).__qualname__}",
        "model_format": model_format,
        "xgb_version": xgb.__version__,
    }
    assert flavors["python_function"]["loader_module"] == "mlflow.xgboost"
    assert flavors["python_function"]["data"] == f"model.{model_format}"
    data = (path / f"model.{model_format}").read_bytes()
    assert data[:1] == b"{"  # JSON or UBJSON, never a pickle
    if model_format == "json":
        assert "learner" in json.loads(data)
    loaded = mlcli.xgboost.load_model(str(path))
    assert type(loaded) is type(model)
    assert np.array_equal(_predict(loaded, features), _predict(model, features))
    pyfunc = mlcli.pyfunc.load_model(str(path))
    assert np.array_equal(np.asarray(pyfunc.predict(features)), _predict(model, features))
    requirements = (path / "requirements.txt").read_text().splitlines()
    pinned = [line for line in requirements if line.startswith("xgboost")]
    assert pinned and pinned[0].endswith(f"=={xgb.__version__}")
    assert any(line.startswith("scikit-learn==") for line in requirements) == (kind != "booster")


def test_the_signature_is_inferred_with_a_tensor_output(
    tmp_path: Path, iris: Any, models: Any
) -> None:
    features, _ = iris
    mlcli.xgboost.save_model(models["booster"], tmp_path / "b", input_example=features.head(3))
    signature = Model.load(tmp_path / "b").signature
    assert signature is not None and signature.inputs is not None and signature.outputs is not None
    assert signature.inputs.input_names() == list(features.columns)
    outputs = signature.outputs.to_dict()
    assert outputs == [{"type": "tensor", "tensor-spec": {"dtype": "float32", "shape": [-1, 3]}}]


def test_logged_models_load_by_uri_and_the_flavor_is_found_from_the_type(
    run_id: str, tmp_path: Path, iris: Any, models: dict[str, Any]
) -> None:
    features, _ = iris
    info = mlcli.xgboost.log_model(models["classifier"], "clf")
    loaded = mlcli.xgboost.load_model(info.model_uri)
    assert isinstance(loaded, xgb.XGBClassifier)
    assert np.array_equal(loaded.predict(features), models["classifier"].predict(features))
    pyfunc = mlcli.pyfunc.load_model(f"runs:/{run_id}/clf")
    assert np.allclose(pyfunc.predict_proba(features), models["classifier"].predict_proba(features))
    assert pyfunc.classes == [0, 1, 2]
    save_model(models["regressor"], tmp_path / "any")  # an XGBRegressor is a sklearn estimator
    assert "xgboost" in Model.load(tmp_path / "any").flavors


def test_models_predict_and_evaluate_take_an_xgboost_model_unchanged(
    run_id: str, cli: Any, iris: Any, models: dict[str, Any]
) -> None:
    features, target = iris
    info = mlcli.xgboost.log_model(models["classifier"], "clf", input_example=features.head(2))
    body = {"dataframe_split": json.loads(features.head(4).to_json(orient="split", index=False))}
    result = cli("models", "predict", "-m", info.model_uri, input=json.dumps(body))
    assert result.exit_code == 0, result.stderr
    expected = models["classifier"].predict(features.head(4)).tolist()
    assert json.loads(result.stdout) == {"predictions": expected}
    frame = features.assign(species=target)
    evaluated = mlcli.evaluate(info.model_uri, frame, "species", model_type="classifier")
    accuracy = float((models["classifier"].predict(features) == target).mean())
    assert evaluated.metrics["accuracy_score"] == pytest.approx(accuracy)
    assert "log_loss" in evaluated.metrics and "roc_auc" in evaluated.metrics


def test_params_reach_the_models_predict(tmp_path: Path, iris: Any, models: Any) -> None:
    features, _ = iris
    mlcli.xgboost.save_model(models["booster"], tmp_path / "b")
    model = mlcli.pyfunc.load_model(str(tmp_path / "b"))
    margins = model.predict(features, params={"output_margin": True})
    expected = models["booster"].predict(xgb.DMatrix(features), output_margin=True)
    assert np.array_equal(margins, expected)
    assert not np.allclose(margins, model.predict(features))


def test_bad_models_and_formats_are_one_line_errors(tmp_path: Path, iris: Any, models: Any) -> None:
    with pytest.raises(
        InvalidInputError, match="unknown model format 'pickle': expected one of ubj, json"
    ):
        mlcli.xgboost.save_model(models["booster"], tmp_path / "a", model_format="pickle")
    with pytest.raises(InvalidInputError, match="cannot save this XGBClassifier"):
        mlcli.xgboost.save_model(xgb.XGBClassifier(), tmp_path / "b")
    from sklearn.linear_model import LinearRegression

    with pytest.raises(InvalidInputError, match="LinearRegression is not an XGBoost model"):
        mlcli.xgboost.save_model(LinearRegression(), tmp_path / "c")
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()
    mlcli.xgboost.save_model(models["booster"], tmp_path / "d")
    (tmp_path / "d" / "model.ubj").write_bytes(b"not a model")
    with pytest.raises(InvalidInputError, match=r"^XGBoost cannot load .*model\.ubj: [^\n]+$"):
        mlcli.xgboost.load_model(str(tmp_path / "d"))


def test_a_model_class_outside_xgboost_is_not_imported_without_the_opt_in(
    tmp_path: Path, models: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "m"
    mlcli.xgboost.save_model(models["booster"], path)
    marker = tmp_path / "imported"
    package = tmp_path / "lib"
    package.mkdir()
    (package / "xgb_lookalike.py").write_text(
        f"import pathlib\npathlib.Path({str(marker)!r}).write_text('ran')\nclass Model:\n    pass\n"
    )
    monkeypatch.syspath_prepend(str(package))
    text = (path / "MLmodel").read_text().replace("xgboost.core.Booster", "xgb_lookalike.Model")
    (path / "MLmodel").write_text(text)
    with pytest.raises(UntrustedModelError, match=r"refusing to import xgb_lookalike\.Model"):
        mlcli.xgboost.load_model(str(path))
    with pytest.raises(UntrustedModelError):
        mlcli.pyfunc.load_model(str(path))
    assert not marker.exists()
    with pytest.raises(
        InvalidInputError, match=r"xgb_lookalike\.Model is not an XGBoost model class"
    ):
        mlcli.xgboost.load_model(str(path), allow_pickle=True)
    text = (path / "MLmodel").read_text().replace("xgb_lookalike.Model", "xgboost.core.DMatrix")
    (path / "MLmodel").write_text(text)
    with pytest.raises(InvalidInputError, match=r"xgboost\.core\.DMatrix is not an XGBoost model"):
        mlcli.xgboost.load_model(str(path))


# --- autologging ---------------------------------------------------------------------


def test_autolog_logs_train_as_mlflow_names_it(store: Path, autologging: None, split: Any) -> None:
    X_train, X_test, y_train, y_test = split
    dtrain, dtest = xgb.DMatrix(X_train, label=y_train), xgb.DMatrix(X_test, label=y_test)
    evals = [(dtrain, "train"), (dtest, "test")]
    with mlcli.start_run() as run:
        booster = xgb.train(
            PARAMS, dtrain, 20, evals=evals, early_stopping_rounds=3, verbose_eval=False
        )
    client = mlcli.MlflowClient()
    data = client.get_run(run.info.run_id).data
    assert data.params == {
        "objective": "multi:softprob",
        "num_class": "3",
        "eval_metric": "mlogloss",
        "seed": "42",
        "num_boost_round": "20",
        "early_stopping_rounds": "3",
        "verbose_eval": "False",
        "maximize": "None",
        "custom_metric": "None",
    }
    history = client.get_metric_history(run.info.run_id, "test-mlogloss")
    iterations = booster.num_boosted_rounds()
    assert [m.step for m in history] == [*range(iterations), iterations]
    assert history[booster.best_iteration].value == history[-1].value
    assert data.metrics["best_iteration"] == booster.best_iteration
    assert data.metrics["stopped_iteration"] == iterations - 1
    importance = client.download_artifacts(run.info.run_id, "feature_importance_weight.json")
    assert json.loads(Path(importance).read_text()) == booster.get_score(importance_type="weight")
    plot = client.download_artifacts(run.info.run_id, "feature_importance_weight.png")
    assert Path(plot).read_bytes().startswith(b"\x89PNG")
    logged = mlcli.xgboost.load_model(f"runs:/{run.info.run_id}/model")
    assert isinstance(logged, xgb.Booster)
    assert np.array_equal(logged.predict(dtest), booster.predict(dtest))
    signature = Model.load(Path(client.download_artifacts(run.info.run_id, "model"))).signature
    assert signature is not None and signature.inputs is not None and signature.inputs.is_tensor


def test_autolog_logs_a_scikit_learn_api_fit_with_its_own_class(
    store: Path, autologging: None, split: Any
) -> None:
    X_train, X_test, y_train, y_test = split
    classifier = xgb.XGBClassifier(n_estimators=5, max_depth=3)
    classifier.fit(X_train, y_train, eval_set=[(X_test, y_test)], verbose=False)
    run = mlcli.last_active_run()
    assert run is not None and run.info.status == "FINISHED"
    assert run.data.params["max_depth"] == "3" and run.data.params["num_boost_round"] == "5"
    assert run.data.tags["mlcli.autologging"] == "xgboost"
    history = mlcli.MlflowClient().get_metric_history(run.info.run_id, "validation_0-mlogloss")
    assert [m.step for m in history] == list(range(5))
    loaded = mlcli.xgboost.load_model(f"runs:/{run.info.run_id}/model")
    assert type(loaded) is xgb.XGBClassifier
    assert np.array_equal(loaded.predict(X_test), classifier.predict(X_test))
    assert "feature_importance_weight.json" in {
        a.path for a in mlcli.MlflowClient().list_artifacts(run.info.run_id)
    }


def test_autolog_logs_the_model_as_it_was_when_training_ended(
    store: Path, autologging: None, split: Any
) -> None:
    X_train, X_test, y_train, _ = split
    classifier = xgb.XGBClassifier(n_estimators=4).fit(X_train, y_train)
    logged_run = mlcli.last_active_run()
    expected = classifier.predict_proba(X_test)
    mlcli.xgboost.autolog(disable=True)
    classifier.set_params(n_estimators=1).fit(X_train, y_train)  # at once, not logged
    assert logged_run is not None
    logged = mlcli.xgboost.load_model(f"runs:/{logged_run.info.run_id}/model")
    assert logged.get_booster().num_boosted_rounds() == 4
    assert np.array_equal(logged.predict_proba(X_test), expected)


def test_an_xgboost_model_inside_an_autologged_pipeline_is_the_pipelines(
    store: Path, autologging: None, split: Any
) -> None:
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    import mlcli.sklearn

    X_train, _, y_train, _ = split
    mlcli.sklearn.autolog(log_models=False)
    try:
        make_pipeline(StandardScaler(), xgb.XGBClassifier(n_estimators=3)).fit(X_train, y_train)
    finally:
        mlcli.sklearn.autolog(disable=True)
    runs = mlcli.search_runs(output_format="list")
    assert [r.data.tags["mlcli.autologging"] for r in runs] == ["sklearn"]
    assert "num_boost_round" not in runs[0].data.params


def test_autolog_disable_restores_xgboost_and_a_failing_step_never_fails_training(
    store: Path, split: Any, caplog: pytest.LogCaptureFixture
) -> None:
    X_train, _, y_train, _ = split
    train, fit, init = xgb.train, xgb.XGBClassifier.fit, xgb.DMatrix.__init__
    mlcli.xgboost.autolog(importance_types=["no-such-type"], log_models=False)
    assert xgb.train is not train and xgb.sklearn.train is xgb.train
    try:
        booster = xgb.train(PARAMS, xgb.DMatrix(X_train, label=y_train), 2)
    finally:
        mlcli.xgboost.autolog(disable=True)
    assert booster.num_boosted_rounds() == 2
    assert "feature importance not logged" in caplog.text
    assert (xgb.train, xgb.XGBClassifier.fit, xgb.DMatrix.__init__) == (train, fit, init)
    assert xgb.training.train is train and xgb.sklearn.train is train
    assert INTEGRATIONS["xgboost"] == ("xgboost", "mlcli.autologging.xgboost")
    integration = importlib.import_module(INTEGRATIONS["xgboost"][1])
    options = {"log_models": True, "log_input_examples": False, "max_tuning_runs": 5}
    integration.autolog(**options, disable=False)  # as mlcli.autolog() calls it
    assert xgb.train is not train
    integration.autolog(**options, disable=True)
    assert xgb.train is train


# --- the real mlflow -----------------------------------------------------------------

MLFLOW_EXAMPLE = """
import json, sys, warnings
warnings.simplefilter("ignore")
import mlflow, mlflow.xgboost, xgboost as xgb
from sklearn.datasets import load_iris
from sklearn.model_selection import train_test_split

X, y = load_iris(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, random_state=42)
mlflow.xgboost.autolog()
dtrain, dtest = xgb.DMatrix(X_train, label=y_train), xgb.DMatrix(X_test, label=y_test)
with mlflow.start_run() as run:
    params = json.loads(sys.argv[1])
    model = xgb.train(params, dtrain, evals=[(dtrain, "train")])
    mlflow.log_metrics({"accuracy": float((model.predict(dtest).argmax(axis=1) == y_test).mean())})
data = mlflow.get_run(run.info.run_id).data
client = mlflow.MlflowClient()
print(json.dumps({
    "params": data.params,
    "metrics": sorted(data.metrics),
    # a set: MLflow's file store gives the first point twice (once for the logged model)
    "steps": sorted({m.step for m in client.get_metric_history(run.info.run_id, "train-mlogloss")}),
    "artifacts": sorted(a.path for a in client.list_artifacts(run.info.run_id)),
    "model": mlflow.last_logged_model().artifact_location,
    "predictions": model.predict(dtest).tolist(),
}))
with mlflow.start_run() as run:
    classifier = xgb.XGBClassifier(n_estimators=5, max_depth=3)
    classifier.fit(X_train, y_train, eval_set=[(X_test, y_test)], verbose=False)
data = mlflow.get_run(run.info.run_id).data
print(json.dumps({
    "params": data.params,
    "metrics": sorted(data.metrics),
    "artifacts": sorted(a.path for a in client.list_artifacts(run.info.run_id)),
}))
"""


def _mlflow_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLCLI_STORE", "MLFLOW_"))}
    env.update(
        MLFLOW_TRACKING_URI=(tmp_path / "mlflow-store").as_uri(),
        MLFLOW_ALLOW_FILE_STORE="true",
        PYTHONWARNINGS="ignore",
    )
    return env


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _post(url: str, body: dict[str, Any]) -> Any:
    request = urllib.request.Request(
        f"{url}/invocations", json.dumps(body).encode(), {"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read())["predictions"]


def _serve(
    command: list[str], log: Path, env: dict[str, str], port: int | None
) -> tuple[subprocess.Popen[bytes], str]:
    """Start a scoring server; its URL once /ping answers."""
    with log.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env)
    deadline = time.monotonic() + 120
    url = f"http://127.0.0.1:{port}" if port else ""
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"{command[:4]} exited:\n{log.read_text()}")
        if not url and (found := re.search(r"on (http://[\d.]+:\d+) with", log.read_text())):
            url = found[1]
        if url:
            try:
                with urllib.request.urlopen(f"{url}/ping", timeout=5) as reply:
                    if reply.status == 200:
                        return process, url
            except OSError:
                pass
        time.sleep(0.2)
    process.terminate()
    raise AssertionError(f"{command[:4]} not ready:\n{log.read_text()}")


def _mlcli_serve(model: Path, tmp_path: Path) -> tuple[subprocess.Popen[bytes], str]:
    env = {k: v for k, v in os.environ.items() if k != "MLCLI_STORE"}
    command = [sys.executable, "-m", "mlcli", "serve", "-m", str(model), "--port", "0"]
    return _serve(command, tmp_path / "mlcli-serve.log", env, None)


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@pytest.fixture(scope="module")
def mlflow_xgboost() -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pytest.importorskip("mlflow")
        import mlflow.xgboost

    return mlflow.xgboost


@pytest.mark.mlflow
@pytest.mark.filterwarnings("ignore")
@pytest.mark.parametrize("kind", ["booster", "classifier"])
def test_mlflow_and_mlcli_load_each_others_models(
    tmp_path: Path, iris: Any, models: dict[str, Any], mlflow_xgboost: Any, kind: str
) -> None:
    features, _ = iris
    model = models[kind]
    mlcli.xgboost.save_model(model, tmp_path / "by-mlcli", model_format="json")
    by_mlflow = mlflow_xgboost.load_model(str(tmp_path / "by-mlcli"))
    assert type(by_mlflow) is type(model)
    assert np.array_equal(_predict(by_mlflow, features), _predict(model, features))
    import mlflow.pyfunc

    mlflow_pyfunc = mlflow.pyfunc.load_model(str(tmp_path / "by-mlcli"))
    assert np.array_equal(np.asarray(mlflow_pyfunc.predict(features)), _predict(model, features))
    mlflow_xgboost.save_model(model, str(tmp_path / "by-mlflow"), input_example=features.head(3))
    ours = Model.load(tmp_path / "by-mlcli").flavors["xgboost"]
    assert Model.load(tmp_path / "by-mlflow").flavors["xgboost"] == {
        **ours,
        "data": "model.ubj",
        "model_format": "ubj",
    }
    loaded = mlcli.xgboost.load_model(str(tmp_path / "by-mlflow"))
    assert type(loaded) is type(model)
    pyfunc = mlcli.pyfunc.load_model(str(tmp_path / "by-mlflow"))
    assert np.array_equal(np.asarray(pyfunc.predict(features)), _predict(model, features))


@pytest.mark.mlflow
@pytest.mark.slow
@pytest.mark.filterwarnings("ignore")
def test_mlcli_serve_and_mlflow_models_serve_answer_alike(
    tmp_path: Path, iris: Any, models: dict[str, Any], mlflow_xgboost: Any
) -> None:
    features, _ = iris
    path = tmp_path / "model"
    mlcli.xgboost.save_model(models["classifier"], path, input_example=features.head(3))
    body = {"dataframe_split": json.loads(features.head(10).to_json(orient="split", index=False))}
    port = _free_port()
    mlflow_command = [
        sys.executable, "-m", "mlflow", "models", "serve", "-m", str(path),
        "--env-manager", "local", "-h", "127.0.0.1", "-p", str(port),
    ]  # fmt: skip
    served = [
        _mlcli_serve(path, tmp_path),
        _serve(mlflow_command, tmp_path / "mlflow.log", _mlflow_env(tmp_path), port),
    ]
    try:
        answers = [_post(url, body) for _, url in served]
    finally:
        for process, _ in served:
            _stop(process)
    expected = models["classifier"].predict(features.head(10)).tolist()
    assert answers[0] == answers[1] == expected


@pytest.mark.mlflow
@pytest.mark.slow
def test_mlflows_xgboost_example_model_loads_and_serves_in_mlcli(
    tmp_path: Path, store: Path, split: Any, mlflow_xgboost: Any
) -> None:
    """MLflow's examples/xgboost/xgboost_native (iris, xgboost.train under
    mlflow.xgboost.autolog), trained by the real mlflow; then the same training under
    mlcli's autolog logs the same params, metric names and artifacts."""
    X_train, X_test, y_train, y_test = split
    params = {**PARAMS, "learning_rate": 0.3, "colsample_bytree": 1.0, "subsample": 1.0}
    script = tmp_path / "train.py"
    script.write_text(MLFLOW_EXAMPLE)
    done = subprocess.run(
        [sys.executable, str(script), json.dumps(params)],
        capture_output=True, text=True, env=_mlflow_env(tmp_path), timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    by_mlflow, sklearn_api = map(json.loads, done.stdout.strip().splitlines()[-2:])
    model_dir = Path(by_mlflow["model"].removeprefix("file://"))
    assert Model.load(model_dir).flavors["xgboost"]["model_class"] == "xgboost.core.Booster"
    booster = mlcli.xgboost.load_model(str(model_dir))
    assert np.allclose(booster.predict(xgb.DMatrix(X_test)), by_mlflow["predictions"])
    pyfunc = mlcli.pyfunc.load_model(str(model_dir))
    assert np.allclose(pyfunc.predict(X_test), by_mlflow["predictions"])
    process, url = _mlcli_serve(model_dir, tmp_path)
    try:
        served = _post(url, {"inputs": X_test.tolist()})
    finally:
        _stop(process)
    assert np.allclose(served, by_mlflow["predictions"])

    mlcli.xgboost.autolog()
    try:
        dtrain = xgb.DMatrix(X_train, label=y_train)
        with mlcli.start_run() as run:
            xgb.train(params, dtrain, evals=[(dtrain, "train")], verbose_eval=False)
    finally:
        mlcli.xgboost.autolog(disable=True)
    client = mlcli.MlflowClient()
    data = client.get_run(run.info.run_id).data
    assert {k: v for k, v in data.params.items() if k != "verbose_eval"} == {
        k: v for k, v in by_mlflow["params"].items() if k != "verbose_eval"
    }
    assert sorted([*data.metrics, "accuracy"]) == by_mlflow["metrics"]
    history = client.get_metric_history(run.info.run_id, "train-mlogloss")
    assert [m.step for m in history] == by_mlflow["steps"]
    ours = {a.path for a in client.list_artifacts(run.info.run_id)}
    # MLflow 3 keeps the model out of the run's artifacts (a logged model); mlcli keeps it
    # at runs:/<id>/model as well
    assert ours - {"model"} == set(by_mlflow["artifacts"])

    mlcli.xgboost.autolog()  # the scikit-learn API: the same names again
    try:
        with mlcli.start_run() as run:
            classifier = xgb.XGBClassifier(n_estimators=5, max_depth=3)
            classifier.fit(X_train, y_train, eval_set=[(X_test, y_test)], verbose=False)
    finally:
        mlcli.xgboost.autolog(disable=True)
    data = client.get_run(run.info.run_id).data
    assert data.params == sklearn_api["params"]
    assert sorted(data.metrics) == sklearn_api["metrics"]
    ours = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert ours - {"model"} == set(sklearn_api["artifacts"])
