"""Custom models: a PythonModel with an artifact file, logged, loaded and run."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import mlcli
import mlcli.pyfunc
from mlcli.errors import InvalidInputError
from mlcli.models import Model, SchemaEnforcementError, infer_signature, load_model
from mlcli.models.environment import mlflow_requirement

pd = pytest.importorskip("pandas")


class AddOffset(mlcli.pyfunc.PythonModel):
    """Adds the number stored in the artifact file "offset" to column x."""

    def load_context(self, context: mlcli.pyfunc.PythonModelContext) -> None:
        self.offset = float(Path(context.artifacts["offset"]).read_text())
        self.labels = json.loads(Path(context.artifacts["labels"], "labels.json").read_text())

    def predict(self, context: Any, model_input: Any, params: dict[str, Any] | None = None) -> Any:
        scale = (params or {}).get("scale", 1)
        return (model_input["x"] + self.offset) * scale


class NoContext(mlcli.pyfunc.PythonModel):
    """MLflow also allows ``predict(model_input)`` without context or params."""

    def predict(self, model_input: Any) -> Any:  # type: ignore[override]
        return [len(model_input)]


@pytest.fixture
def artifacts(tmp_path: Path) -> dict[str, str]:
    (tmp_path / "offset.txt").write_text("10")
    (tmp_path / "labels").mkdir()
    (tmp_path / "labels" / "labels.json").write_text('["a", "b"]')
    return {"offset": str(tmp_path / "offset.txt"), "labels": str(tmp_path / "labels")}


def test_custom_model_with_artifacts_round_trips(
    run_id: str, store: Path, artifacts: dict[str, str]
) -> None:
    frame = pd.DataFrame({"x": [1.0, 2.5]})
    info = mlcli.pyfunc.log_model(
        "custom", python_model=AddOffset(), artifacts=artifacts, input_example=frame
    )
    directory = store / "runs" / run_id / "artifacts" / "custom"
    assert (directory / "artifacts" / "offset.txt").read_text() == "10"
    assert (directory / "artifacts" / "labels" / "labels.json").is_file()
    model = load_model(info.model_uri)
    assert model.predict(frame).tolist() == [11.0, 12.5]
    assert model.predict(frame, params={"scale": 2}).tolist() == [22.0, 25.0]
    assert model.unwrap_python_model().labels == ["a", "b"]
    conf = Model.load(directory).flavors["python_function"]
    assert conf["loader_module"] == "mlflow.pyfunc.model"  # MLflow loads it without mlcli
    assert conf["python_model"] == "python_model.pkl"
    assert conf["artifacts"]["offset"]["path"] == "artifacts/offset.txt"
    requirements = (directory / "requirements.txt").read_text().splitlines()
    assert requirements[0] == mlflow_requirement()
    assert any(line.startswith("cloudpickle==") for line in requirements)


def test_the_artifacts_are_read_from_the_model_not_the_original(
    tmp_path: Path, artifacts: dict[str, str]
) -> None:
    mlcli.pyfunc.save_model(tmp_path / "m", AddOffset(), artifacts)
    Path(artifacts["offset"]).write_text("99")  # the copy in the model is what counts
    model = load_model(str(tmp_path / "m"))
    assert model.predict(pd.DataFrame({"x": [0.0]})).tolist() == [10.0]


def test_the_signature_is_enforced_before_the_model_runs(
    tmp_path: Path, artifacts: dict[str, str]
) -> None:
    signature = infer_signature(pd.DataFrame({"x": [1.0]}))
    mlcli.pyfunc.save_model(tmp_path / "m", AddOffset(), artifacts, signature=signature)
    model = load_model(str(tmp_path / "m"))
    with pytest.raises(SchemaEnforcementError, match="input is missing column 'x' \\(double\\)"):
        model.predict(pd.DataFrame({"y": [1.0]}))
    assert model.predict({"x": [1, 2]}).tolist() == [11.0, 12.0]  # ints become doubles


def test_predict_without_context_or_params(tmp_path: Path) -> None:
    mlcli.pyfunc.save_model(tmp_path / "m", NoContext())
    model = load_model(str(tmp_path / "m"))
    assert model.predict(pd.DataFrame({"x": [1, 2, 3]})) == [3]


def test_generic_log_model_with_python_model(run_id: str, artifacts: dict[str, str]) -> None:
    info = mlcli.log_model(python_model=AddOffset(), name="generic", artifacts=artifacts)
    assert list(info.flavors) == ["python_function"]
    assert load_model(info.model_uri).predict(pd.DataFrame({"x": [1.0]})).tolist() == [11.0]


def test_only_python_models_are_accepted(tmp_path: Path) -> None:
    with pytest.raises(
        InvalidInputError, match=r"must be an instance of mlcli\.pyfunc\.PythonModel"
    ):
        mlcli.pyfunc.save_model(tmp_path / "m", object())  # type: ignore[arg-type]
    with pytest.raises(Exception, match="no such file or directory"):
        mlcli.pyfunc.save_model(tmp_path / "n", NoContext(), {"a": str(tmp_path / "missing")})
