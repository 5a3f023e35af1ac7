"""MLflow 3's model-logging arguments (issue 20): ``artifact_path=`` (MLflow's deprecated
name of ``name=``), ``code_paths=[...]`` and models from code
(``python_model="model.py"``), each through mlcli and cross-checked with the real
mlflow: MLflow loads what mlcli saved, mlcli loads what MLflow saved, and both lay the
model out alike. Loads happen in fresh processes, so that a module imported by one
check cannot help the next; a model's code runs only when mlcli wrote it or the user
opted in.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path
from typing import Any

import pytest
import yaml

import mlcli
import mlcli.pyfunc
import mlcli.sklearn
from mlcli.errors import InvalidInputError
from mlcli.models.errors import UntrustedModelError

pytestmark = [pytest.mark.mlflow, pytest.mark.filterwarnings("ignore")]

pd = pytest.importorskip("pandas")
pytest.importorskip("sklearn")
pytest.importorskip("cloudpickle")
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    pytest.importorskip("mlflow")
    import mlflow
    import mlflow.pyfunc
    import mlflow.sklearn

FRAME = {"x": [1.0, 2.0, 3.0]}

HELPER = """\
import numpy as np


def scale(values, factor):
    return [float(v) * factor for v in values]


def times(features, factor):
    return np.asarray(features, dtype=float) * factor
"""

# A model from code, written for mlcli (the import changed from MLflow's example).
MLCLI_MODEL = """\
import mlcli
from helpers.ops import scale


class Scaler(mlcli.pyfunc.PythonModel):
    def load_context(self, context):
        self.factor = context.model_config.get("factor", 1)

    def predict(self, context, model_input, params=None):
        return scale(list(model_input["x"]), self.factor)


mlcli.models.set_model(Scaler())
"""

MLFLOW_MODEL = MLCLI_MODEL.replace("import mlcli\n", "import mlflow\n").replace("mlcli.", "mlflow.")


@pytest.fixture
def project(workdir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A user's folder: a package ``helpers`` and both model files; the current
    directory, as when a user logs from it."""
    folder = tmp_path / "project"
    (folder / "helpers").mkdir(parents=True)
    (folder / "helpers" / "__init__.py").write_text("")
    (folder / "helpers" / "ops.py").write_text(HELPER)
    (folder / "mlcli_model.py").write_text(MLCLI_MODEL)
    (folder / "mlflow_model.py").write_text(MLFLOW_MODEL)
    monkeypatch.chdir(folder)
    monkeypatch.syspath_prepend(str(folder))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", (tmp_path / "mlflow-tracking").as_uri())
    before = list(sys.path)
    yield folder
    for name in [m for m in sys.modules if m == "helpers" or m.startswith("helpers.")]:
        del sys.modules[name]
    sys.path[:] = [p for p in sys.path if p in before or p == str(folder)]  # models' code


def load_elsewhere(loader: str, model: Path, cwd: Path, **env: str) -> subprocess.CompletedProcess:
    """Load ``model`` with ``mlcli`` or ``mlflow`` in a fresh process whose current
    directory is ``cwd`` (away from the user's code), predict on FRAME, print JSON."""
    script = textwrap.dedent(
        f"""
        import json, sys
        import pandas as pd
        if {loader == "mlcli-without-mlflow"}:
            sys.modules["mlflow"] = None  # not installed
        import {"mlflow.pyfunc as api" if loader == "mlflow" else "mlcli.pyfunc as api"}
        model = api.load_model({str(model)!r})
        out = model.predict(pd.DataFrame({FRAME!r}))
        out = out.tolist() if hasattr(out, "tolist") else list(out)
        print(json.dumps([float(v) for v in out]))
        """
    )
    environ = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH",)}
    environ.pop("MLFLOW_ALLOW_PICKLE_DESERIALIZATION", None)
    environ.update(env)
    return subprocess.run(
        [sys.executable, "-c", script], cwd=cwd, env=environ, capture_output=True, text=True,
        timeout=300,
    )  # fmt: skip


