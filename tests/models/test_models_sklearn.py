"""The sklearn flavor: real estimators logged to a run and loaded back by runs:/ URI."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import mlcli
import mlcli.sklearn
from mlcli import system_tags
from mlcli.errors import ConflictError, InvalidInputError
from mlcli.models import Model, load_model
from mlcli.models.environment import mlflow_requirement
from mlcli.models.errors import UntrustedModelError

np = pytest.importorskip("numpy")


def test_classifier_round_trip_gives_identical_predictions(
    run_id: str, iris: Any, iris_classifier: Any
) -> None:
    features, _ = iris
    info = mlcli.sklearn.log_model(iris_classifier, "model", input_example=features.head(3))
    assert info.model_uri == f"models:/{info.model_id}" and info.model_id.startswith("m-")
    assert info.run_id == run_id and info.run_model_uri == f"runs:/{run_id}/model"
    model = load_model(f"runs:/{run_id[:8]}/model")
    assert np.array_equal(model.predict(features), iris_classifier.predict(features))
    probabilities = model.predict(features, params={"predict_method": "predict_proba"})
    assert np.allclose(probabilities, iris_classifier.predict_proba(features))
    native = mlcli.sklearn.load_model(info.model_uri)
    assert type(native) is type(iris_classifier)
    assert np.array_equal(native.predict(features), iris_classifier.predict(features))


@pytest.mark.parametrize("serialization_format", ["skops", "cloudpickle", "pickle"])
def test_regressor_round_trip_in_each_format(
    run_id: str, diabetes: Any, diabetes_regressor: Any, serialization_format: str
) -> None:
    features, _ = diabetes
    mlcli.sklearn.log_model(diabetes_regressor, "reg", serialization_format=serialization_format)
    model = load_model(f"runs:/{run_id}/reg")
    assert np.array_equal(model.predict(features), diabetes_regressor.predict(features))
    conf = model.metadata.flavors["sklearn"]
    assert conf["serialization_format"] == serialization_format
    assert conf["pickled_model"] == (
        "model.skops" if serialization_format == "skops" else "model.pkl"
    )
    if serialization_format == "skops":  # a forest needs its Tree class trusted, recorded
        assert conf["skops_trusted_types"] == ["sklearn.tree._tree.Tree"]


def test_the_model_directory_matches_mlflows_layout(
    run_id: str, store: Path, iris: Any, iris_classifier: Any
) -> None:
    features, _ = iris
    mlcli.sklearn.log_model(iris_classifier, "model", input_example=features.head(2))
    directory = store / "runs" / run_id / "artifacts" / "model"
    assert sorted(p.name for p in directory.iterdir()) == [
        "MLmodel",
        "conda.yaml",
        "input_example.json",
        "model.skops",
        "python_env.yaml",
        "requirements.txt",
        "serving_input_example.json",
    ]
    mlmodel = Model.load(directory)
    assert mlmodel.run_id == run_id and mlmodel.artifact_path == "model"
    assert len(mlmodel.model_uuid) == 32 and mlmodel.mlcli_version == mlcli.__version__
    assert mlmodel.model_size_bytes == sum(
        p.stat().st_size for p in directory.iterdir() if p.name != "MLmodel"
    )
    pyfunc = mlmodel.flavors["python_function"]
    assert pyfunc["loader_module"] == "mlflow.sklearn"  # so that MLflow loads it
    assert pyfunc["env"] == {"conda": "conda.yaml", "virtualenv": "python_env.yaml"}
    assert mlmodel.saved_input_example_info == {
        "artifact_path": "input_example.json",
        "type": "dataframe",
        "pandas_orient": "split",
        "serving_input_path": "serving_input_example.json",
    }
    example = json.loads((directory / "input_example.json").read_text())
    assert example["columns"] == list(features.columns)
    serving = json.loads((directory / "serving_input_example.json").read_text())
    assert serving == {"dataframe_split": example}
    requirements = (directory / "requirements.txt").read_text().splitlines()
    assert requirements[0] == mlflow_requirement()  # for MLflow's loader, mlcli not needed
    from importlib.metadata import version

    assert f"scikit-learn=={version('scikit-learn')}" in requirements
    assert f"skops=={version('skops')}" in requirements
    assert "-r requirements.txt" in (directory / "python_env.yaml").read_text()
    # the signature was inferred from the example, outputs by running the model
    assert mlmodel.signature is not None and mlmodel.signature.outputs is not None
    assert mlmodel.signature.to_dict()["outputs"] == (
        '[{"type": "long", "required": true}]'  # a column, as MLflow infers it
    )


def test_each_logged_model_is_recorded_on_the_run(run_id: str, iris_classifier: Any) -> None:
    first = mlcli.sklearn.log_model(iris_classifier, "a")
    mlcli.sklearn.log_model(iris_classifier, "b", serialization_format="cloudpickle")
    history = json.loads(mlcli.get_run(run_id).data.tags[system_tags.LOG_MODEL_HISTORY])
    assert [entry["artifact_path"] for entry in history] == ["a", "b"]
    assert history[0]["model_uuid"] == first.model_uuid
    assert history[0]["run_id"] == run_id
    assert set(history[1]["flavors"]) == {"python_function", "sklearn"}


def test_generic_log_model_finds_the_flavor(run_id: str, iris_classifier: Any) -> None:
    info = mlcli.log_model(iris_classifier, "generic")
    assert "sklearn" in info.flavors
    with pytest.raises(InvalidInputError, match=r"no flavor saves a builtins\.dict"):
        mlcli.log_model({"not": "a model"}, "nope")


def test_a_name_is_logged_once(run_id: str, iris_classifier: Any) -> None:
    mlcli.sklearn.log_model(iris_classifier, "model")
    with pytest.raises(ConflictError, match="already has an artifact at 'model'"):
        mlcli.sklearn.log_model(iris_classifier, "model")
    with pytest.raises(InvalidInputError, match="escapes"):
        mlcli.sklearn.log_model(iris_classifier, "../outside")


def test_log_model_starts_a_run_when_none_is_active(store: Path, iris_classifier: Any) -> None:
    info = mlcli.sklearn.log_model(iris_classifier, "model")
    try:
        assert mlcli.active_run() is not None and mlcli.active_run().run_id == info.run_id
    finally:
        mlcli.end_run()


def test_registered_model_name_is_checked_before_logging(
    run_id: str, store: Path, iris_classifier: Any
) -> None:
    with pytest.raises(InvalidInputError, match="invalid model name"):
        mlcli.sklearn.log_model(iris_classifier, "model", registered_model_name="a/b")
    assert not (store / "runs" / run_id / "artifacts" / "model").exists()


def test_save_model_to_a_path_and_untrusted_skops_types(
    tmp_path: Path, iris: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sklearn.preprocessing import FunctionTransformer

    features, _ = iris
    transformer = FunctionTransformer(_log_plus_one).fit(features)
    with pytest.raises(
        InvalidInputError, match=r"skops does not trust by default: .*_log_plus_one"
    ):
        mlcli.sklearn.save_model(transformer, tmp_path / "t", pyfunc_predict_fn="transform")
    assert not (tmp_path / "t").exists()  # a failed save leaves nothing behind
    trusted = [f"{_log_plus_one.__module__}._log_plus_one"]
    mlcli.sklearn.save_model(
        transformer, tmp_path / "t", pyfunc_predict_fn="transform", skops_trusted_types=trusted
    )
    model = load_model(str(tmp_path / "t"))  # mlcli wrote it: its types are trusted
    assert np.allclose(np.asarray(model.predict(features)), np.log1p(features.to_numpy()))
    monkeypatch.setenv("MLCLI_DATA_DIR", str(tmp_path / "elsewhere"))  # records forgotten
    with pytest.raises(UntrustedModelError, match=r"types mlcli does not trust: .*_log_plus_one"):
        load_model(str(tmp_path / "t"))
    model = load_model(str(tmp_path / "t"), skops_trusted_types=trusted)
    assert np.allclose(np.asarray(model.predict(features)), np.log1p(features.to_numpy()))


def _log_plus_one(x: Any) -> Any:
    return np.log1p(x)


def test_save_model_refuses_a_non_empty_directory(tmp_path: Path, iris_classifier: Any) -> None:
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "file").write_text("x")
    with pytest.raises(ConflictError, match="exists and is not empty"):
        mlcli.sklearn.save_model(iris_classifier, tmp_path / "taken")


def test_the_types_an_mlmodel_file_lists_are_never_trusted(tmp_path: Path) -> None:
    """A skops file holding os.system, and an MLmodel that asks to trust it: refused."""
    import os as os_module

    import skops.io as sio
    from sklearn.preprocessing import FunctionTransformer

    directory = tmp_path / "m"
    mlcli.sklearn.save_model(FunctionTransformer(), directory, pyfunc_predict_fn="transform")
    hostile = FunctionTransformer(func=os_module.system)
    (directory / "model.skops").write_bytes(sio.dumps(hostile))
    mlmodel = Model.load(directory)
    needed = sio.get_untrusted_types(file=directory / "model.skops")
    mlmodel.flavors["sklearn"]["skops_trusted_types"] = needed
    mlmodel.save(directory)
    assert any("system" in name for name in needed)
    with pytest.raises(UntrustedModelError, match=r"types mlcli does not trust: .*system"):
        load_model(str(directory))
    with pytest.raises(UntrustedModelError, match=r"types mlcli does not trust: .*system"):
        mlcli.sklearn.load_model(str(directory))
