"""Interoperability with the real mlflow package: each loads the other's models.

Skipped when mlflow is not installed (it is in the dev extra). MLflow 3 refuses to
deserialize any sklearn or pickled model unless MLFLOW_ALLOW_PICKLE_DESERIALIZATION is
true, so the tests that load through MLflow's own loaders set it, as a user would.
mlcli loads a pickle that MLflow wrote only with the opt-in (allow_pickle=True, or that
same variable): the tests that load one through mlcli unset the variable first, check
the refusal, then opt in explicitly.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import pytest

import mlcli.pyfunc
import mlcli.sklearn
from mlcli.models import SchemaEnforcementError, load_model
from mlcli.models.errors import UntrustedModelError

pytestmark = [pytest.mark.mlflow, pytest.mark.filterwarnings("ignore")]

np = pytest.importorskip("numpy")
pd = pytest.importorskip("pandas")
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    pytest.importorskip("mlflow")
    import mlflow
    import mlflow.pyfunc
    import mlflow.sklearn


class MlflowAddOffset(mlflow.pyfunc.PythonModel):
    def load_context(self, context: Any) -> None:
        self.offset = float(Path(context.artifacts["offset"]).read_text())

    # Unannotated: MLflow derives a signature from predict's type hints and objects to
    # Any (it still notes, harmlessly, that hints could enable validation).
    def predict(self, context, model_input, params=None):  # type: ignore[no-untyped-def]
        return model_input["x"] + self.offset


class MlcliAddOffset(mlcli.pyfunc.PythonModel):
    def load_context(self, context: Any) -> None:
        self.offset = float(Path(context.artifacts["offset"]).read_text())

    def predict(self, context: Any, model_input: Any, params: Any = None) -> Any:
        return model_input["x"] + self.offset


@pytest.fixture(autouse=True)
def _mlflow_environment(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLFLOW_ALLOW_PICKLE_DESERIALIZATION", "true")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", (workdir / "mlflow-tracking").as_uri())


@pytest.fixture
def offset_file(tmp_path: Path) -> str:
    path = tmp_path / "offset.txt"
    path.write_text("10")
    return str(path)


@pytest.mark.parametrize("serialization_format", ["skops", "cloudpickle"])
def test_a_model_saved_by_mlflow_sklearn_loads_in_mlcli(
    tmp_path: Path,
    iris: Any,
    iris_classifier: Any,
    serialization_format: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    features, _ = iris
    mlflow.sklearn.save_model(
        iris_classifier,
        str(tmp_path / "m"),
        serialization_format=serialization_format,
        input_example=features.head(3),
    )
    monkeypatch.delenv("MLFLOW_ALLOW_PICKLE_DESERIALIZATION")
    # No record of what mlcli wrote: another test that saved this very classifier with
    # mlcli wrote the same pickle bytes, which would make MLflow's file trusted.
    monkeypatch.setenv("MLCLI_DATA_DIR", str(tmp_path / "mlcli-data"))
    pickled = serialization_format != "skops"  # skops loads with mlcli's own trust list
    if pickled:
        with pytest.raises(UntrustedModelError, match="--allow-pickle"):
            load_model(str(tmp_path / "m"))
        with pytest.raises(UntrustedModelError, match="--allow-pickle"):
            mlcli.sklearn.load_model(str(tmp_path / "m"))
    model = load_model(str(tmp_path / "m"), allow_pickle=pickled)
    assert np.array_equal(model.predict(features), iris_classifier.predict(features))
    with pytest.raises(SchemaEnforcementError, match="missing column 'petal width \\(cm\\)'"):
        model.predict(features.drop(columns=["petal width (cm)"]))  # MLflow's signature, enforced
    estimator = mlcli.sklearn.load_model(str(tmp_path / "m"), allow_pickle=pickled)
    assert np.array_equal(estimator.predict(features), iris_classifier.predict(features))


def test_a_custom_model_saved_by_mlflow_loads_in_mlcli_only_when_trusted(
    tmp_path: Path, offset_file: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    mlflow.pyfunc.save_model(
        str(tmp_path / "m"), python_model=MlflowAddOffset(), artifacts={"offset": offset_file}
    )
    monkeypatch.delenv("MLFLOW_ALLOW_PICKLE_DESERIALIZATION")
    with pytest.raises(UntrustedModelError, match=r"python_model\.pkl.*--allow-pickle"):
        load_model(str(tmp_path / "m"))
    model = load_model(str(tmp_path / "m"), allow_pickle=True)
    assert model.predict(pd.DataFrame({"x": [1.0, 2.0]})).tolist() == [11.0, 12.0]
    monkeypatch.setenv("MLFLOW_ALLOW_PICKLE_DESERIALIZATION", "true")  # MLflow's opt-in
    model = load_model(str(tmp_path / "m"))
    assert model.predict(pd.DataFrame({"x": [1.0, 2.0]})).tolist() == [11.0, 12.0]


def test_an_sklearn_model_saved_by_mlcli_loads_in_mlflow(
    tmp_path: Path, diabetes: Any, diabetes_regressor: Any
) -> None:
    features, _ = diabetes
    mlcli.sklearn.save_model(diabetes_regressor, tmp_path / "m", input_example=features.head(3))
    model = mlflow.pyfunc.load_model(str(tmp_path / "m"))
    assert np.array_equal(model.predict(features), diabetes_regressor.predict(features))
    assert model.metadata.get_input_schema().input_names() == list(features.columns)
    estimator = mlflow.sklearn.load_model(str(tmp_path / "m"))
    assert np.array_equal(estimator.predict(features), diabetes_regressor.predict(features))


def test_a_custom_model_logged_by_mlcli_loads_in_mlflow(
    run_id: str, store: Path, offset_file: str
) -> None:
    frame = pd.DataFrame({"x": [1.0, 2.0]})
    info = mlcli.pyfunc.log_model(
        "custom",
        python_model=MlcliAddOffset(),
        artifacts={"offset": offset_file},
        input_example=frame,
    )
    directory = store / "runs" / run_id / "artifacts" / "custom"
    model = mlflow.pyfunc.load_model(str(directory))
    assert model.predict(frame).tolist() == [11.0, 12.0]
    assert model.predict(frame).tolist() == load_model(info.model_uri).predict(frame).tolist()
    with pytest.raises(mlflow.exceptions.MlflowException, match="x"):
        model.predict(pd.DataFrame({"y": [1.0]}))  # MLflow enforces mlcli's signature too