def predictions(result: subprocess.CompletedProcess) -> list[float]:
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def flavor_sections(model: Path) -> dict[str, Any]:
    return yaml.safe_load((model / "MLmodel").read_text())["flavors"]


def files_of(model: Path, under: str) -> list[str]:
    return sorted(
        p.relative_to(model).as_posix() for p in (model / under).rglob("*") if p.is_file()
    )


# --- artifact_path= ---------------------------------------------------------------


def test_artifact_path_is_a_deprecated_name_as_in_mlflow(
    run_id: str, diabetes_regressor: Any, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING):
        info = mlcli.sklearn.log_model(diabetes_regressor, artifact_path="regressor")
    assert info.artifact_path == "regressor" and info.run_model_uri == f"runs:/{run_id}/regressor"
    assert "`artifact_path` is deprecated. Please use `name` instead." in caplog.messages
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        mlcli.sklearn.log_model(diabetes_regressor, name="by-name")
    assert not [m for m in caplog.messages if "deprecated" in m]


def test_artifact_path_and_name_together_is_mlflows_error(
    run_id: str, diabetes_regressor: Any
) -> None:
    with pytest.raises(mlflow.exceptions.MlflowException) as theirs:
        mlflow.sklearn.log_model(diabetes_regressor, name="a", artifact_path="b")
    for log in (mlcli.sklearn.log_model, mlcli.models.log_model):
        with pytest.raises(InvalidInputError) as ours:
            log(diabetes_regressor, name="a", artifact_path="b")
        assert str(ours.value) == theirs.value.message
    with pytest.raises(InvalidInputError, match="Both `artifact_path`"):
        mlcli.pyfunc.log_model(name="a", artifact_path="b", python_model="mlcli_model.py")


# --- code_paths= ------------------------------------------------------------------


def _scaler_pipeline(copy_x: bool = True) -> Any:
    """A cloudpickled pipeline calling a function of the user's module ``helpers.ops``:
    loading it imports that module, which only the model's code folder provides."""
    from helpers.ops import times  # type: ignore[import-not-found]
    from sklearn.linear_model import LinearRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer

    pipe = make_pipeline(
        FunctionTransformer(times, kw_args={"factor": 2}), LinearRegression(copy_X=copy_x)
    )
    return pipe.fit(pd.DataFrame(FRAME), [2.0, 4.0, 6.0])


def test_code_paths_are_laid_out_as_mlflow_and_each_loads_the_others(
    project: Path, tmp_path: Path
) -> None:
    pipe = _scaler_pipeline()
    code_paths = ["helpers"]
    ours, theirs = tmp_path / "ours", tmp_path / "theirs"
    mlcli.sklearn.save_model(pipe, ours, serialization_format="cloudpickle", code_paths=code_paths)
    mlflow.sklearn.save_model(  # not the same bytes: mlcli trusts only what it wrote
        _scaler_pipeline(copy_x=False), str(theirs), serialization_format="cloudpickle",
        code_paths=code_paths,
    )  # fmt: skip
    assert (
        files_of(ours, "code")
        == files_of(theirs, "code")
        == [
            "code/helpers/__init__.py",
            "code/helpers/ops.py",
        ]
    )
    for section in ("python_function", "sklearn"):
        assert flavor_sections(ours)[section]["code"] == flavor_sections(theirs)[section]["code"]

    away = tmp_path / "elsewhere"
    away.mkdir()
    allow = {"MLFLOW_ALLOW_MODEL_CODE_EXECUTION": "true"}
    expected = [2.0, 4.0, 6.0]
    assert predictions(load_elsewhere("mlflow", ours, away, **allow)) == pytest.approx(expected)
    assert predictions(load_elsewhere("mlcli", ours, away)) == pytest.approx(expected)
    refused = load_elsewhere("mlcli", theirs, away)  # MLflow wrote it: the opt-in first
    assert refused.returncode != 0 and "refusing to load" in refused.stderr
    allowed = load_elsewhere("mlcli", theirs, away, MLCLI_ALLOW_PICKLE="1")
    assert predictions(allowed) == pytest.approx(expected)


