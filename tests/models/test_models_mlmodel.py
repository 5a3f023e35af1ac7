"""The MLmodel file and the environment files beside it."""

from __future__ import annotations

import platform
from pathlib import Path
from typing import Any

import pytest
import yaml

import mlcli
import mlcli.sklearn
from mlcli.errors import InvalidInputError, NotFoundError
from mlcli.models import Model, load_model
from mlcli.models.environment import mlflow_requirement

# Written by MLflow 3.18's mlflow.sklearn.log_model, trimmed.
MLFLOW_MLMODEL = """\
artifact_path: file:///tmp/mlruns/1/models/m-e96c/artifacts
flavors:
  python_function:
    env: {conda: conda.yaml, virtualenv: python_env.yaml}
    loader_module: mlflow.sklearn
    model_path: model.skops
    predict_fn: predict
    python_version: 3.11.7
  sklearn:
    code: null
    pickled_model: model.skops
    serialization_format: skops
    sklearn_version: 1.9.1
    skops_trusted_types: null
is_signature_from_type_hint: false
mlflow_version: 3.18.0
model_id: m-e96cbef6e357458f92ccf90795c36e79
model_size_bytes: 5666
model_uuid: m-e96cbef6e357458f92ccf90795c36e79
prompts: null
run_id: 236e9016bac44a0b9b9cdd8caaa975f1
saved_input_example_info: {artifact_path: input_example.json, pandas_orient: split,
                           serving_input_path: serving_input_example.json, type: dataframe}
signature:
  inputs: '[{"type": "double", "name": "x", "required": true}]'
  outputs: '[{"type": "double", "required": true}]'
  params: null
type_hint_from_example: false
utc_time_created: '2026-11-23 13:02:09.573728'
"""


def test_an_mlflow_mlmodel_reads_and_writes_back_unchanged(tmp_path: Path) -> None:
    (tmp_path / "MLmodel").write_text(MLFLOW_MLMODEL)
    model = Model.load(tmp_path)
    assert model.run_id == "236e9016bac44a0b9b9cdd8caaa975f1"
    assert model.pyfunc_conf is not None and model.pyfunc_conf["loader_module"] == "mlflow.sklearn"
    assert model.signature is not None and model.signature.inputs is not None
    assert model.signature.inputs.names() == ["x"]
    assert model.extra["mlflow_version"] == "3.18.0" and model.mlcli_version is None
    original = yaml.safe_load(MLFLOW_MLMODEL)
    assert yaml.safe_load(model.to_yaml()) == original


def test_broken_mlmodel_files_are_one_line_errors(tmp_path: Path) -> None:
    with pytest.raises(NotFoundError, match="it has no MLmodel file"):
        Model.load(tmp_path)
    (tmp_path / "MLmodel").write_text("flavors: [unclosed\n")
    with pytest.raises(InvalidInputError, match="is not valid YAML") as caught:
        Model.load(tmp_path)
    assert "\n" not in str(caught.value)
    (tmp_path / "MLmodel").write_text("flavors: 3\n")
    with pytest.raises(InvalidInputError, match="'flavors' must map names to mappings"):
        Model.load(tmp_path)


def test_an_unsupported_loader_module_is_named(tmp_path: Path) -> None:
    Model(flavors={"python_function": {"loader_module": "mlflow.catboost"}}).save(tmp_path)
    with pytest.raises(
        InvalidInputError, match=r"needs loader module 'mlflow\.catboost'.*supported: "
    ):
        load_model(str(tmp_path))


def test_environment_files(tmp_path: Path, iris_classifier: Any) -> None:
    mlcli.sklearn.save_model(
        iris_classifier, tmp_path / "m", extra_pip_requirements=["requests>=2"]
    )
    directory = tmp_path / "m"
    requirements = (directory / "requirements.txt").read_text().splitlines()
    assert requirements[0] == mlflow_requirement() and requirements[-1] == "requests>=2"
    assert not [line for line in requirements if "mlcli" in line]
    python_env = yaml.safe_load((directory / "python_env.yaml").read_text())
    assert python_env["python"] == platform.python_version()
    assert python_env["dependencies"] == ["-r requirements.txt"]
    assert python_env["build_dependencies"][0].startswith("pip==")
    conda = yaml.safe_load((directory / "conda.yaml").read_text())
    assert conda["dependencies"][0] == f"python={platform.python_version()}"
    assert conda["dependencies"][-1] == {"pip": requirements}


def test_pip_requirements_replace_the_detected_ones(tmp_path: Path, iris_classifier: Any) -> None:
    mlcli.sklearn.save_model(iris_classifier, tmp_path / "m", pip_requirements=["scikit-learn"])
    # MLflow is added as MLflow adds it: its loader and server load the model
    text = (tmp_path / "m" / "requirements.txt").read_text()
    assert text == f"{mlflow_requirement()}\nscikit-learn\n"


def test_a_missing_optional_package_names_what_to_install() -> None:
    from mlcli.errors import EnvironmentFailure
    from mlcli.models.packages import require

    with pytest.raises(EnvironmentFailure) as caught:
        require("no_such_package_xyz", "loading this model")
    assert str(caught.value) == (
        "loading this model needs the 'no_such_package_xyz' package, which is not installed: "
        "pip install no_such_package_xyz"
    )
