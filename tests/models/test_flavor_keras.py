"""The keras flavor: a tiny Dense model saved, logged, loaded (by mlcli and by the real
mlflow, each loading the other's), served by ``mlcli serve`` and ``mlflow models serve``,
and trained under autologging.

Keras picks its backend when first imported: these tests use PyTorch (installed for the
pytorch flavor), set here before keras is imported and in the environment of every
subprocess they start."""

from __future__ import annotations

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

os.environ.setdefault("KERAS_BACKEND", "torch")
BACKEND = {"KERAS_BACKEND": os.environ["KERAS_BACKEND"]}

import mlcli  # noqa: E402
import mlcli.keras  # noqa: E402
import mlcli.pyfunc  # noqa: E402
from mlcli.errors import InvalidInputError  # noqa: E402
from mlcli.models import Model  # noqa: E402
from mlcli.models.errors import UntrustedModelError  # noqa: E402

np = pytest.importorskip("numpy")
pd = pytest.importorskip("pandas")
keras = pytest.importorskip("keras")

SEED = 7
# Keras' variables under NumPy 2 (keras/src/backend/common/variables.py), not mlcli's
pytestmark = pytest.mark.filterwarnings(
    "ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning"
)


def training_data() -> tuple[Any, Any]:
    rng = np.random.default_rng(SEED)
    x = rng.normal(size=(64, 3)).astype("float32")
    y = (x @ np.array([1.0, -2.0, 0.5], dtype="float32"))[:, None]
    return x, y


def tiny_model() -> Any:
    keras.utils.set_random_seed(SEED)
    model = keras.Sequential(
        [keras.Input((3,)), keras.layers.Dense(4, activation="relu"), keras.layers.Dense(1)]
    )
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse", metrics=["mae"])
    return model


@pytest.fixture(scope="module")
def trained() -> Any:
    x, y = training_data()
    model = tiny_model()
    model.fit(x, y, epochs=3, batch_size=16, verbose=0)
    return model


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory, trained: Any) -> Path:
    path = tmp_path_factory.mktemp("keras") / "model"
    x, _ = training_data()
    mlcli.keras.save_model(trained, path, input_example=x[:3])
    return path


def expected(model: Any, x: Any) -> Any:
    return keras.ops.convert_to_numpy(model.predict(x, verbose=0))


def test_saved_as_mlflow_writes_it(saved: Path) -> None:
    mlmodel = Model.load(saved)
    assert mlmodel.flavors["keras"] == {
        "data": "data",
        "keras_version": keras.__version__,
        "keras_backend": BACKEND["KERAS_BACKEND"],
        "save_exported_model": False,
    }
    pyfunc = mlmodel.flavors["python_function"]
    assert pyfunc["loader_module"] == "mlflow.keras"
    assert set(pyfunc) == {"loader_module", "env", "python_version"}
    assert (saved / "data" / "keras_module.txt").read_text() == "keras"
    assert (saved / "data" / "model.keras").is_file()
    names = [line.split("==")[0] for line in (saved / "requirements.txt").read_text().split()]
    assert names[:3] == ["mlflow", "keras", "torch"]
    assert "+" not in (saved / "requirements.txt").read_text()  # torch's +cpu label dropped


def test_signature_has_tensor_specs_from_the_numpy_example(saved: Path) -> None:
    signature = Model.load(saved).signature
    assert signature is not None and signature.inputs and signature.outputs
    assert signature.inputs.to_dict() == [
        {"type": "tensor", "tensor-spec": {"dtype": "float32", "shape": [-1, 3]}}
    ]
    assert signature.outputs.to_dict() == [
        {"type": "tensor", "tensor-spec": {"dtype": "float32", "shape": [-1, 1]}}
    ]


def test_loads_back_natively_and_as_pyfunc(saved: Path, trained: Any) -> None:
    x, _ = training_data()
    native = mlcli.keras.load_model(str(saved))
    assert isinstance(native, keras.Model)
    assert np.allclose(expected(native, x), expected(trained, x))
    model = mlcli.pyfunc.load_model(str(saved))
    assert np.allclose(model.predict(x), expected(trained, x))
    assert isinstance(model.get_raw_model(), keras.Model)
    with pytest.raises(InvalidInputError, match="shape"):
        model.predict(x[:, :2])  # the signature's tensor shape is enforced