def test_a_custom_model_with_code_paths_loads_in_mlflow_and_mlcli(
    project: Path, tmp_path: Path
) -> None:
    (project / "helpers" / "models.py").write_text(
        "import mlcli.pyfunc\nfrom helpers.ops import scale\n\n"
        "class Doubler(mlcli.pyfunc.PythonModel):\n"
        "    def predict(self, context, model_input, params=None):\n"
        "        return scale(list(model_input['x']), 2)\n"
    )
    from helpers.models import Doubler  # type: ignore[import-not-found]

    model = tmp_path / "doubler"
    mlcli.pyfunc.save_model(model, python_model=Doubler(), code_paths=["helpers"])
    assert flavor_sections(model)["python_function"]["code"] == "code"
    away = tmp_path / "elsewhere"
    away.mkdir()
    allow = {"MLFLOW_ALLOW_MODEL_CODE_EXECUTION": "true"}
    assert predictions(load_elsewhere("mlflow", model, away, **allow)) == [2.0, 4.0, 6.0]
    assert predictions(load_elsewhere("mlcli", model, away)) == [2.0, 4.0, 6.0]


def test_a_changed_code_folder_is_refused_until_trusted(
    project: Path, tmp_path: Path, cli: Any
) -> None:
    model = tmp_path / "m"
    mlcli.pyfunc.save_model(model, python_model="mlcli_model.py", code_paths=["helpers"])
    (model / "code" / "helpers" / "ops.py").write_text(HELPER + "# changed after saving\n")
    with pytest.raises(UntrustedModelError, match=r"its code/ folder .*--allow-pickle"):
        mlcli.pyfunc.load_model(str(model))
    data = tmp_path / "rows.json"
    data.write_text(json.dumps({"dataframe_split": {"columns": ["x"], "data": [[1.0]]}}))
    refused = cli("models", "predict", "-m", str(model), "-i", str(data))
    assert refused.exit_code == 2 and refused.stderr.count("\n") == 1
    assert refused.stderr.startswith("mlcli: error: refusing to load the model in ")
    allowed = cli("models", "predict", "-m", str(model), "-i", str(data), "--allow-pickle")
    assert allowed.exit_code == 0, allowed.stderr
    assert json.loads(allowed.stdout) == {"predictions": [1.0]}


def test_code_paths_must_be_a_list_of_existing_paths(project: Path, tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match=r"code_paths must be a list .* not str"):
        mlcli.pyfunc.save_model(tmp_path / "a", python_model="mlcli_model.py", code_paths="x")
    with pytest.raises(mlcli.errors.NotFoundError, match=r"code path 'nope\.py'"):
        mlcli.pyfunc.save_model(
            tmp_path / "b", python_model="mlcli_model.py", code_paths=["nope.py"]
        )
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


# --- models from code ---------------------------------------------------------------


def test_a_model_from_code_is_saved_as_mlflow_saves_it(project: Path, tmp_path: Path) -> None:
    config = {"factor": 3}
    ours, theirs = tmp_path / "ours", tmp_path / "theirs"
    mlcli.pyfunc.save_model(
        ours, python_model="mlcli_model.py", model_config=config, code_paths=["helpers"]
    )
    mlflow.pyfunc.save_model(
        str(theirs), python_model="mlflow_model.py", model_config=config, code_paths=["helpers"]
    )
    mine, their = (
        flavor_sections(ours)["python_function"],
        flavor_sections(theirs)["python_function"],
    )
    for key in ("loader_module", "config", "code", "streamable"):
        assert mine[key] == their[key], key
    assert mine["loader_module"] == "mlflow.pyfunc.loaders.code_model"
    assert mine["model_code_path"] == str(project / "mlcli_model.py")  # as MLflow: where it was
    assert their["model_code_path"] == str(project / "mlflow_model.py")
    assert (ours / "mlcli_model.py").read_text() == MLCLI_MODEL
    assert not (ours / "python_model.pkl").exists() and not (theirs / "python_model.pkl").exists()
    assert files_of(ours, "code") == files_of(theirs, "code")


