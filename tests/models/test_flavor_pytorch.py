"""The pytorch flavor: a torch.nn.Linear saved as pt2 (torch.export), TorchScript and a
pickle, loaded back by mlcli and by the real mlflow (3.18), and served by both.

MLflow loads TorchScript and pickles unless MLFLOW_ALLOW_MODEL_CODE_EXECUTION is false
(the tests unset it, then set it either way). mlcli loads what it wrote itself, and what
MLflow wrote as pt2 once the archive is checked free of pickles; a pickle or TorchScript
file from MLflow needs allow_pickle=True.
"""

from __future__ import annotations

import io
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import warnings
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

import mlcli
import mlcli.pyfunc
import mlcli.pytorch
from mlcli.errors import InvalidInputError
from mlcli.models.errors import UntrustedModelError

torch = pytest.importorskip("torch")
np = pytest.importorskip("numpy")
pd = pytest.importorskip("pandas")
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    pytest.importorskip("mlflow")
    import mlflow
    import mlflow.pyfunc
    import mlflow.pytorch

pytestmark = pytest.mark.filterwarnings("ignore")  # torch.export and mlflow warn freely


@pytest.fixture(autouse=True)
def _mlflow_environment(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("MLFLOW_ALLOW_MODEL_CODE_EXECUTION", "MLFLOW_ALLOW_PICKLE_DESERIALIZATION"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("MLCLI_ALLOW_PICKLE", raising=False)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", (workdir / "mlflow-tracking").as_uri())


@pytest.fixture(scope="module")
def linear() -> Any:
    torch.manual_seed(0)
    return torch.nn.Linear(3, 2).eval()


@pytest.fixture(scope="module")
def features() -> Any:
    return np.random.default_rng(0).random((5, 3), dtype=np.float32)


@pytest.fixture
def own_records(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No record of what mlcli wrote earlier in the session: torch writes the same bytes
    for the same module, so a file MLflow wrote could otherwise be one mlcli recorded."""
    monkeypatch.setenv("MLCLI_DATA_DIR", str(tmp_path / "own-data"))


def mlflow_save(model: Any, path: Path, **options: Any) -> None:
    """mlflow.pytorch.save_model, without inferring requirements (which loads the model
    again in a subprocess: seconds per model)."""
    mlflow.pytorch.save_model(model, str(path), pip_requirements=["torch"], **options)


def expected(model: Any, features: Any) -> Any:
    with torch.no_grad():
        return model(torch.from_numpy(features)).numpy()


def test_pt2_writes_mlflows_mlmodel_and_pins_torch(
    tmp_path: Path, linear: Any, features: Any
) -> None:
    ours = mlcli.pytorch.save_model(linear, tmp_path / "ours", input_example=features)
    mlflow.pytorch.save_model(linear, str(tmp_path / "theirs"), input_example=features)
    theirs = yaml.safe_load((tmp_path / "theirs" / "MLmodel").read_text())
    written = yaml.safe_load((tmp_path / "ours" / "MLmodel").read_text())
    assert written["flavors"] == theirs["flavors"]
    assert written["signature"] == theirs["signature"]
    assert json.loads(theirs["signature"]["inputs"])[0]["tensor-spec"]["shape"] == [-1, 3]
    assert ours.signature is not None and ours.signature.inputs is not None
    assert ours.signature.inputs.is_tensor
    assert sorted(p.name for p in (tmp_path / "ours" / "data").iterdir()) == ["model.pt2"]
    requirements = (tmp_path / "ours" / "requirements.txt").read_text().split()
    release = torch.__version__.split("+")[0]  # a local label (+cpu) is not on PyPI
    assert f"torch=={release}" in requirements
    assert not any(line.startswith("cloudpickle") for line in requirements)


def test_the_cpu_build_is_pinned_through_extra_requirements(tmp_path: Path, linear: Any) -> None:
    index = "--extra-index-url https://download.pytorch.org/whl/cpu"  # as docs/models.md
    extra = [index, f"torch=={torch.__version__}"]
    mlcli.pytorch.save_model(
        linear, tmp_path / "m", serialization_format="torchscript", extra_pip_requirements=extra
    )
    lines = (tmp_path / "m" / "requirements.txt").read_text().splitlines()
    assert lines[-2:] == extra
    assert sum(line.startswith("torch") for line in lines) == 1


def test_pyfunc_predicts_numpy_and_dataframes_as_mlflow(
    tmp_path: Path, linear: Any, features: Any
) -> None:
    mlcli.pytorch.save_model(linear, tmp_path / "m", input_example=features)
    model = mlcli.pyfunc.load_model(str(tmp_path / "m"))
    reference = mlflow.pyfunc.load_model(str(tmp_path / "m"))
    np.testing.assert_allclose(model.predict(features), expected(linear, features), rtol=1e-6)
    frame = pd.DataFrame(features, index=[10, 11, 12, 13, 14])
    ours, theirs = model.predict(frame), reference.predict(frame)
    assert type(ours) is type(theirs)
    np.testing.assert_allclose(np.asarray(ours), np.asarray(theirs), rtol=1e-6)


def test_without_a_signature_a_dataframe_comes_back_with_its_index(
    tmp_path: Path, linear: Any, features: Any
) -> None:
    mlcli.pytorch.save_model(linear, tmp_path / "m", serialization_format="torchscript")
    frame = pd.DataFrame(features, index=list("abcde"))
    predicted = mlcli.pyfunc.load_model(str(tmp_path / "m")).predict(frame)
    assert isinstance(predicted, pd.DataFrame) and list(predicted.index) == list("abcde")
    np.testing.assert_allclose(predicted.to_numpy(), expected(linear, features), rtol=1e-6)
    with pytest.raises(InvalidInputError, match="DataFrame or a numpy array, not a list"):
        mlcli.pyfunc.load_model(str(tmp_path / "m")).predict([[1.0, 2.0, 3.0]])


def test_a_dataframe_example_gives_columns_and_mlcli_evaluate_scores_the_model(
    cli: Any, store: Path, workdir: Path, features: Any
) -> None:
    torch.manual_seed(0)
    regressor = torch.nn.Linear(3, 1)
    frame = pd.DataFrame(features, columns=["a", "b", "c"])
    saved = mlcli.pytorch.save_model(regressor, workdir / "m", input_example=frame)
    assert saved.signature is not None and saved.signature.inputs is not None
    assert not saved.signature.inputs.is_tensor  # columns, as MLflow infers from a frame
    ours = mlcli.pyfunc.load_model(str(workdir / "m")).predict(frame)
    theirs = mlflow.pyfunc.load_model(str(workdir / "m")).predict(frame)
    pd.testing.assert_frame_equal(ours, theirs)
    target = expected(regressor, features)[:, 0] + 1.0
    frame.assign(y=target).to_csv(workdir / "data.csv", index=False)
    result = cli("evaluate", "-m", "m", "--data", "data.csv", "--target", "y", "--json")
    assert result.exit_code == 0, result.stderr
    assert result.json()["metrics"]["mean_absolute_error"] == pytest.approx(1.0, rel=1e-5)


def test_a_tensor_example_gives_the_signature_and_is_saved_as_an_array(
    tmp_path: Path, linear: Any, features: Any
) -> None:
    saved = mlcli.pytorch.save_model(
        linear, tmp_path / "m", input_example=torch.from_numpy(features)
    )
    assert saved.signature is not None
    assert saved.signature.outputs is not None and saved.signature.outputs.is_tensor
    example = mlcli.pyfunc.load_model(str(tmp_path / "m")).input_example
    np.testing.assert_allclose(np.asarray(example), features)


@pytest.mark.parametrize("serialization_format", ["pt2", "torchscript", "pickle"])
def test_mlcli_and_mlflow_load_every_format_alike(
    tmp_path: Path,
    linear: Any,
    features: Any,
    serialization_format: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    path = tmp_path / "m"
    mlcli.pytorch.save_model(
        linear, path, serialization_format=serialization_format, input_example=features
    )
    native = mlcli.pytorch.load_model(str(path))  # mlcli wrote it: no opt-in
    np.testing.assert_allclose(expected(native, features), expected(linear, features), rtol=1e-6)
    if serialization_format != "pt2":  # MLflow's opt-in, which is on unless set false
        monkeypatch.setenv("MLFLOW_ALLOW_MODEL_CODE_EXECUTION", "false")
        with pytest.raises(Exception, match="MLFLOW_ALLOW_MODEL_CODE_EXECUTION"):
            mlflow.pyfunc.load_model(str(path))
        monkeypatch.setenv("MLFLOW_ALLOW_MODEL_CODE_EXECUTION", "true")
    theirs = mlflow.pyfunc.load_model(str(path)).predict(features)
    np.testing.assert_allclose(
        mlcli.pyfunc.load_model(str(path)).predict(features), theirs, rtol=1e-6
    )
    reloaded = mlflow.pytorch.load_model(str(path))
    np.testing.assert_allclose(expected(reloaded, features), expected(linear, features), rtol=1e-6)


@pytest.mark.usefixtures("own_records")
def test_mlflows_pt2_model_loads_in_mlcli_without_the_opt_in(
    tmp_path: Path, linear: Any, features: Any
) -> None:
    mlflow_save(linear, tmp_path / "m", input_example=features)
    predicted = mlcli.pyfunc.load_model(str(tmp_path / "m")).predict(features)
    np.testing.assert_allclose(predicted, expected(linear, features), rtol=1e-6)


@pytest.mark.usefixtures("own_records")
def test_a_pt2_archive_with_a_pickle_in_it_needs_the_opt_in(
    tmp_path: Path, linear: Any, features: Any
) -> None:
    mlflow_save(linear, tmp_path / "m", input_example=features)
    archive = tmp_path / "m" / "data" / "model.pt2"
    records = {}
    with zipfile.ZipFile(archive) as original:
        records = {name: original.read(name) for name in original.namelist()}
    sample = next(name for name in records if name.endswith("sample_inputs/model.pt"))
    payload = io.BytesIO()
    torch.save({"when": __import__("datetime").date(2026, 1, 1)}, payload)
    records[sample] = payload.getvalue()  # unpickled by torch.export.load: runs its globals
    with zipfile.ZipFile(archive, "w") as tampered:
        for name, content in records.items():
            tampered.writestr(name, content)
    with pytest.raises(UntrustedModelError, match=r"sample_inputs/model\.pt is not tensors"):
        mlcli.pyfunc.load_model(str(tmp_path / "m"))
    archive.write_bytes(b"not a zip")
    with pytest.raises(UntrustedModelError, match="it is not a zip archive"):
        mlcli.pytorch.load_model(str(tmp_path / "m"))


@pytest.mark.usefixtures("own_records")
def test_mlflows_pickled_model_needs_allow_pickle(
    tmp_path: Path, linear: Any, features: Any
) -> None:
    mlflow_save(linear, tmp_path / "m", serialization_format="pickle", input_example=features)
    with pytest.raises(UntrustedModelError) as refused:
        mlcli.pytorch.load_model(str(tmp_path / "m"))
    assert "is a pickle file (PyTorch)" in str(refused.value)
    assert "allow_pickle=True" in str(refused.value) and "\n" not in str(refused.value)
    with pytest.raises(UntrustedModelError):
        mlcli.pyfunc.load_model(str(tmp_path / "m"))
    model = mlcli.pyfunc.load_model(str(tmp_path / "m"), allow_pickle=True)
    np.testing.assert_allclose(model.predict(features), expected(linear, features), rtol=1e-6)


@pytest.mark.usefixtures("own_records")
def test_a_torchscript_file_mlcli_did_not_write_needs_allow_pickle(
    tmp_path: Path, linear: Any, features: Any
) -> None:
    traced = torch.jit.trace(linear, torch.from_numpy(features))
    mlflow_save(traced, tmp_path / "m", serialization_format="pickle")
    with pytest.raises(UntrustedModelError, match="is a TorchScript file"):
        mlcli.pytorch.load_model(str(tmp_path / "m"))
    model = mlcli.pytorch.load_model(str(tmp_path / "m"), allow_pickle=True)
    assert isinstance(model, torch.jit.ScriptModule)


def test_bad_input_is_one_clear_line(tmp_path: Path, linear: Any) -> None:
    with pytest.raises(InvalidInputError, match="pass input_example="):
        mlcli.pytorch.save_model(linear, tmp_path / "a")
    with pytest.raises(InvalidInputError, match="unknown serialization format 'onnx'"):
        mlcli.pytorch.save_model(linear, tmp_path / "b", serialization_format="onnx")
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_log_model_loads_back_by_either_uri(run_id: str, linear: Any, features: Any) -> None:
    info = mlcli.pytorch.log_model(linear, name="net", input_example=features)
    for uri in (info.model_uri, f"runs:/{run_id}/net"):
        model = mlcli.pyfunc.load_model(uri)
        np.testing.assert_allclose(model.predict(features), expected(linear, features), rtol=1e-6)


def test_startup_imports_no_torch(
    store_root: Path, loaded_modules: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MLFLOW_TRACKING_URI")
    assert "torch" not in loaded_modules("--help", cwd=store_root.parent)
    assert "torch" not in loaded_modules("models", "list", "-q", cwd=store_root.parent)


_LISTENING = re.compile(r"on http://127\.0\.0\.1:(\d+) with")


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for process in started:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _serve(
    command: list[str], log: Path, servers: list[Any], port: int | None, env: dict[str, str]
) -> int:
    with log.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env)
    servers.append(process)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        assert process.poll() is None, log.read_text()
        if port is None and (match := _LISTENING.search(log.read_text())):
            port = int(match[1])
        if port is not None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/ping", timeout=5) as reply:
                    if reply.status == 200:
                        return port
            except OSError:
                pass
        time.sleep(0.2)
    raise AssertionError(f"{command[2:4]} was not ready:\n{log.read_text()}")


def _predict(port: int, body: dict[str, Any]) -> Any:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/invocations",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=60) as reply:
        return json.loads(reply.read())


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.slow
def test_mlcli_serve_and_mlflow_serve_answer_the_same(
    tmp_path: Path, linear: Any, features: Any, servers: list[Any]
) -> None:
    path = tmp_path / "m"
    mlcli.pytorch.save_model(linear, path, input_example=features)
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLCLI_")}
    env["MLCLI_DATA_DIR"] = os.environ["MLCLI_DATA_DIR"]
    ours = _serve(
        [sys.executable, "-m", "mlcli", "serve", "-m", str(path), "--port", "0"],
        tmp_path / "mlcli.log", servers, None, env,
    )  # fmt: skip
    port = _free_port()
    theirs = _serve(
        [sys.executable, "-m", "mlflow", "models", "serve", "-m", str(path), "-h", "127.0.0.1",
         "-p", str(port), "--env-manager", "local"],
        tmp_path / "mlflow.log", servers, port, env,
    )  # fmt: skip
    for body in ({"inputs": features.tolist()}, {"instances": features.tolist()}):
        answer = _predict(ours, body)
        assert answer == _predict(theirs, body)
        np.testing.assert_allclose(answer["predictions"], expected(linear, features), rtol=1e-6)


# -- autologging of PyTorch Lightning ----------------------------------------------------


@pytest.fixture
def lightning_parts() -> Iterator[tuple[Any, Any]]:
    """lightning.pytorch, and a function fitting a small regressor (with an early stopping
    callback that stops at epoch 1, on request); autologging is off again after."""
    pl = pytest.importorskip("lightning.pytorch")
    from torch.utils.data import DataLoader, TensorDataset

    class Regressor(pl.LightningModule):  # type: ignore[name-defined]
        def __init__(self) -> None:
            super().__init__()
            self.layer = torch.nn.Linear(3, 1)

        def forward(self, x: Any) -> Any:
            return self.layer(x)

        def training_step(self, batch: Any, batch_idx: int) -> Any:
            x, y = batch
            loss = torch.nn.functional.mse_loss(self(x), y)
            self.log("train_loss", loss, on_epoch=True, on_step=False)
            return loss

        def validation_step(self, batch: Any, batch_idx: int) -> None:
            x, y = batch
            self.log("val_loss", torch.nn.functional.mse_loss(self(x), y))

        def configure_optimizers(self) -> Any:
            return torch.optim.SGD(self.parameters(), lr=0.1)

    def loader(seed: int) -> Any:
        generator = torch.Generator().manual_seed(seed)
        x = torch.rand(64, 3, generator=generator)
        return DataLoader(TensorDataset(x, x @ torch.tensor([[1.0], [2.0], [3.0]])), batch_size=16)

    def fit(epochs: int, early_stopping: bool) -> Any:
        torch.manual_seed(0)
        module = Regressor()
        callbacks = [pl.callbacks.EarlyStopping("val_loss", patience=1, min_delta=10.0)]
        trainer = pl.Trainer(
            max_epochs=epochs,
            callbacks=callbacks if early_stopping else [],
            logger=False,
            enable_checkpointing=False,
            enable_progress_bar=False,
            enable_model_summary=False,
            num_sanity_val_steps=0,
        )
        trainer.fit(module, loader(0), loader(1))
        return module

    try:
        yield pl, fit
    finally:
        mlcli.pytorch.autolog(disable=True)


def test_autolog_logs_a_lightning_fit_with_mlflows_names(
    store: Path, tmp_path: Path, lightning_parts: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    pl, fit = lightning_parts
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    mlflow.pytorch.autolog(checkpoint=False, log_models=False)
    try:
        fit(3, early_stopping=False)
    finally:
        mlflow.pytorch.autolog(disable=True)
    theirs = mlflow.last_active_run()
    assert theirs is not None
    monkeypatch.delenv("MLFLOW_TRACKING_URI")

    original = pl.Trainer.fit
    mlcli.pytorch.autolog()
    module = fit(3, early_stopping=False)
    run = mlcli.last_active_run()
    assert run is not None and run.info.status == "FINISHED"
    assert run.data.params == theirs.data.params  # epochs, optimizer_name, lr, momentum...
    assert run.data.params["optimizer_name"] == "SGD" and run.data.params["epochs"] == "3"
    assert run.data.metrics.keys() == theirs.data.metrics.keys() == {"train_loss", "val_loss"}
    for key, value in theirs.data.metrics.items():
        assert run.data.metrics[key] == pytest.approx(value, rel=1e-6)
    history = mlcli.tracking.TrackingClient().get_metric_history(run.info.run_id, "val_loss")
    assert [m.step for m in history] == [0, 1, 2]
    summary = mlcli.artifacts.load_text(f"runs:/{run.info.run_id}/model_summary.txt")
    assert "Linear" in summary
    model = mlcli.pyfunc.load_model(f"runs:/{run.info.run_id}/model")  # pt2: no opt-in
    assert (model.model_dir / "data" / "model.pt2").exists()
    x = np.random.default_rng(1).random((4, 3), dtype=np.float32)
    np.testing.assert_allclose(model.predict(x), expected(module, x), rtol=1e-6)
    assert model.signature is not None and model.signature.outputs is not None

    mlcli.pytorch.autolog(disable=True)
    assert pl.Trainer.fit is original


def test_autolog_logs_early_stopping(store: Path, lightning_parts: Any) -> None:
    _, fit = lightning_parts
    mlcli.pytorch.autolog(log_models=False)
    fit(6, early_stopping=True)
    run = mlcli.last_active_run()
    assert run is not None
    params, metrics = run.data.params, run.data.metrics
    assert {params[k] for k in ("monitor", "mode", "patience")} == {"val_loss", "min", "1"}
    assert metrics["stopped_epoch"] == 1 and metrics["restored_epoch"] == 0
    assert {"best_score", "wait_count"} <= metrics.keys()
    artifacts = {f.path for f in mlcli.artifacts.list_artifacts(run_id=run.info.run_id)}
    assert artifacts == {"model_summary.txt"}


def test_autolog_patches_lightning_when_it_is_imported_later(workdir: Path) -> None:
    pytest.importorskip("lightning")
    script = (
        "import sys, mlcli.pytorch\n"
        "mlcli.pytorch.autolog()\n"
        "assert 'lightning' not in sys.modules and 'torch' not in sys.modules\n"
        "import lightning.pytorch as pl, pytorch_lightning\n"
        "for trainer in (pl.Trainer, pytorch_lightning.Trainer):\n"
        "    assert trainer.fit.__mlcli_autolog__\n"
        "mlcli.pytorch.autolog(disable=True)\n"
        "assert not hasattr(pl.Trainer.fit, '__mlcli_autolog__')\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_mlcli_autolog_turns_lightning_on(store: Path, lightning_parts: Any) -> None:
    try:
        assert "pytorch" in mlcli.autolog()
    finally:
        mlcli.autolog(disable=True)
    with pytest.raises(InvalidInputError, match="log_every_n_step is not supported"):
        mlcli.pytorch.autolog(log_every_n_step=10)
