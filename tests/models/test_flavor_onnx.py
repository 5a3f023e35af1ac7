"""The onnx flavor with the real onnx, onnxruntime and skl2onnx and (marked ``mlflow``)
the real mlflow: MLmodel sections as MLflow writes them, each loads the other's models,
the graph's own signature, and ``mlcli serve`` and ``mlflow models serve`` answering
alike over real HTTP."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
import warnings
from pathlib import Path
from typing import Any

import pytest

import mlcli
import mlcli.onnx
import mlcli.pyfunc
from mlcli.errors import InvalidInputError
from mlcli.models import Model, save_model
from mlcli.models.environment import read_requirements
from mlcli.models.signature import Schema, TensorSpec

np = pytest.importorskip("numpy")
onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")
skl2onnx = pytest.importorskip("skl2onnx")


@pytest.fixture(scope="module")
def data() -> Any:
    from sklearn.datasets import load_iris

    features, target = load_iris(return_X_y=True)
    return features.astype(np.float32), target


@pytest.fixture(scope="module")
def classifier(data: Any) -> Any:
    from sklearn.linear_model import LogisticRegression

    features, target = data
    return LogisticRegression(max_iter=1000).fit(features, target)


@pytest.fixture(scope="module")
def graph(classifier: Any, data: Any) -> Any:
    """The classifier as ONNX, probabilities as a tensor (no ZipMap)."""
    options = {id(classifier): {"zipmap": False}}
    return skl2onnx.to_onnx(classifier, data[0][:1], options=options)


@pytest.fixture(scope="module")
def mlflow_onnx() -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pytest.importorskip("mlflow")
        import mlflow.onnx
        import mlflow.pyfunc

    return mlflow


def _two_input_graph() -> Any:
    """sum = a + b, of float tensors (-1, 3), built with onnx's helper."""
    helper = onnx.helper
    inputs = [helper.make_tensor_value_info(n, onnx.TensorProto.FLOAT, ["N", 3]) for n in "ab"]
    output = helper.make_tensor_value_info("sum", onnx.TensorProto.FLOAT, ["N", 3])
    node = helper.make_node("Add", ["a", "b"], ["sum"])
    model = helper.make_model(
        helper.make_graph([node], "add", inputs, [output]),
        opset_imports=[helper.make_opsetid("", 17)],
    )
    model.ir_version = 8
    return model


def test_save_writes_mlflows_sections_and_needs_only_onnxruntime(
    tmp_path: Path, graph: Any
) -> None:
    mlcli.onnx.save_model(graph, tmp_path / "m")
    mlmodel = Model.load(tmp_path / "m")
    assert mlmodel.flavors["onnx"] == {
        "code": None,
        "data": "model.onnx",
        "onnx_session_options": None,
        "onnx_version": onnx.__version__,
        "providers": ["CUDAExecutionProvider", "CPUExecutionProvider"],
    }
    assert mlmodel.pyfunc_conf is not None
    assert mlmodel.pyfunc_conf["loader_module"] == "mlflow.onnx"
    assert mlmodel.pyfunc_conf["data"] == "model.onnx"
    names = [line.split("==")[0] for line in read_requirements(tmp_path / "m")]
    assert "onnx" in names and "onnxruntime" in names
    assert not {"scikit-learn", "torch", "skl2onnx", "mlcli"} & set(names)


def test_the_graph_is_the_signature(tmp_path: Path, graph: Any) -> None:
    mlcli.onnx.save_model(graph, tmp_path / "single")
    signature = Model.load(tmp_path / "single").signature
    assert signature is not None
    assert signature.inputs == Schema([TensorSpec("float32", (-1, 4))])  # a bare array fits
    assert signature.outputs == Schema(
        [TensorSpec("int64", (-1,), "label"), TensorSpec("float32", (-1, 3), "probabilities")]
    )
    save_model(_two_input_graph(), tmp_path / "two")  # found by its type
    two = Model.load(tmp_path / "two").signature
    assert two is not None and two.inputs is not None
    assert [(s.name, s.dtype, s.shape) for s in two.inputs.specs] == [  # type: ignore[union-attr]
        ("a", "float32", (-1, 3)),
        ("b", "float32", (-1, 3)),
    ]
    mlcli.onnx.save_model(graph, tmp_path / "none", signature=False)
    assert Model.load(tmp_path / "none").signature is None