def test_a_dataframe_in_gives_a_dataframe_out_as_mlflow(trained: Any, tmp_path: Path) -> None:
    x, _ = training_data()
    frame = pd.DataFrame(x[:4], columns=["a", "b", "c"], index=[10, 11, 12, 13])
    mlcli.keras.save_model(trained, tmp_path / "m")  # no signature: data as given
    out = mlcli.pyfunc.load_model(str(tmp_path / "m")).predict(frame)
    assert isinstance(out, pd.DataFrame) and list(out.index) == [10, 11, 12, 13]
    assert np.allclose(out.to_numpy(), expected(trained, x[:4]))
    with pytest.raises(InvalidInputError, match="not a str"):
        mlcli.pyfunc.load_model(str(tmp_path / "m")).predict("1,2,3")


def test_logged_to_a_run_and_loaded_by_its_uris(run_id: str, trained: Any) -> None:
    x, _ = training_data()
    info = mlcli.keras.log_model(trained, name="model", input_example=x[:2])
    assert set(info.flavors) == {"keras", "python_function"}
    for uri in (info.model_uri, f"runs:/{run_id}/model"):
        assert np.allclose(mlcli.keras.load_model(uri).predict(x, verbose=0), expected(trained, x))
    generic = mlcli.models.log_model(trained, "again")  # finds the flavor itself
    assert set(generic.flavors) == {"keras", "python_function"}


def test_bad_input_is_one_line(trained: Any, tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match=r"not a keras\.Model"):
        mlcli.keras.save_model(object(), tmp_path / "a")
    with pytest.raises(InvalidInputError, match="exported format"):
        mlcli.keras.save_model(trained, tmp_path / "b", save_exported_model=True)
    mlcli.keras.save_model(trained, tmp_path / "c")
    with pytest.raises(InvalidInputError, match="unknown load_model_kwargs custom"):
        mlcli.keras.load_model(str(tmp_path / "c"), load_model_kwargs={"custom": 1})
    with pytest.raises(UntrustedModelError, match="safe_mode=False"):
        mlcli.keras.load_model(str(tmp_path / "c"), load_model_kwargs={"safe_mode": False})


Layer: Any = keras.layers.Layer


@keras.saving.register_keras_serializable(package="mlcli_tests")
class Doubling(Layer):
    def call(self, inputs: Any) -> Any:
        return inputs * 2


class Halving(Layer):  # not registered: loads only through custom_objects
    def call(self, inputs: Any) -> Any:
        return inputs / 2


def with_layer(layer: Any) -> Any:
    return keras.Sequential([keras.Input((3,)), layer, keras.layers.Dense(1)])