def test_mlflow_and_mlcli_load_each_others_models_from_code(
    store: Path, run_id: str, project: Path, tmp_path: Path
) -> None:
    info = mlcli.pyfunc.log_model(
        name="scaler", python_model="mlcli_model.py", model_config={"factor": 3},
        code_paths=["helpers"], input_example=pd.DataFrame(FRAME),
    )  # fmt: skip
    ours = store / "runs" / run_id / "artifacts" / "scaler"
    assert info.run_model_uri == f"runs:/{run_id}/scaler"
    theirs = tmp_path / "theirs"
    mlflow.pyfunc.save_model(
        str(theirs), python_model="mlflow_model.py", model_config={"factor": 3},
        code_paths=["helpers"],
    )  # fmt: skip
    away = tmp_path / "elsewhere"
    away.mkdir()
    allow = {"MLFLOW_ALLOW_MODEL_CODE_EXECUTION": "true"}
    expected = [3.0, 6.0, 9.0]
    assert predictions(load_elsewhere("mlflow", ours, away, **allow)) == expected
    assert predictions(load_elsewhere("mlcli", ours, away, MLCLI_STORE=str(store))) == expected
    # the file imports mlcli, not mlflow: mlcli loads it without MLflow installed
    without = load_elsewhere("mlcli-without-mlflow", ours, away, MLCLI_STORE=str(store))
    assert predictions(without) == expected
    # MLflow's model: its code runs only with the opt-in
    refused = load_elsewhere("mlcli", theirs, away)
    assert refused.returncode != 0
    assert "mlflow_model.py: it is the Python file of a model from code" in refused.stderr
    assert predictions(load_elsewhere("mlcli", theirs, away, MLCLI_ALLOW_PICKLE="1")) == expected
    # the caller's model_config overrides the saved one, in both
    loaded = mlcli.pyfunc.load_model(info.model_uri, model_config={"factor": 10})
    assert list(loaded.predict(pd.DataFrame(FRAME))) == [10.0, 20.0, 30.0]


def test_a_file_that_imports_mlflow_says_so_when_mlflow_is_missing(
    project: Path, tmp_path: Path
) -> None:
    theirs = tmp_path / "theirs"
    mlflow.pyfunc.save_model(str(theirs), python_model="mlflow_model.py", code_paths=["helpers"])
    result = load_elsewhere("mlcli-without-mlflow", theirs, tmp_path, MLCLI_ALLOW_PICKLE="1")
    assert result.returncode != 0
    assert (
        "mlflow_model.py needs the module 'mlflow', which is not installed here; install "
        "mlflow, or import mlcli instead (from mlcli.models import set_model)"
    ) in result.stderr


def test_a_model_file_that_sets_no_model_is_refused_when_saving(
    project: Path, tmp_path: Path
) -> None:
    (project / "empty.py").write_text("x = 1\n")
    with pytest.raises(InvalidInputError, match=r"empty\.py did not set a model"):
        mlcli.pyfunc.save_model(tmp_path / "m", python_model="empty.py")
    with pytest.raises(mlcli.errors.NotFoundError, match=r"Perhaps you meant .*model\.py'"):
        mlcli.pyfunc.save_model(tmp_path / "m", python_model="model")
    assert not (tmp_path / "m").exists()