def test_pyfunc_predicts_as_the_estimator(
    tmp_path: Path, graph: Any, classifier: Any, data: Any
) -> None:
    import pandas as pd

    features, _ = data
    mlcli.onnx.save_model(graph, tmp_path / "m")
    model = mlcli.pyfunc.load_model(str(tmp_path / "m"))
    answer = model.predict(features.astype(np.float64))  # JSON's float64 is cast
    assert np.array_equal(answer["label"], classifier.predict(features))
    assert np.allclose(answer["probabilities"], classifier.predict_proba(features), atol=1e-5)
    from_frame = model.predict(pd.DataFrame(features))
    assert np.array_equal(from_frame["label"], answer["label"])
    with pytest.raises(InvalidInputError, match="shape"):
        model.predict(features[:, :3])
    session = model.get_raw_model()
    assert session.get_providers() == ["CPUExecutionProvider"]  # CUDA is not in this build


def test_named_inputs_take_a_dict(tmp_path: Path) -> None:
    mlcli.onnx.save_model(_two_input_graph(), tmp_path / "m")
    model = mlcli.pyfunc.load_model(str(tmp_path / "m"))
    a = np.ones((2, 3), dtype=np.float32)
    assert np.array_equal(model.predict({"a": a, "b": a * 2})["sum"], a * 3)
    with pytest.raises(InvalidInputError, match="'b'"):
        model.predict({"a": a})


def test_providers_and_session_options_are_recorded_and_checked(
    tmp_path: Path, graph: Any, data: Any
) -> None:
    options = {"intra_op_num_threads": 1, "execution_mode": "sequential"}
    mlcli.onnx.save_model(
        graph,
        tmp_path / "m",
        onnx_execution_providers=["CPUExecutionProvider"],
        onnx_session_options=options,
    )
    conf = Model.load(tmp_path / "m").flavors["onnx"]
    assert conf["providers"] == ["CPUExecutionProvider"]
    assert conf["onnx_session_options"] == options
    model = mlcli.pyfunc.load_model(str(tmp_path / "m"))
    assert len(model.predict(data[0][:5])["label"]) == 5
    with pytest.raises(InvalidInputError, match="'no_such_option' is not an onnxruntime"):
        mlcli.onnx.save_model(graph, tmp_path / "x", onnx_session_options={"no_such_option": 1})
    with pytest.raises(InvalidInputError, match="execution_mode"):
        mlcli.onnx.save_model(graph, tmp_path / "y", onnx_session_options={"execution_mode": "x"})
    assert not (tmp_path / "x").exists() and not (tmp_path / "y").exists()


def test_log_and_load_by_uri(store: Path, run_id: str, graph: Any, data: Any) -> None:
    info = mlcli.onnx.log_model(graph, name="onnx-model")
    assert info.run_id == run_id and info.model_uri.startswith("models:/m-")
    loaded = mlcli.onnx.load_model(info.model_uri)
    assert isinstance(loaded, onnx.ModelProto)
    assert loaded.graph.SerializeToString() == graph.graph.SerializeToString()
    model = mlcli.pyfunc.load_model(info.run_model_uri)
    assert len(model.predict(data[0][:3])["label"]) == 3


def test_a_file_that_is_no_onnx_model_is_one_line(tmp_path: Path, graph: Any) -> None:
    mlcli.onnx.save_model(graph, tmp_path / "m")
    (tmp_path / "m" / "model.onnx").write_bytes(b"not a protobuf")
    with pytest.raises(InvalidInputError, match="is not a valid ONNX model"):
        mlcli.onnx.load_model(str(tmp_path / "m"))
    with pytest.raises(InvalidInputError, match=r"onnxruntime cannot load .*Protobuf parsing"):
        mlcli.pyfunc.load_model(str(tmp_path / "m"))
    with pytest.raises(InvalidInputError, match=r"expected an onnx\.ModelProto"):
        mlcli.onnx.save_model(b"bytes", tmp_path / "n")


@pytest.mark.mlflow
def test_mlflow_and_mlcli_load_each_others_models(
    tmp_path: Path, graph: Any, classifier: Any, data: Any, mlflow_onnx: Any
) -> None:
    features, _ = data
    mlcli.onnx.save_model(graph, tmp_path / "by-mlcli")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # MLflow warns that CUDA is not in this build
        mlflow_onnx.onnx.save_model(graph, str(tmp_path / "by-mlflow"))
        by_mlflow = mlflow_onnx.pyfunc.load_model(str(tmp_path / "by-mlcli")).predict(features)
        native = mlflow_onnx.onnx.load_model(str(tmp_path / "by-mlcli"))
    assert native.graph.SerializeToString() == graph.graph.SerializeToString()
    assert np.array_equal(by_mlflow["label"], classifier.predict(features))
    theirs, ours = Model.load(tmp_path / "by-mlflow"), Model.load(tmp_path / "by-mlcli")
    assert theirs.flavors == ours.flavors
    mine = mlcli.pyfunc.load_model(str(tmp_path / "by-mlflow")).predict(features)
    assert np.array_equal(mine["label"], by_mlflow["label"])
    assert np.array_equal(mine["probabilities"], by_mlflow["probabilities"])
    assert isinstance(mlcli.onnx.load_model(str(tmp_path / "by-mlflow")), onnx.ModelProto)