def test_a_lambda_layer_from_elsewhere_needs_the_opt_in(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    x, _ = training_data()
    ours = with_layer(keras.layers.Lambda(lambda t: t * 3))
    mlcli.keras.save_model(ours, tmp_path / "m")
    monkeypatch.delenv("MLFLOW_ALLOW_PICKLE_DESERIALIZATION", raising=False)
    loaded = mlcli.keras.load_model(str(tmp_path / "m"))  # mlcli wrote it: recorded
    assert np.allclose(loaded.predict(x, verbose=0), expected(ours, x))
    foreign = with_layer(keras.layers.Lambda(lambda t: t * 4))
    foreign.save(tmp_path / "m" / "data" / "model.keras")  # not written by mlcli
    with pytest.raises(UntrustedModelError, match=r"Lambda.*--allow-pickle"):
        mlcli.keras.load_model(str(tmp_path / "m"))
    with pytest.raises(UntrustedModelError, match="Lambda"):
        mlcli.pyfunc.load_model(str(tmp_path / "m"))
    loaded = mlcli.keras.load_model(str(tmp_path / "m"), allow_pickle=True)
    assert np.allclose(loaded.predict(x, verbose=0), expected(foreign, x))


def test_custom_layers_load_only_when_given_or_registered(tmp_path: Path) -> None:
    x, _ = training_data()
    registered = with_layer(Doubling())
    mlcli.keras.save_model(registered, tmp_path / "registered")
    loaded = mlcli.keras.load_model(str(tmp_path / "registered"))
    assert np.allclose(loaded.predict(x, verbose=0), expected(registered, x))
    plain = with_layer(Halving())
    mlcli.keras.save_model(plain, tmp_path / "plain")
    with pytest.raises(InvalidInputError, match=r"Halving.*custom_objects"):
        mlcli.keras.load_model(str(tmp_path / "plain"))
    loaded = mlcli.keras.load_model(str(tmp_path / "plain"), custom_objects={"Halving": Halving})
    assert np.allclose(loaded.predict(x, verbose=0), expected(plain, x))


def test_a_backend_that_is_not_installed_is_one_line(saved: Path, tmp_path: Path) -> None:
    (tmp_path / "x.json").write_text(json.dumps({"inputs": [[1.0, 2.0, 3.0]]}))
    argv = ["models", "predict", "-m", str(saved), "-i", str(tmp_path / "x.json")]
    done = subprocess.run(
        [sys.executable, "-m", "mlcli", *argv],
        capture_output=True,
        text=True,
        env={**os.environ, "KERAS_BACKEND": "no_such_backend"},
        check=False,
        timeout=300,
    )
    assert done.returncode != 0
    assert "Traceback" not in done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "backend" in lines[0], done.stderr


# --- the real mlflow ---------------------------------------------------------------------

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    pytest.importorskip("mlflow")
    import mlflow
    import mlflow.keras
    import mlflow.pyfunc


@pytest.mark.mlflow
@pytest.mark.filterwarnings("ignore")
def test_mlflow_loads_mlcli_s_model(saved: Path, trained: Any) -> None:
    x, _ = training_data()
    native = mlflow.keras.load_model(str(saved))
    assert np.allclose(expected(native, x), expected(trained, x))
    assert np.allclose(mlflow.pyfunc.load_model(str(saved)).predict(x), expected(trained, x))


@pytest.mark.mlflow
@pytest.mark.filterwarnings("ignore")
def test_mlcli_loads_mlflow_s_model(tmp_path: Path, trained: Any) -> None:
    x, _ = training_data()
    signature = mlflow.models.infer_signature(x[:3], expected(trained, x[:3]))
    (tmp_path / "m").mkdir()  # MLflow writes the example before it creates the folder
    mlflow.keras.save_model(trained, str(tmp_path / "m"), signature=signature, input_example=x[:3])
    assert Model.load(tmp_path / "m").flavors["keras"]["keras_backend"] == BACKEND["KERAS_BACKEND"]
    native = mlcli.keras.load_model(str(tmp_path / "m"))  # no opt-in: nothing runs code
    assert np.allclose(expected(native, x), expected(trained, x))
    assert np.allclose(
        mlcli.pyfunc.load_model(str(tmp_path / "m")).predict(x), expected(trained, x)
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def post(port: int, body: dict[str, Any]) -> tuple[int, Any]:
    import http.client

    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        data = json.dumps(body)
        connection.request("POST", "/invocations", data, {"Content-Type": "application/json"})
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


def wait_for(process: subprocess.Popen[bytes], port: int, log: Path) -> None:
    import http.client

    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        assert process.poll() is None, log.read_text(errors="replace")[-3000:]
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        try:
            connection.request("GET", "/ping")
            if connection.getresponse().status == 200:
                return
        except OSError:
            time.sleep(0.2)
        finally:
            connection.close()
    raise AssertionError(f"no server on {port}: {log.read_text(errors='replace')[-3000:]}")


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for process in started:
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def serve(argv: list[str], port: int, log: Path, started: list[Any]) -> None:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("MLCLI_STORE")}
    environ.update(BACKEND)
    with log.open("wb") as out:
        process = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=environ)
    started.append(process)
    wait_for(process, port, log)


@pytest.mark.mlflow
@pytest.mark.slow
def test_mlcli_serve_and_mlflow_models_serve_answer_the_same(
    saved: Path, trained: Any, tmp_path: Path, servers: list[Any]
) -> None:
    x, _ = training_data()
    ports = free_port(), free_port()
    serve(
        [sys.executable, "-m", "mlcli", "serve", "-m", str(saved), "--port", str(ports[0])],
        ports[0],
        tmp_path / "mlcli.log",
        servers,
    )
    mlflow_cli = [sys.executable, "-m", "mlflow", "models", "serve", "-m", str(saved)]
    serve(
        [*mlflow_cli, "--env-manager", "local", "-h", "127.0.0.1", "-p", str(ports[1])],
        ports[1],
        tmp_path / "mlflow.log",
        servers,
    )
    body = {"inputs": x[:5].tolist()}
    answers = [post(port, body) for port in ports]
    assert answers[0][0] == answers[1][0] == 200
    assert answers[0][1] == answers[1][1]
    got = np.array(answers[0][1]["predictions"], dtype="float32")
    assert np.allclose(got, expected(trained, x[:5]), atol=1e-6)
    status, error = post(ports[0], {"inputs": x[:2, :2].tolist()})
    assert status == 400 and "shape" in json.dumps(error)


# --- autologging -------------------------------------------------------------------------


