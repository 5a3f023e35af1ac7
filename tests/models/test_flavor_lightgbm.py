"""The lightgbm flavor: Boosters and the scikit-learn API saved as MLflow 3.18 saves them
(the real mlflow and mlcli each loading the other's), served by ``mlcli serve`` and
``mlflow models serve``, and trained under autologging, compared with what
``mlflow.lightgbm.autolog`` logs for the same training (MLflow's lightgbm_native example,
run by the real mlflow in a subprocess).
"""

from __future__ import annotations

import http.client
import io
import json
import os
import socket
import subprocess
import sys
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import mlcli
import mlcli.lightgbm
import mlcli.pyfunc
import mlcli.sklearn
from mlcli.errors import InvalidInputError
from mlcli.models.errors import UntrustedModelError
from mlcli.models.mlmodel import Model

pytestmark = [pytest.mark.mlflow, pytest.mark.filterwarnings("ignore")]

np = pytest.importorskip("numpy")
pd = pytest.importorskip("pandas")
pytest.importorskip("lightgbm")
import lightgbm as lgb  # noqa: E402

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    pytest.importorskip("mlflow")
    import mlflow
    import mlflow.lightgbm
    import mlflow.pyfunc

# given to MLflow's save_model, which otherwise infers them in a subprocess (slow)
PINS = [f"lightgbm=={lgb.__version__}"]


class SubclassedClassifier(lgb.LGBMClassifier):
    """A class of the user's: skops stores it only when it is trusted by name."""


def iris_split() -> tuple[Any, Any, Any, Any]:
    from sklearn.datasets import load_iris
    from sklearn.model_selection import train_test_split

    features, target = load_iris(return_X_y=True, as_frame=True)
    return train_test_split(features, target, test_size=0.2, random_state=42)


@pytest.fixture(scope="module")
def data() -> tuple[Any, Any, Any, Any]:
    return iris_split()


@pytest.fixture(scope="module")
def booster(data: Any) -> Any:
    x_train, _, y_train, _ = data
    params = {"objective": "multiclass", "num_class": 3, "verbose": -1, "seed": 1}
    return lgb.train(params, lgb.Dataset(x_train, y_train), num_boost_round=8)


@pytest.fixture(scope="module")
def classifier(data: Any) -> Any:
    x_train, _, y_train, _ = data
    return lgb.LGBMClassifier(n_estimators=8, verbose=-1).fit(x_train, y_train)


@pytest.fixture(scope="module")
def regressor(data: Any) -> Any:
    x_train, _, _, _ = data  # petal width from the other three measures
    target = x_train["petal width (cm)"]
    return lgb.LGBMRegressor(n_estimators=8, verbose=-1).fit(x_train.iloc[:, :3], target)


