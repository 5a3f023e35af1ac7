"""Loading a model never runs code the user did not choose to trust (issue 15, finding 1).

The attack: unauthenticated requests to a real ``mlcli server`` create a run, upload a
pickled model whose unpickling writes a marker file, register it and point the alias
``champion`` at it; then the user runs ``mlcli models predict -m
models:/victim@champion``. The pickle must not run unless the user opts in. Models
that mlcli itself wrote with cloudpickle keep loading without the opt-in.
"""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import mlcli.pyfunc
import mlcli.sklearn
from mlcli.client import MlcliClient
from mlcli.models import load_model
from mlcli.models.errors import UntrustedModelError

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tracking_server"))
from trackingserver import TrackingServer, start_tracking_server

pytest.importorskip("uvicorn")
pytest.importorskip("cloudpickle")
pd = pytest.importorskip("pandas")

HERE = Path(__file__).resolve().parent  # AddOne's module, for the processes that load it
# what a process that unpickles AddOne needs on its path: this module and what it imports
MODULE_PATH = os.pathsep.join(str(folder) for folder in (HERE, HERE.parent / "server", HERE.parent))
ROWS = json.dumps({"dataframe_split": {"columns": ["x"], "data": [[1.0], [2.0]]}})
ARTIFACTS = "/api/2.0/mlflow-artifacts/artifacts"