def fit_with_early_stopping(model: Any) -> Any:
    x, y = training_data()
    stop = keras.callbacks.EarlyStopping(patience=1, min_delta=1e6, restore_best_weights=True)
    return model.fit(
        x, y, epochs=6, batch_size=16, validation_split=0.25, verbose=0, callbacks=[stop]
    )


@pytest.fixture
def autologged(store: Path) -> Iterator[None]:
    mlcli.keras.autolog()
    yield
    mlcli.keras.autolog(disable=True)


def test_autolog_logs_params_metrics_early_stopping_and_the_model(autologged: None) -> None:
    model = tiny_model()
    history = fit_with_early_stopping(model)
    assert len(history.epoch) == 2  # min_delta never met: stopped after patience 1
    run = mlcli.last_active_run()
    assert run is not None
    params = run.data.params
    assert params["epochs"] == "6" and params["batch_size"] == "16"
    assert params["validation_split"] == "0.25"
    assert params["optimizer_name"].startswith("adam")  # Keras numbers them: adam_1...
    assert params["optimizer_learning_rate"].startswith("0.0099")
    assert params["patience"] == "1" and params["restore_best_weights"] == "True"
    assert params["monitor"] == "val_loss"
    assert not {"x", "y", "callbacks", "verbose", "validation_data"} & set(params)
    client = mlcli.MlcliClient()
    loss = client.get_metric_history(run.info.run_id, "loss")
    assert [m.step for m in loss] == [0, 1, 2]  # two epochs, then the restored one at 2
    assert loss[2].value == loss[0].value  # the best epoch was the first
    assert run.data.metrics["stopped_epoch"] == 1 and run.data.metrics["restored_epoch"] == 0
    assert {"val_loss", "val_mae", "validation_loss", "mae"} <= set(run.data.metrics)
    summary = client.download_artifacts(run.info.run_id, "model_summary.txt")
    assert "dense" in Path(summary).read_text()
    logged = mlcli.keras.load_model(f"runs:/{run.info.run_id}/model")
    x, _ = training_data()
    assert np.allclose(expected(logged, x), expected(model, x))
    signature = Model.load(Path(client.download_artifacts(run.info.run_id, "model"))).signature
    assert signature is not None and signature.inputs is not None
    assert signature.inputs.to_dict()[0]["tensor-spec"]["shape"] == [-1, 3]


def test_autolog_logs_a_model_with_custom_layers_too(autologged: None) -> None:
    x, y = training_data()
    model = with_layer(Halving())  # written before fit returns: its snapshot needs the class
    model.compile(optimizer="sgd", loss="mse")
    model.fit(x, y, epochs=1, verbose=0)
    run = mlcli.last_active_run()
    assert run is not None
    uri = f"runs:/{run.info.run_id}/model"
    loaded = mlcli.keras.load_model(uri, custom_objects={"Halving": Halving})
    assert np.allclose(expected(loaded, x), expected(model, x))


@pytest.mark.mlflow
@pytest.mark.filterwarnings("ignore")
def test_autolog_uses_mlflow_s_names(
    autologged: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    mlcli.keras.autolog(disable=True)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    mlflow.keras.autolog()
    try:
        with mlflow.start_run() as active:
            fit_with_early_stopping(tiny_model())
    finally:
        mlflow.keras.autolog(disable=True)
    theirs = mlflow.MlflowClient().get_run(active.info.run_id).data
    mlcli.keras.autolog()
    fit_with_early_stopping(tiny_model())
    ours = mlcli.last_active_run()
    assert ours is not None
    assert set(theirs.params) <= set(ours.data.params)
    compared = set(theirs.params) - {"optimizer_name"}  # adam_2, adam_3: one per optimizer
    assert {k: theirs.params[k] for k in compared} == {k: ours.data.params[k] for k in compared}
    assert set(theirs.metrics) <= set(ours.data.metrics)


def test_enabling_imports_no_keras_and_patches_it_when_imported(store: Path) -> None:
    script = (
        "import sys, mlcli\n"
        "enabled = mlcli.autolog()\n"
        "assert 'keras' in enabled and 'keras' not in sys.modules, enabled\n"
        "import keras, numpy as np\n"
        "m = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])\n"
        "m.compile(optimizer='sgd', loss='mse')\n"
        "m.fit(np.ones((8, 2)), np.ones((8, 1)), epochs=2, verbose=0)\n"
        "run = mlcli.last_active_run()\n"
        "print(run.data.params['epochs'], sorted(run.data.metrics))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        env={**os.environ, **BACKEND},
        check=False,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip().splitlines()[-1] == "2 ['loss']"