@pytest.fixture(autouse=True)
def _mlflow_environment(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for variable in ("MLFLOW_ALLOW_MODEL_CODE_EXECUTION", "MLFLOW_ALLOW_PICKLE_DESERIALIZATION"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.delenv("MLCLI_ALLOW_PICKLE", raising=False)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", (workdir / "mlflow-tracking").as_uri())
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")


def section(model_dir: Path) -> dict[str, Any]:
    conf = dict(Model.load(model_dir).flavors["lightgbm"])
    conf["skops_trusted_types"] = sorted(conf["skops_trusted_types"] or [])
    return conf


# --- saving and loading ------------------------------------------------------------------


def test_a_booster_is_saved_as_lightgbm_text_and_loads_as_a_booster(
    booster: Any, data: Any, tmp_path: Path
) -> None:
    _, x_test, _, _ = data
    mlcli.lightgbm.save_model(booster, tmp_path / "m", input_example=x_test.head(3))
    assert (tmp_path / "m" / "model.lgb").read_text() == booster.model_to_string()
    loaded = mlcli.lightgbm.load_model(str(tmp_path / "m"))
    assert type(loaded) is lgb.Booster
    assert np.array_equal(loaded.predict(x_test), booster.predict(x_test))
    pyfunc = mlcli.pyfunc.load_model(str(tmp_path / "m"))
    assert np.array_equal(pyfunc.predict(x_test), booster.predict(x_test))
    outputs = Model.load(tmp_path / "m").signature.outputs.to_dict()  # type: ignore[union-attr]
    assert outputs == [{"type": "tensor", "tensor-spec": {"dtype": "float64", "shape": [-1, 3]}}]
    requirements = (tmp_path / "m" / "requirements.txt").read_text().split()
    assert f"lightgbm=={lgb.__version__}" in requirements
    assert not any(r.startswith(("skops", "cloudpickle")) for r in requirements)


@pytest.mark.parametrize("fixture", ["classifier", "regressor"])
def test_an_estimator_is_saved_with_skops_and_loads_as_its_class(
    fixture: str, data: Any, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    estimator = request.getfixturevalue(fixture)
    _, x_test, _, _ = data
    x = x_test.iloc[:, : estimator.n_features_in_]
    mlcli.lightgbm.save_model(estimator, tmp_path / "m", input_example=x.head(3))
    assert sorted(p.name for p in (tmp_path / "m").glob("model.*")) == ["model.skops"]
    loaded = mlcli.lightgbm.load_model(str(tmp_path / "m"))
    assert type(loaded) is type(estimator)
    assert np.array_equal(loaded.predict(x), estimator.predict(x))
    pyfunc = mlcli.pyfunc.load_model(str(tmp_path / "m"))
    assert np.array_equal(np.asarray(pyfunc.predict(x)), estimator.predict(x))
    assert section(tmp_path / "m")["model_class"] == (
        f"lightgbm.sklearn.{type(estimator).__name__}"
    )


def test_a_classifier_gives_classes_and_probabilities_for_evaluation(
    classifier: Any, data: Any, tmp_path: Path
) -> None:
    _, x_test, _, _ = data
    mlcli.lightgbm.save_model(classifier, tmp_path / "m")
    pyfunc = mlcli.pyfunc.load_model(str(tmp_path / "m"))
    assert pyfunc.classes == [0, 1, 2]
    assert np.allclose(pyfunc.predict_proba(x_test), classifier.predict_proba(x_test))
    assert isinstance(pyfunc.get_raw_model(), lgb.LGBMClassifier)


@pytest.mark.parametrize("fixture", ["booster", "classifier"])
def test_the_mlmodel_section_is_mlflows(
    fixture: str, data: Any, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    model = request.getfixturevalue(fixture)
    _, x_test, _, _ = data
    mlcli.lightgbm.save_model(model, tmp_path / "ours", input_example=x_test.head(3))
    mlflow.lightgbm.save_model(
        model, str(tmp_path / "theirs"), input_example=x_test.head(3), pip_requirements=PINS
    )
    assert section(tmp_path / "ours") == section(tmp_path / "theirs")
    ours, theirs = (Model.load(tmp_path / name) for name in ("ours", "theirs"))
    assert ours.pyfunc_conf["loader_module"] == theirs.pyfunc_conf["loader_module"]  # type: ignore[index]
    assert ours.pyfunc_conf["data"] == theirs.pyfunc_conf["data"]  # type: ignore[index]
    assert ours.signature == theirs.signature


@pytest.mark.parametrize("fixture", ["booster", "classifier"])
def test_mlflow_loads_mlclis_models(
    fixture: str, data: Any, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    model = request.getfixturevalue(fixture)
    _, x_test, _, _ = data
    mlcli.lightgbm.save_model(model, tmp_path / "m", input_example=x_test.head(3))
    native = mlflow.lightgbm.load_model(str(tmp_path / "m"))
    assert type(native) is type(model)
    pyfunc = mlflow.pyfunc.load_model(str(tmp_path / "m"))
    assert np.array_equal(np.asarray(pyfunc.predict(x_test)), model.predict(x_test))


@pytest.mark.parametrize("fixture", ["booster", "classifier"])
def test_mlcli_loads_mlflows_models_without_an_opt_in(
    fixture: str, data: Any, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    model = request.getfixturevalue(fixture)
    _, x_test, _, _ = data
    mlflow.lightgbm.save_model(
        model, str(tmp_path / "m"), input_example=x_test.head(3), pip_requirements=PINS
    )
    native = mlcli.lightgbm.load_model(str(tmp_path / "m"))
    assert type(native) is type(model)
    assert np.array_equal(native.predict(x_test), model.predict(x_test))
    pyfunc = mlcli.pyfunc.load_model(str(tmp_path / "m"))
    assert np.array_equal(np.asarray(pyfunc.predict(x_test)), model.predict(x_test))


def test_mlflows_cloudpickled_estimator_loads_only_with_the_opt_in(
    classifier: Any, data: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, x_test, _, _ = data
    mlflow.lightgbm.save_model(
        classifier, str(tmp_path / "m"), serialization_format="cloudpickle", pip_requirements=PINS
    )
    with pytest.raises(UntrustedModelError, match="allow-pickle"):
        mlcli.lightgbm.load_model(str(tmp_path / "m"))
    with pytest.raises(UntrustedModelError):
        mlcli.pyfunc.load_model(str(tmp_path / "m"))
    loaded = mlcli.lightgbm.load_model(str(tmp_path / "m"), allow_pickle=True)
    assert np.array_equal(loaded.predict(x_test), classifier.predict(x_test))


def test_mlcli_pickles_only_when_asked_and_trusts_what_it_wrote(
    classifier: Any, data: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, x_test, _, _ = data
    mlcli.lightgbm.save_model(classifier, tmp_path / "m", serialization_format="cloudpickle")
    assert section(tmp_path / "m")["serialization_format"] == "cloudpickle"
    assert "cloudpickle" in (tmp_path / "m" / "requirements.txt").read_text()
    loaded = mlcli.lightgbm.load_model(str(tmp_path / "m"))  # recorded when written
    assert np.array_equal(loaded.predict(x_test), classifier.predict(x_test))
    monkeypatch.setenv("MLCLI_DATA_DIR", str(tmp_path / "someone-else"))
    with pytest.raises(UntrustedModelError):
        mlcli.lightgbm.load_model(str(tmp_path / "m"))


def test_a_class_of_the_users_needs_naming_in_skops_trusted_types(
    data: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    x_train, x_test, y_train, _ = data
    model = SubclassedClassifier(n_estimators=3, verbose=-1).fit(x_train, y_train)
    name = f"{__name__}.SubclassedClassifier"
    with pytest.raises(InvalidInputError, match="skops_trusted_types"):
        mlcli.lightgbm.save_model(model, tmp_path / "refused")
    assert not (tmp_path / "refused").exists()
    mlcli.lightgbm.save_model(model, tmp_path / "m", skops_trusted_types=[name])
    assert name in section(tmp_path / "m")["skops_trusted_types"]
    monkeypatch.setenv("MLCLI_DATA_DIR", str(tmp_path / "someone-else"))  # not our file
    with pytest.raises(UntrustedModelError, match="SubclassedClassifier"):
        mlcli.lightgbm.load_model(str(tmp_path / "m"))
    loaded = mlcli.lightgbm.load_model(str(tmp_path / "m"), skops_trusted_types=[name])
    assert type(loaded) is SubclassedClassifier
    assert np.array_equal(loaded.predict(x_test), model.predict(x_test))


def test_bad_input_is_one_clear_error(booster: Any, tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="serialization format 'json'"):
        mlcli.lightgbm.save_model(booster, tmp_path / "a", serialization_format="json")
    with pytest.raises(InvalidInputError, match=r"lightgbm\.Booster or a LightGBM"):
        mlcli.lightgbm.save_model(object(), tmp_path / "b")
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()
    mlcli.lightgbm.save_model(booster, tmp_path / "c")
    (tmp_path / "c" / "model.lgb").write_text("not a model\n")
    with pytest.raises(InvalidInputError, match="cannot read the LightGBM model"):
        mlcli.lightgbm.load_model(str(tmp_path / "c"))


def test_log_model_and_the_flavor_found_from_the_model(
    store: Path, classifier: Any, booster: Any, data: Any
) -> None:
    _, x_test, _, _ = data
    with mlcli.start_run() as run:
        info = mlcli.lightgbm.log_model(booster, name="booster")
        found = mlcli.log_model(classifier, name="estimator")
    assert info.run_id == run.run_id and "lightgbm" in info.flavors
    assert "lightgbm" in found.flavors and "sklearn" not in found.flavors
    assert type(mlcli.lightgbm.load_model(info.model_uri)) is lgb.Booster
    loaded = mlcli.lightgbm.load_model(f"runs:/{run.run_id}/estimator")
    assert np.array_equal(loaded.predict(x_test), classifier.predict(x_test))


def test_models_predict_and_evaluate_take_a_lightgbm_model_unchanged(
    run_id: str, cli: Any, classifier: Any, data: Any
) -> None:
    _, x_test, _, y_test = data
    info = mlcli.lightgbm.log_model(classifier, "clf", input_example=x_test.head(2))
    body = {"dataframe_split": json.loads(x_test.head(4).to_json(orient="split", index=False))}
    result = cli("models", "predict", "-m", info.model_uri, input=json.dumps(body))
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout) == {"predictions": classifier.predict(x_test.head(4)).tolist()}
    frame = x_test.assign(species=y_test)
    evaluated = mlcli.evaluate(info.model_uri, frame, "species", model_type="classifier")
    accuracy = float((classifier.predict(x_test) == y_test).mean())
    assert evaluated.metrics["accuracy_score"] == pytest.approx(accuracy)
    assert "log_loss" in evaluated.metrics and "roc_auc" in evaluated.metrics


# --- serving -----------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def post(port: int, body: dict[str, Any]) -> tuple[int, Any]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        headers = {"Content-Type": "application/json"}
        connection.request("POST", "/invocations", json.dumps(body), headers)
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


def wait_for(process: subprocess.Popen[bytes], port: int, log: Path) -> None:
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        assert process.poll() is None, log.read_text(errors="replace")[-3000:]
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            connection.request("GET", "/ping")
            if connection.getresponse().status == 200:
                return
        except OSError:
            time.sleep(0.2)
    raise AssertionError(f"no server on {port}: {log.read_text(errors='replace')[-3000:]}")


@pytest.fixture
def servers() -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for process in started:
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def start(argv: list[str], log: Path, started: list[Any], **env: str) -> Any:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("MLCLI_STORE")}
    environ.update(env)
    with log.open("wb") as out:
        process = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=environ)
    started.append(process)
    return process


def serve_both(model: Path, tmp_path: Path, started: list[Any]) -> list[tuple[Any, int, Path]]:
    """``mlcli serve`` and ``mlflow models serve --env-manager local`` of ``model``:
    (process, port, log) of each, started together (waited for by the caller)."""
    servers = []
    port, log = free_port(), tmp_path / f"{model.name}-mlcli.log"
    argv = [sys.executable, "-m", "mlcli", "serve", "-m", str(model), "--port", str(port)]
    servers.append((start(argv, log, started), port, log))
    port, log = free_port(), tmp_path / f"{model.name}-mlflow.log"
    argv = [sys.executable, "-m", "mlflow", "models", "serve", "-m", str(model)]
    argv += ["--env-manager", "local", "-h", "127.0.0.1", "-p", str(port)]
    servers.append((start(argv, log, started), port, log))
    return servers


@pytest.mark.slow
def test_mlcli_serve_and_mlflow_models_serve_answer_the_same(
    booster: Any, classifier: Any, data: Any, tmp_path: Path, servers: list[Any]
) -> None:
    _, x_test, _, _ = data
    models = {"booster": booster, "classifier": classifier}
    running = {}
    for name, model in models.items():
        mlcli.lightgbm.save_model(model, tmp_path / name, input_example=x_test.head(3))
        running[name] = serve_both(tmp_path / name, tmp_path, servers)
    body = {"dataframe_split": json.loads(x_test.head(6).to_json(orient="split", index=False))}
    for name, model in models.items():
        for process, port, log in running[name]:
            wait_for(process, port, log)
        answers = [post(port, body) for _, port, _ in running[name]]
        assert answers[0] == answers[1]
        assert answers[0][0] == 200
        expected = model.predict(x_test.head(6))
        assert np.allclose(np.asarray(answers[0][1]["predictions"]), expected)


# --- autologging, and MLflow's lightgbm_native example -----------------------------------

# The training of MLflow's examples/lightgbm/lightgbm_native (iris, lightgbm.train under
# autolog, the test set's log loss and accuracy logged by hand), written for these tests;
# TRACKING is "mlflow" or "mlcli".
NATIVE_EXAMPLE = """
import json, sys, warnings
warnings.simplefilter("ignore")
import lightgbm as lgb
from sklearn.datasets import load_iris
from sklearn.metrics import accuracy_score, log_loss
from sklearn.model_selection import train_test_split
import {tracking} as tracking
import {tracking}.lightgbm

features, target = load_iris(return_X_y=True, as_frame=True)
x_train, x_test, y_train, y_test = train_test_split(
    features, target, test_size=0.2, random_state=42
)
tracking.lightgbm.autolog()
train_set = lgb.Dataset(x_train, label=y_train)
params = {{
    "objective": "multiclass", "num_class": 3, "learning_rate": 0.1,
    "metric": "multi_logloss", "colsample_bytree": 1.0, "subsample": 1.0, "seed": 42,
    "verbose": -1, "num_threads": 1,
}}
with tracking.start_run() as run:
    model = lgb.train(
        params, train_set, num_boost_round=10, valid_sets=[train_set], valid_names=["train"]
    )
    probabilities = model.predict(x_test)
    tracking.log_metrics({{
        "log_loss": log_loss(y_test, probabilities),
        "accuracy": accuracy_score(y_test, probabilities.argmax(axis=1)),
    }})
json.dump({{"run_id": run.info.run_id, "test": x_test.to_json(orient="split")}}, sys.stdout)
"""


def _ambient() -> dict[str, str]:
    """This process's environment without mlcli's and MLflow's settings: a module
    fixture runs before the tests' isolation, and an earlier test's
    ``mlflow.set_experiment`` may have left MLFLOW_EXPERIMENT_ID behind."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("MLCLI_", "MLFLOW_"))}


def run_example(tracking: str, cwd: Path, **env: str) -> dict[str, Any]:
    script = cwd / f"train_{tracking}.py"
    script.write_text(NATIVE_EXAMPLE.format(tracking=tracking))
    environ = {**_ambient(), **env}
    done = subprocess.run(
        [sys.executable, str(script)], cwd=cwd, env=environ, capture_output=True, text=True,
        timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.splitlines()[-1])


@pytest.fixture(scope="module")
def mlflow_example(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The real mlflow running the example: its run (params, metrics, artifacts), the
    model it logged (downloaded) and that model's predictions in MLflow."""
    cwd = tmp_path_factory.mktemp("mlflow-example")
    env = {"MLFLOW_TRACKING_URI": (cwd / "mlruns").as_uri(), "MLFLOW_ALLOW_FILE_STORE": "true"}
    result = run_example("mlflow", cwd, **env)
    fetch = f"""
import json, sys, warnings
warnings.simplefilter("ignore")
import mlflow, pandas as pd
from io import StringIO
client = mlflow.MlflowClient()
run = client.get_run("{result["run_id"]}")
model = mlflow.last_logged_model() or client.search_logged_models([run.info.experiment_id])[0]
path = mlflow.artifacts.download_artifacts(model.model_uri, dst_path="{cwd / "model"}")
test = pd.read_json(StringIO(sys.stdin.read()), orient="split")
history = client.get_metric_history(run.info.run_id, "train-multi_logloss")
json.dump({{
    "params": run.data.params,
    "metrics": run.data.metrics,
    "history": [[m.step, m.value] for m in history],
    "artifacts": sorted(a.path for a in client.list_artifacts(run.info.run_id)),
    "importance": json.loads(open(client.download_artifacts(
        run.info.run_id, "feature_importance_gain.json", "{cwd}")).read()),
    "predictions": mlflow.pyfunc.load_model(path).predict(test).tolist(),
}}, sys.stdout)
"""
    done = subprocess.run(
        [sys.executable, "-c", fetch], cwd=cwd, env={**_ambient(), **env}, input=result["test"],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    logged = json.loads(done.stdout.splitlines()[-1])
    logged["model"] = cwd / "model"
    logged["test"] = pd.read_json(io.StringIO(result["test"]), orient="split")
    return logged


def test_mlflows_example_model_loads_and_predicts_in_mlcli(mlflow_example: dict[str, Any]) -> None:
    model, test = mlflow_example["model"], mlflow_example["test"]
    assert Model.load(model).flavors["lightgbm"]["model_class"] == "lightgbm.basic.Booster"
    native = mlcli.lightgbm.load_model(str(model))  # no opt-in: LightGBM's text format
    assert type(native) is lgb.Booster
    expected = np.asarray(mlflow_example["predictions"])
    assert np.allclose(native.predict(test), expected)
    assert np.allclose(mlcli.pyfunc.load_model(str(model)).predict(test), expected)


@pytest.mark.slow
def test_mlflows_example_model_is_served_by_mlcli(
    mlflow_example: dict[str, Any], tmp_path: Path, servers: list[Any]
) -> None:
    model, test = mlflow_example["model"], mlflow_example["test"]
    port, log = free_port(), tmp_path / "mlcli.log"
    argv = [sys.executable, "-m", "mlcli", "serve", "-m", str(model), "--port", str(port)]
    wait_for(start(argv, log, servers), port, log)
    body = {"dataframe_split": json.loads(test.to_json(orient="split", index=False))}
    status, answer = post(port, body)
    assert status == 200
    assert np.allclose(np.asarray(answer["predictions"]), mlflow_example["predictions"])


def test_mlcli_autolog_logs_what_mlflow_logs_for_the_example(
    mlflow_example: dict[str, Any], store: Path, workdir: Path
) -> None:
    result = run_example("mlcli", workdir, MLCLI_STORE=str(store))
    client = mlcli.MlcliClient()
    run = client.get_run(result["run_id"])
    assert run.data.params == mlflow_example["params"]
    assert run.data.metrics == pytest.approx(mlflow_example["metrics"])
    history = client.get_metric_history(run.info.run_id, "train-multi_logloss")
    # MLflow's file store repeats the first point (its logged model's copy): once is enough
    theirs = list(dict.fromkeys(tuple(point) for point in mlflow_example["history"]))
    assert [m.step for m in history] == list(range(10)) == [step for step, _ in theirs]
    assert [m.value for m in history] == pytest.approx([value for _, value in theirs])
    artifacts = sorted(a.path for a in client.list_artifacts(run.info.run_id))
    assert artifacts == sorted([*mlflow_example["artifacts"], "model"])  # MLflow 3: elsewhere
    (workdir / "got").mkdir()
    got = client.download_artifacts(
        run.info.run_id, "feature_importance_gain.json", workdir / "got"
    )
    assert json.loads(Path(got).read_text()) == pytest.approx(mlflow_example["importance"])
    model = mlcli.lightgbm.load_model(f"runs:/{run.info.run_id}/model")
    assert np.allclose(model.predict(mlflow_example["test"]), mlflow_example["predictions"])


@pytest.fixture
def autologging(store: Path) -> Iterator[None]:
    mlcli.lightgbm.autolog()
    yield
    mlcli.lightgbm.autolog(disable=True)


def multiclass_params() -> dict[str, Any]:
    return {"objective": "multiclass", "num_class": 3, "verbose": -1, "num_threads": 1}


def test_early_stopping_logs_mlflows_best_and_stopped_iterations(
    autologging: None, data: Any
) -> None:
    x_train, x_test, y_train, y_test = data
    callbacks: list[Any] = [lgb.early_stopping(2, verbose=False)]
    with mlcli.start_run() as run:
        booster = lgb.train(
            {**multiclass_params(), "learning_rate": 0.9},
            lgb.Dataset(x_train, y_train),
            num_boost_round=200,
            valid_sets=[lgb.Dataset(x_test, y_test)],
            valid_names=["valid"],
            callbacks=callbacks,
        )
    assert len(callbacks) == 1  # the user's list is left as it was
    client = mlcli.MlcliClient()
    metrics = client.get_run(run.run_id).data.metrics
    stopped = int(metrics["stopped_iteration"])
    assert metrics["best_iteration"] == booster.best_iteration > 0
    assert stopped == booster.best_iteration + 2  # two rounds without progress
    history = client.get_metric_history(run.run_id, "valid-multi_logloss")
    assert [m.step for m in history] == [*range(stopped), stopped]
    assert history[-1].value == history[booster.best_iteration - 1].value
    assert history[-1].value == metrics["valid-multi_logloss"]


def test_a_training_outside_a_run_gets_its_own_run_with_the_model(
    autologging: None, data: Any
) -> None:
    x_train, x_test, y_train, _ = data
    booster = lgb.train(multiclass_params(), lgb.Dataset(x_train, y_train), num_boost_round=3)
    run = mlcli.last_active_run()
    assert run is not None and run.info.status == "FINISHED"
    assert run.data.tags["mlcli.autologging"] == "lightgbm"
    assert run.data.params["num_boost_round"] == "3"
    model_dir = Path(mlcli.MlcliClient().download_artifacts(run.info.run_id, "model", "."))
    mlmodel = Model.load(model_dir)
    assert mlmodel.flavors["lightgbm"]["model_class"] == "lightgbm.basic.Booster"
    assert [c["name"] for c in mlmodel.signature.inputs.to_dict()] == list(x_train.columns)  # type: ignore[union-attr]
    assert mlmodel.saved_input_example_info is None  # log_input_examples is off
    loaded = mlcli.lightgbm.load_model(str(model_dir))
    assert np.array_equal(loaded.predict(x_test), booster.predict(x_test))


def test_a_booster_trained_further_is_logged_as_train_left_it(autologging: None, data: Any) -> None:
    """The model is written after train() returns; a Booster kept for training and
    trained further at once is logged with the rounds train() gave it, not more."""
    x_train, _, y_train, _ = data
    booster = lgb.train(
        multiclass_params(),
        lgb.Dataset(x_train, y_train),
        num_boost_round=3,
        keep_training_booster=True,
    )
    for _ in range(4):
        booster.update()
    run = mlcli.last_active_run()
    assert run is not None
    model_dir = Path(mlcli.MlcliClient().download_artifacts(run.info.run_id, "model", "."))
    assert mlcli.lightgbm.load_model(str(model_dir)).current_iteration() == 3
    assert booster.current_iteration() == 7


def test_an_estimator_fit_logs_its_training_and_the_estimator(autologging: None, data: Any) -> None:
    x_train, x_test, y_train, y_test = data
    with mlcli.start_run() as run:
        model = lgb.LGBMClassifier(n_estimators=4, verbose=-1)
        model.fit(x_train, y_train, eval_set=[(x_test, y_test)])
    client = mlcli.MlcliClient()
    logged = client.get_run(run.run_id)
    assert logged.data.params["num_boost_round"] == "4"
    assert logged.data.params["objective"] == "multiclass"
    history = client.get_metric_history(run.run_id, "valid_0-multi_logloss")
    assert [m.step for m in history] == [0, 1, 2, 3]
    names = sorted(a.path for a in client.list_artifacts(run.run_id))
    assert names == sorted(
        [
            "model",
            *(f"feature_importance_{k}.{e}" for k in ("gain", "split") for e in ("json", "png")),
        ]
    )
    assert len(mlcli.search_runs(output_format="list")) == 1  # no child run for train
    expected = model.predict_proba(x_test)
    model.set_params(n_estimators=1).fit(x_train, y_train)  # at once: a run of its own
    loaded = mlcli.lightgbm.load_model(f"runs:/{run.run_id}/model")
    assert type(loaded) is lgb.LGBMClassifier and loaded.n_estimators == 4
    assert np.array_equal(loaded.predict_proba(x_test), expected)  # as when fit returned


def test_a_pipeline_with_a_lightgbm_step_saves_with_skops_and_loads_without_the_opt_in(
    data: Any, tmp_path: Path
) -> None:
    """The sklearn flavor trusts LightGBM's estimator types as the lightgbm flavor does:
    a Pipeline ending in an LGBMClassifier is saved with skops, and a copy that mlcli's
    trust records do not know (another user's) loads without ``allow_pickle``."""
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    x_train, _, y_train, _ = data
    pipeline = make_pipeline(StandardScaler(), lgb.LGBMClassifier(n_estimators=3, verbose=-1))
    pipeline.fit(x_train, y_train)
    mlcli.sklearn.save_model(pipeline, tmp_path / "m")
    assert Model.load(tmp_path / "m").flavors["sklearn"]["serialization_format"] == "skops"
    script = (
        "import sys, mlcli.sklearn; model = mlcli.sklearn.load_model(sys.argv[1]);"
        "print(type(model.steps[-1][1]).__name__)"
    )
    elsewhere = {**os.environ, "MLCLI_DATA_DIR": str(tmp_path / "no-records")}
    elsewhere.pop("MLCLI_ALLOW_PICKLE", None)
    loaded = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path / "m")],
        env=elsewhere, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert (loaded.returncode, loaded.stdout.strip()) == (0, "LGBMClassifier"), loaded.stderr


def test_a_pipeline_step_is_logged_as_the_pipeline_only(store: Path, data: Any) -> None:
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    x_train, _, y_train, _ = data
    assert "lightgbm" in mlcli.autolog()
    try:
        with mlcli.start_run() as run:
            make_pipeline(StandardScaler(), lgb.LGBMClassifier(n_estimators=3, verbose=-1)).fit(
                x_train, y_train
            )
            lgb.LGBMClassifier(n_estimators=3, verbose=-1).fit(x_train, y_train)
    finally:
        mlcli.autolog(disable=True)
    runs = mlcli.search_runs(output_format="list")
    assert len(runs) == 2  # the pipeline's, and the second fit's child: no LabelEncoder
    child = next(r for r in runs if r.info.run_id != run.run_id)
    assert child.data.tags["mlcli.autologging"] == "lightgbm"
    assert child.data.params["num_boost_round"] == "3"
    parent = next(r for r in runs if r.info.run_id == run.run_id)
    assert parent.data.tags["estimator_name"] == "Pipeline"
    assert "num_boost_round" not in parent.data.params  # its step's train was not logged


def test_metric_names_with_at_are_mlflows_and_disable_restores_lightgbm(
    store: Path, data: Any
) -> None:
    originals = lgb.train, lgb.sklearn.train, lgb.LGBMClassifier.fit, lgb.LGBMModel.fit
    mlcli.lightgbm.autolog(log_models=False, log_feature_importance_plots=False)
    try:
        rng = np.random.default_rng(0)
        features, relevance = rng.normal(size=(60, 3)), rng.integers(0, 3, size=60)
        train_set = lgb.Dataset(features, relevance, group=[10] * 6)
        params = {"objective": "lambdarank", "metric": "ndcg", "eval_at": [3], "verbose": -1}
        with mlcli.start_run() as run:
            lgb.train(params, train_set, num_boost_round=2, valid_sets=[train_set])
    finally:
        mlcli.lightgbm.autolog(disable=True)
    assert (lgb.train, lgb.sklearn.train, lgb.LGBMClassifier.fit, lgb.LGBMModel.fit) == originals
    client = mlcli.MlcliClient()
    assert set(client.get_run(run.run_id).data.metrics) == {"training-ndcg_at_3"}
    assert sorted(a.path for a in client.list_artifacts(run.run_id)) == [
        "feature_importance_gain.json",
        "feature_importance_split.json",
    ]