class _WritesMarker:
    """Unpickling this writes ``marker``: what an attacker's pickle does."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        code = f"__import__('pathlib').Path({str(self.marker)!r}).write_text('the pickle ran')"
        return (exec, (code,))


def _hostile_model(marker: Path, flavor: str) -> dict[str, bytes]:
    """The files of a model whose pickle writes ``marker`` when loaded."""
    payload = pickle.dumps(_WritesMarker(marker))
    if flavor == "python_function":
        mlmodel = (
            "flavors:\n  python_function:\n    loader_module: mlcli.pyfunc\n"
            "    python_model: python_model.pkl\n"
        )
        return {"MLmodel": mlmodel.encode(), "python_model.pkl": payload}
    mlmodel = (
        "flavors:\n  python_function:\n    loader_module: mlflow.sklearn\n"
        "    model_path: model.pkl\n  sklearn:\n    pickled_model: model.pkl\n"
        "    serialization_format: cloudpickle\n"
    )
    return {"MLmodel": mlmodel.encode(), "model.pkl": payload}


def _plant_champion(server: TrackingServer, files: dict[str, bytes]) -> None:
    """Five kinds of unauthenticated request: the attack of the issue."""
    created = server.api("POST", "runs/create", {"experiment_id": "0"})
    assert created.status == 200, created.body
    run_id = created.json()["run"]["info"]["run_id"]
    for name, data in files.items():
        put = server.request(
            "PUT",
            f"{ARTIFACTS}/0/{run_id}/artifacts/model/{name}",
            data,
            content_type="application/octet-stream",
        )
        assert put.status == 200, put.body
    steps = [
        ("registered-models/create", {"name": "victim"}),
        (
            "model-versions/create",
            {"name": "victim", "source": f"runs:/{run_id}/model", "run_id": run_id},
        ),
        ("registered-models/alias", {"name": "victim", "alias": "champion", "version": "1"}),
    ]
    for endpoint, body in steps:
        reply = server.api("POST", endpoint, body)
        assert reply.status == 200, (endpoint, reply.body)


def _mlcli(store: Path, *args: str, env: dict[str, str] | None = None) -> Any:
    environ = {k: v for k, v in os.environ.items() if k != "MLCLI_ALLOW_PICKLE"}
    environ.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "mlcli", "--store", str(store), *args],
        capture_output=True,
        text=True,
        timeout=300,
        env=environ,
    )


@pytest.mark.parametrize("flavor", ["python_function", "sklearn"])
def test_a_pickle_planted_through_the_server_does_not_run(tmp_path: Path, flavor: str) -> None:
    store = tmp_path / ".mlruns"
    marker = tmp_path / "pwned"
    server = start_tracking_server(store, tmp_path / "server.log")
    try:
        _plant_champion(server, _hostile_model(marker, flavor))
    finally:
        server.stop()
    (tmp_path / "rows.json").write_text(ROWS)
    (tmp_path / "rows.csv").write_text("x,y\n1.0,2.0\n2.0,3.0\n")
    for command in (
        ["models", "predict", "-m", "models:/victim@champion", "-i", str(tmp_path / "rows.json")],
        ["evaluate", "-m", "models:/victim@champion", "-d", str(tmp_path / "rows.csv"),
         "--target", "y"],
    ):  # fmt: skip
        result = _mlcli(store, *command)
        assert result.returncode == 2, result.stderr
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1, result.stderr
        assert "refusing to load" in lines[0] and "--allow-pickle" in lines[0], lines[0]
        assert "MLCLI_ALLOW_PICKLE=1" in lines[0]
        assert not marker.exists(), command
    assert not (store / "trusted").exists() or not any((store / "trusted").iterdir())
    # the user's explicit opt-in, and only that, lets the pickle run
    opted_in = _mlcli(store, "models", "predict", "-m", "models:/victim@champion",
                      "-i", str(tmp_path / "rows.json"), "--allow-pickle")  # fmt: skip
    assert marker.exists(), opted_in.stderr


def test_the_opt_in_variables_let_a_pickle_in(tmp_path: Path) -> None:
    model = tmp_path / "model"
    model.mkdir()
    marker = tmp_path / "ran"
    for name, data in _hostile_model(marker, "python_function").items():
        (model / name).write_bytes(data)
    with pytest.raises(UntrustedModelError, match="--allow-pickle"):
        load_model(str(model))
    assert not marker.exists()
    for variable, value in (
        ("MLCLI_ALLOW_PICKLE", "1"),
        ("MLFLOW_ALLOW_MODEL_CODE_EXECUTION", "true"),
        ("MLFLOW_ALLOW_PICKLE_DESERIALIZATION", "true"),
    ):
        marker.unlink(missing_ok=True)
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv(variable, value)
            with pytest.raises(Exception):  # noqa: B017 - the payload is no model
                load_model(str(model))
        assert marker.exists(), variable
    marker.unlink()
    for variable in ("MLFLOW_ALLOW_MODEL_CODE_EXECUTION", "MLFLOW_ALLOW_PICKLE_DESERIALIZATION"):
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv(variable, "false")
            with pytest.raises(UntrustedModelError):
                load_model(str(model))
        assert not marker.exists()


class AddOne(mlcli.pyfunc.PythonModel):
    def predict(self, context: Any, model_input: Any, params: Any = None) -> Any:
        return (model_input["x"] + 1).tolist()


def test_models_mlcli_logged_with_cloudpickle_load_without_ceremony(
    tmp_path: Path, iris: Any, iris_classifier: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Logged and registered, then predicted by a new process with no opt-in."""
    store = tmp_path / ".mlruns"
    monkeypatch.setenv("MLCLI_STORE", str(store))
    client = MlcliClient(store)
    run = client.create_run()
    mlcli.pyfunc.log_model("custom", python_model=AddOne(), run_id=run.run_id)
    mlcli.sklearn.log_model(
        iris_classifier, "iris", serialization_format="cloudpickle", run_id=run.run_id
    )
    client.register_model(f"runs:/{run.run_id}/custom", "custom")
    client.set_registered_model_alias("custom", "champion", "1")
    (tmp_path / "rows.json").write_text(ROWS)
    # a fresh process, and no per-user records: the store's records vouch for the files
    env = {"MLCLI_DATA_DIR": str(tmp_path / "elsewhere"), "PYTHONPATH": MODULE_PATH}
    result = _mlcli(store, "models", "predict", "-m", "models:/custom@champion",
                    "-i", str(tmp_path / "rows.json"), env=env)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"predictions": [2.0, 3.0]}
    features, _ = iris
    estimator = mlcli.sklearn.load_model(f"runs:/{run.run_id}/iris")
    assert list(estimator.predict(features)) == list(iris_classifier.predict(features))