# -- serving: both servers on the same model ------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _serve(command: list[str], log: Path, env: dict[str, str], url: str) -> subprocess.Popen[bytes]:
    """Start a scoring server and wait until /ping answers at ``url`` (found in its log
    when empty)."""
    with log.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        assert process.poll() is None, f"{command[:4]} exited:\n{log.read_text()}"
        if not url and (found := re.search(r"on (http://[\d.]+:\d+) with", log.read_text())):
            url = found[1]
        try:
            if url:
                with urllib.request.urlopen(f"{url}/ping", timeout=5) as reply:
                    if reply.status == 200:
                        process.url = url  # type: ignore[attr-defined]
                        return process
        except OSError:
            pass
        time.sleep(0.2)
    process.kill()
    raise AssertionError(f"{command[:4]} was not ready:\n{log.read_text()}")


def _post(url: str, body: dict[str, Any]) -> Any:
    request = urllib.request.Request(
        f"{url}/invocations", json.dumps(body).encode(), {"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read())["predictions"]


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def serve_both(model: Path, tmp_path: Path) -> list[subprocess.Popen[bytes]]:
    """``mlcli serve`` and ``mlflow models serve --env-manager local`` on ``model``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLCLI_STORE", "MLFLOW_"))}
    env.update(PYTHONWARNINGS="ignore", MLFLOW_TRACKING_URI=(tmp_path / "mlruns").as_uri())
    port = _free_port()
    mlflow_command = [
        sys.executable, "-m", "mlflow", "models", "serve", "-m", str(model),
        "--env-manager", "local", "-h", "127.0.0.1", "-p", str(port),
    ]  # fmt: skip
    mlcli_command = [sys.executable, "-m", "mlcli", "serve", "-m", str(model), "--port", "0"]
    first = _serve(mlcli_command, tmp_path / "mlcli.log", env, "")
    try:
        return [
            first,
            _serve(mlflow_command, tmp_path / "mlflow.log", env, f"http://127.0.0.1:{port}"),
        ]
    except BaseException:
        _stop(first)
        raise


@pytest.mark.mlflow
@pytest.mark.slow
def test_mlcli_serve_and_mlflow_models_serve_answer_alike(
    tmp_path: Path, graph: Any, classifier: Any, data: Any, mlflow_onnx: Any
) -> None:
    features, _ = data
    mlcli.onnx.save_model(graph, tmp_path / "model")
    rows = features[:5].astype(float).round(2).tolist()
    bodies = [
        {"inputs": rows},
        {"dataframe_split": {"columns": list(range(4)), "data": rows}},
    ]
    servers = serve_both(tmp_path / "model", tmp_path)
    try:
        answers = [[_post(s.url, body) for s in servers] for body in bodies]  # type: ignore[attr-defined]
    finally:
        for server in servers:
            _stop(server)
    for ours, theirs in answers:
        assert ours == theirs
        assert ours["label"] == classifier.predict(np.asarray(rows, dtype=np.float32)).tolist()


@pytest.mark.mlflow
def test_large_weights_are_saved_beside_the_graph(tmp_path: Path, mlflow_onnx: Any) -> None:
    """As MLflow (save_as_external_data=True): tensors of 1 KB or more go to a file next
    to model.onnx, which both load from the model's folder; the graph saved keeps its
    weights in memory (onnx would move them out of the proto it writes)."""
    helper = onnx.helper
    weights = np.arange(64 * 8, dtype=np.float32).reshape(64, 8) / 100
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["y"])],
        "matmul",
        [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, ["N", 64])],
        [helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, ["N", 8])],
        [onnx.numpy_helper.from_array(weights, "w")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    mlcli.onnx.save_model(model, tmp_path / "m")
    assert [p.suffix for p in (tmp_path / "m").glob("*.data")] == [".data"]
    assert onnx.numpy_helper.to_array(model.graph.initializer[0]).shape == (64, 8)  # kept
    rows = np.ones((3, 64), dtype=np.float32)
    ours = mlcli.pyfunc.load_model(str(tmp_path / "m")).predict(rows)["y"]
    assert np.allclose(ours, rows @ weights)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = mlflow_onnx.pyfunc.load_model(str(tmp_path / "m")).predict(rows)["y"]
    assert np.array_equal(ours, theirs)
    loaded = mlcli.onnx.load_model(str(tmp_path / "m"))
    assert np.array_equal(onnx.numpy_helper.to_array(loaded.graph.initializer[0]), weights)
