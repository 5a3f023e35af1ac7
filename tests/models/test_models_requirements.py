"""What a model saved by mlcli needs: never mlcli (not on PyPI; ``mlflow models serve``
failed on every mlcli model with "No matching distribution found for mlcli==0.1.0"),
MLflow for MLflow's loaders, the flavor's packages; a custom model whose class comes
from a module that imports mlcli carries a wheel of it. Every line must resolve:
``pip install --dry-run`` against the package index (PyPI) proves it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import mlcli.pyfunc
import mlcli.sklearn
from mlcli.models.environment import mlflow_requirement
from mlcli.models.pickle_scan import imported_modules, imports_package
from mlcli.scoring.requirements import requirement_name, serving_requirements

# A custom model whose class is defined in __main__ (as in a script or a notebook).
SAVE_SCRIPT = """
import sys
import mlcli.pyfunc

class Double(mlcli.pyfunc.PythonModel):
    def predict(self, context, model_input, params=None):
        return model_input["x"] * 2

mlcli.pyfunc.save_model(sys.argv[1], python_model=Double())
"""

# MLflow loads the models with mlcli made impossible to import.
LOAD_SCRIPT = """
import json, sys
class NoMlcli:
    def find_spec(self, name, path=None, target=None):
        if name == "mlcli" or name.startswith("mlcli."):
            raise ImportError("mlcli is not installed here")
sys.meta_path.insert(0, NoMlcli())
import pandas as pd
import mlflow.pyfunc
answers = {}
for path in sys.argv[1:]:
    model = mlflow.pyfunc.load_model(path)
    answers[path] = [float(v) for v in model.predict(pd.DataFrame({"x": [1.0, 3.0]}))]