def test_a_model_saved_outside_a_store_loads_for_its_user_only(tmp_path: Path) -> None:
    mlcli.pyfunc.save_model(tmp_path / "m", python_model=AddOne())
    frame = pd.DataFrame({"x": [1.0]})
    assert load_model(str(tmp_path / "m")).predict(frame) == [2.0]
    with pytest.MonkeyPatch.context() as patch:  # another user: other records
        patch.setenv("MLCLI_DATA_DIR", str(tmp_path / "someone-else"))
        with pytest.raises(UntrustedModelError, match=r"python_model\.pkl"):
            load_model(str(tmp_path / "m"))


def test_a_changed_pickle_is_no_longer_trusted(tmp_path: Path) -> None:
    mlcli.pyfunc.save_model(tmp_path / "m", python_model=AddOne())
    marker = tmp_path / "ran"
    (tmp_path / "m" / "python_model.pkl").write_bytes(pickle.dumps(_WritesMarker(marker)))
    with pytest.raises(UntrustedModelError, match="mlcli did not write it"):
        load_model(str(tmp_path / "m"))
    assert not marker.exists()


def test_a_code_folder_is_put_on_the_path_only_with_the_opt_in(tmp_path: Path) -> None:
    """Modules in a model's code/ folder would shadow any module imported after it."""
    from mlcli.models import Model

    mlcli.pyfunc.save_model(tmp_path / "m", python_model=AddOne())
    code = tmp_path / "m" / "code"
    code.mkdir()
    (code / "skops.py").write_text("raise SystemExit('an impostor ran')\n")
    mlmodel = Model.load(tmp_path / "m")
    mlmodel.flavors["python_function"]["code"] = "code"
    mlmodel.save(tmp_path / "m")
    with pytest.raises(UntrustedModelError, match="code/ folder"):
        load_model(str(tmp_path / "m"))
    assert str(code) not in sys.path
    assert not _paths_holding(code / "skops.py")
    load_model(str(tmp_path / "m"), allow_pickle=True)
    staged = _paths_holding(code / "skops.py")  # the bytes checked, copied for this process
    try:
        assert len(staged) == 1 and staged[0] != str(code)
    finally:
        for path in staged:
            sys.path.remove(path)


def _paths_holding(module: Path) -> list[str]:
    """The entries of sys.path that hold a copy of ``module``."""
    return [
        entry
        for entry in sys.path
        if entry
        and (Path(entry) / module.name).is_file()
        and (Path(entry) / module.name).read_bytes() == module.read_bytes()
    ]


def test_skops_trusts_scikit_learn_classes_but_not_functions_it_did_not_write(
    tmp_path: Path, iris: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """mlcli's trust list for a skops file it did not write: classes of scikit-learn,
    NumPy and SciPy (a forest's Tree), not functions (here numpy's exec-ing runstring)."""
    import numpy as np
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.preprocessing import FunctionTransformer

    features, labels = iris
    forest = RandomForestClassifier(n_estimators=3, random_state=0).fit(features, labels)
    mlcli.sklearn.save_model(forest, tmp_path / "forest")
    runner = FunctionTransformer(np.testing.runstring)
    mlcli.sklearn.save_model(
        runner,
        tmp_path / "runner",
        pyfunc_predict_fn="transform",
        skops_trusted_types=["numpy.testing._private.utils.runstring"],
    )
    monkeypatch.setenv("MLCLI_DATA_DIR", str(tmp_path / "another-user"))
    loaded = mlcli.sklearn.load_model(str(tmp_path / "forest"))
    assert list(loaded.predict(features)) == list(forest.predict(features))
    with pytest.raises(UntrustedModelError, match=r"does not trust: numpy\.testing.*runstring"):
        mlcli.sklearn.load_model(str(tmp_path / "runner"))