def test_predict_and_serve_a_model_from_code_once_trusted(
    project: Path, tmp_path: Path, cli: Any
) -> None:
    sys.path.insert(0, str(Path(__file__).parent.parent / "scoring"))
    try:
        from servinghelpers import start_server  # type: ignore[import-not-found]
    finally:
        sys.path.pop(0)
    ours, theirs = tmp_path / "ours", tmp_path / "theirs"
    mlcli.pyfunc.save_model(ours, python_model="mlcli_model.py", code_paths=["helpers"])
    mlflow.pyfunc.save_model(str(theirs), python_model="mlflow_model.py", code_paths=["helpers"])
    body = {"dataframe_split": {"columns": ["x"], "data": [[1.0], [2.0]]}}
    rows = tmp_path / "rows.json"
    rows.write_text(json.dumps(body))

    predicted = cli("models", "predict", "-m", str(ours), "-i", str(rows))
    assert predicted.exit_code == 0, predicted.stderr
    assert json.loads(predicted.stdout) == {"predictions": [1.0, 2.0]}
    refused = cli("models", "predict", "-m", str(theirs), "-i", str(rows))
    assert refused.exit_code == 2 and refused.stderr.count("\n") == 1
    assert "mlflow_model.py: it is the Python file of a model from code" in refused.stderr
    assert "--allow-pickle" in refused.stderr

    environ = {k: v for k, v in os.environ.items() if not k.startswith("MLCLI_")}
    environ["MLCLI_DATA_DIR"] = os.environ["MLCLI_DATA_DIR"]
    not_served = subprocess.run(
        [sys.executable, "-m", "mlcli", "serve", "-m", str(theirs), "--port", "0"],
        capture_output=True, text=True, env=environ, cwd=tmp_path, timeout=120,
    )  # fmt: skip
    assert not_served.returncode == 2 and not_served.stderr.count("\n") == 1, not_served.stderr
    assert "model from code" in not_served.stderr and "--allow-pickle" in not_served.stderr

    for model, extra in ((ours, []), (theirs, ["--allow-pickle"])):
        server = start_server(["-m", str(model), *extra], tmp_path / f"{model.name}.log")
        try:
            reply = server.post(body)
            assert reply.status == 200, reply.body
            assert reply.json() == {"predictions": [1.0, 2.0]}
        finally:
            server.stop()


def test_a_function_set_as_the_model_and_mlflows_model_config(
    project: Path, tmp_path: Path
) -> None:
    """set_model takes a plain function of the input, in both packages; a file using
    MLflow's ModelConfig reads the model's config when mlcli runs it."""
    (project / "fn_mlcli.py").write_text(
        "from mlcli.models import set_model\nset_model(lambda frame: [len(frame)] * len(frame))\n"
    )
    (project / "fn_mlflow.py").write_text(
        "import mlflow\nfrom mlflow.models import ModelConfig\n"
        "config = ModelConfig(development_config={'k': 1})\n"
        "mlflow.models.set_model(lambda frame: [config.get('k')] * len(frame))\n"
    )
    ours, theirs = tmp_path / "ours", tmp_path / "theirs"
    mlcli.pyfunc.save_model(ours, python_model="fn_mlcli.py")
    mlflow.pyfunc.save_model(
        str(theirs), python_model="fn_mlflow.py", model_config={"k": 4},
        input_example=pd.DataFrame(FRAME),
    )  # fmt: skip
    allow = {"MLFLOW_ALLOW_MODEL_CODE_EXECUTION": "true"}
    assert predictions(load_elsewhere("mlflow", ours, tmp_path, **allow)) == [3.0, 3.0, 3.0]
    assert predictions(load_elsewhere("mlcli", ours, tmp_path)) == [3.0, 3.0, 3.0]
    loaded = mlcli.pyfunc.load_model(str(theirs), allow_pickle=True)
    assert list(loaded.predict(pd.DataFrame(FRAME))) == [4, 4, 4]


def test_a_serving_environment_keeps_mlflow_for_code_that_imports_it(
    project: Path, tmp_path: Path
) -> None:
    """mlcli serve's virtualenv leaves the mlflow line out only when mlcli loads the
    model without MLflow: not for a model whose file imports mlflow."""
    from mlcli.scoring.requirements import needs_mlflow

    ours, theirs = tmp_path / "ours", tmp_path / "theirs"
    mlcli.pyfunc.save_model(ours, python_model="mlcli_model.py", code_paths=["helpers"])
    mlflow.pyfunc.save_model(str(theirs), python_model="mlflow_model.py", code_paths=["helpers"])
    assert not needs_mlflow(ours)
    assert needs_mlflow(theirs)