print(json.dumps(answers))
"""


PIP_DRY_RUN = (
    sys.executable,
    "-m",
    "pip",
    "install",
    "--dry-run",
    "--no-deps",
    "--ignore-installed",
)
PIP_DRY_RUN += ("--disable-pip-version-check", "-q")


class ImportedDouble(mlcli.pyfunc.PythonModel):
    """Pickled by reference: loading it imports this module, which imports mlcli."""

    def predict(self, context: Any, model_input: Any, params: Any = None) -> Any:
        return model_input["x"] * 2


def run(*argv: str, cwd: Path | None = None, env: dict[str, str] | None = None) -> str:
    import os

    done = subprocess.run(
        argv,
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**os.environ, **(env or {})},
        check=False,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def resolves(model: Path) -> subprocess.CompletedProcess[str]:
    """``pip install --dry-run`` of the model's requirements.txt, from the model's folder
    (as MLflow's virtualenv installs it), without dependencies: each line must name
    something the index (or the model) has."""
    return subprocess.run(
        [*PIP_DRY_RUN, "-r", "requirements.txt"],
        capture_output=True,
        text=True,
        cwd=model,
        check=False,
        timeout=300,
    )


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory, iris: Any) -> dict[str, Path]:
    from sklearn.linear_model import LinearRegression

    folder = tmp_path_factory.mktemp("models")
    pd = pytest.importorskip("pandas")
    regressor = LinearRegression().fit(pd.DataFrame({"x": [0.0, 1.0, 2.0]}), [0.0, 2.0, 4.0])
    mlcli.sklearn.save_model(regressor, folder / "skops")
    mlcli.sklearn.save_model(regressor, folder / "cloudpickle", serialization_format="cloudpickle")
    (folder / "save.py").write_text(SAVE_SCRIPT)
    run(sys.executable, str(folder / "save.py"), str(folder / "main"))
    mlcli.pyfunc.save_model(folder / "imported", python_model=ImportedDouble())
    return {p.name: p for p in folder.iterdir() if p.is_dir()}


def requirements(model: Path) -> list[str]:
    return (model / "requirements.txt").read_text().splitlines()


def test_no_model_requires_mlcli_from_an_index(models: dict[str, Path]) -> None:
    for name, model in models.items():
        lines = requirements(model)
        assert lines[0] == mlflow_requirement(), name
        assert "mlcli" not in {requirement_name(line) for line in lines}, name
    assert [line.split("==")[0] for line in requirements(models["skops"])] == [
        "mlflow",
        "scikit-learn",
        "skops",
        "pandas",
    ]
    assert "cloudpickle" in requirements(models["cloudpickle"])[2]
    assert [line.split("==")[0] for line in requirements(models["main"])] == [
        "mlflow",
        "cloudpickle",
    ]


def test_a_class_from_a_module_that_imports_mlcli_carries_a_wheel(models: dict[str, Path]) -> None:
    wheels = list((models["imported"] / "wheels").glob("mlcli-*-py3-none-any.whl"))
    assert len(wheels) == 1
    lines = requirements(models["imported"])
    assert f"wheels/{wheels[0].name}" in lines
    assert {"pyyaml", "typer"} <= {requirement_name(line) for line in lines}  # mlcli's own
    assert not (models["main"] / "wheels").exists()


@pytest.mark.slow
def test_every_requirement_line_resolves(models: dict[str, Path], tmp_path: Path) -> None:
    old = tmp_path / "old"  # what mlcli wrote before: the check must catch it
    old.mkdir()
    (old / "requirements.txt").write_text(f"mlcli=={mlcli.__version__}\n")
    refused = resolves(old)
    if "No matching distribution found for mlcli" not in refused.stderr:
        pytest.skip(f"the package index cannot be reached: {refused.stderr[-300:]}")
    for name, model in models.items():
        done = resolves(model)
        assert done.returncode == 0, (name, done.stderr[-2000:])


@pytest.mark.mlflow
@pytest.mark.slow
def test_mlflow_loads_them_without_mlcli(models: dict[str, Path], tmp_path: Path) -> None:
    pytest.importorskip("mlflow")
    (tmp_path / "load.py").write_text(LOAD_SCRIPT)
    paths = [str(models[name]) for name in ("skops", "cloudpickle", "main")]
    out = run(
        sys.executable,
        str(tmp_path / "load.py"),
        *paths,
        env={"MLFLOW_ALLOW_MODEL_CODE_EXECUTION": "true", "PYTHONWARNINGS": "ignore"},
    )
    answers = json.loads(out.strip().splitlines()[-1])
    assert all(values == pytest.approx([2.0, 6.0]) for values in answers.values()), answers


def test_a_loaded_custom_model_saves_again(models: dict[str, Path], tmp_path: Path) -> None:
    pd = pytest.importorskip("pandas")
    loaded = mlcli.pyfunc.load_model(str(models["main"]))  # its base class rebuilt by value
    mlcli.pyfunc.save_model(tmp_path / "again", python_model=loaded.unwrap_python_model())
    again = mlcli.pyfunc.load_model(str(tmp_path / "again"))
    assert again.predict(pd.DataFrame({"x": [2.0]})).tolist() == [4.0]


def test_mlcli_serves_its_models_without_mlflow_or_their_mlcli_wheel(
    models: dict[str, Path], tmp_path: Path
) -> None:
    for name in ("skops", "main", "imported"):
        names = {requirement_name(line) for line in serving_requirements(models[name]).model}
        assert not names & {"mlflow", "mlcli"}, name
        assert not [line for line in serving_requirements(models[name]).model if "wheels/" in line]


@pytest.mark.mlflow
@pytest.mark.filterwarnings("ignore")
def test_a_model_deriving_from_mlflows_class_keeps_mlflow(tmp_path: Path) -> None:
    mlflow_pyfunc = pytest.importorskip("mlflow.pyfunc")

    class FromMlflow(mlflow_pyfunc.PythonModel):  # type: ignore[misc,name-defined]
        def predict(self, context: Any, model_input: Any, params: Any = None) -> Any:
            return model_input

    mlcli.pyfunc.save_model(tmp_path / "m", python_model=FromMlflow())  # type: ignore[arg-type]
    assert imports_package((tmp_path / "m" / "python_model.pkl").read_bytes(), "mlflow")
    kept = {requirement_name(line) for line in serving_requirements(tmp_path / "m").model}
    assert kept & {"mlflow", "mlflow-skinny"}  # the distribution its class comes from


def test_the_pickle_scan_reads_modules_without_loading() -> None:
    import collections
    import pickle

    cloudpickle = pytest.importorskip("cloudpickle")
    for protocol in (0, 2, 5):
        data = pickle.dumps(collections.OrderedDict(a=1), protocol=protocol)
        assert imported_modules(data) == {"collections"}
    by_reference = cloudpickle.dumps(ImportedDouble())
    assert imported_modules(by_reference) == {ImportedDouble.__module__}
    source = "import json\ndef f():\n    return json.dumps\n"
    namespace: dict[str, Any] = {"__name__": "__main__"}
    exec(compile(source, "<script>", "exec"), namespace)
    assert "json" in imported_modules(cloudpickle.dumps(namespace["f"]))  # via subimport
    assert imported_modules(b"not a pickle") == set()
