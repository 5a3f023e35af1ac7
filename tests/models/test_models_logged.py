"""MLflow 3's logged models from log_model: ModelInfo's attributes, ``models:/m-<id>``
loading everywhere a model URI is taken, and the run's path still loading."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import mlcli
import mlcli.models
import mlcli.pyfunc
import mlcli.sklearn
from mlcli.errors import InvalidInputError, NotFoundError
from mlcli.models import parse_model_uri
from mlcli.models.uri import LoggedModelUri, resolve_model_uri

np = pytest.importorskip("numpy")


def test_log_model_gives_mlflow_3s_model_info(run_id: str, iris: Any, iris_classifier: Any) -> None:
    features, _ = iris
    info = mlcli.sklearn.log_model(iris_classifier, name="clf", input_example=features.head(2))
    assert info.model_id is not None and info.model_id.startswith("m-")
    assert info.model_uri == f"models:/{info.model_id}"
    assert (info.name, info.artifact_path, info.run_id) == ("clf", "clf", run_id)
    assert info.run_model_uri == f"runs:/{run_id}/clf"
    assert set(info.flavors) == {"python_function", "sklearn"}
    assert info.signature is not None and info.registered_model_version is None
    stored = resolve_model_uri(info.model_uri).directory / "MLmodel"
    assert f"model_id: {info.model_id}" in stored.read_text()  # as MLflow 3 writes it
    logged = mlcli.get_logged_model(info.model_id)
    assert (logged.model_id, logged.name, logged.source_run_id) == (info.model_id, "clf", run_id)
    assert logged.status == "READY" and logged.model_uri == info.model_uri
    expected = iris_classifier.predict(features)
    for uri in (info.model_uri, info.run_model_uri):
        assert np.array_equal(mlcli.pyfunc.load_model(uri).predict(features), expected)
    assert np.array_equal(mlcli.sklearn.load_model(info.model_uri).predict(features), expected)


def test_a_logged_model_id_registers_with_the_runs_path_as_source(
    run_id: str, iris: Any, iris_classifier: Any
) -> None:
    info = mlcli.sklearn.log_model(iris_classifier, name="clf")
    version = mlcli.register_model(info.model_uri, "iris")
    assert version.version == 1 and version.run_id == run_id
    assert version.source == f"runs:/{run_id}/clf"
    registered = mlcli.sklearn.log_model(
        iris_classifier, name="again", registered_model_name="iris"
    )
    assert registered.registered_model_version == 2
    assert registered.model_uri == f"models:/{registered.model_id}"


def test_logged_model_uris_parse_and_refuse_unknown_ids(store: Path) -> None:
    model_id = "m-" + "0" * 32
    assert parse_model_uri(f"models:/{model_id}") == LoggedModelUri(model_id)
    assert str(parse_model_uri(f"models:/{model_id}")) == f"models:/{model_id}"
    with pytest.raises(NotFoundError, match="no logged model with id"):
        resolve_model_uri(f"models:/{model_id}")
    with pytest.raises(InvalidInputError, match=r"models:/m-<logged model id>"):
        parse_model_uri("models:/m-123")


def test_models_predict_takes_a_logged_model_uri(
    cli: Any, store: Path, iris: Any, iris_classifier: Any, workdir: Path
) -> None:
    features, _ = iris
    with mlcli.start_run():
        info = mlcli.sklearn.log_model(iris_classifier, "model", input_example=features.head(2))
    rows = features.head(3)
    body = {"dataframe_split": {"columns": list(rows.columns), "data": rows.values.tolist()}}
    result = cli("models", "predict", "-m", info.model_uri, input=json.dumps(body))
    assert result.exit_code == 0, result.stderr
    assert result.json() == {"predictions": iris_classifier.predict(rows).tolist()}
    result = cli("models", "predict", "-m", "models:/m-" + "f" * 32, input=json.dumps(body))
    assert result.exit_code != 0 and "no logged model with id" in result.stderr
    assert "Traceback" not in result.stderr


def test_fluent_logged_model_api_as_mlflow_3(store: Path, iris: Any, iris_classifier: Any) -> None:
    with mlcli.start_run(experiment="logged") as run:
        first = mlcli.sklearn.log_model(iris_classifier, name="model")
        second = mlcli.sklearn.log_model(iris_classifier, name="another_model")
    assert mlcli.last_logged_model().model_id == second.model_id
    mlcli.set_logged_model_tags(first.model_id, {"release": "v1", "score": 3})
    assert mlcli.get_logged_model(first.model_id).tags == {"release": "v1", "score": "3"}
    experiment = run.info.experiment_id
    listed = mlcli.search_logged_models([experiment], output_format="list")
    assert [m.name for m in listed] == ["another_model", "model"]
    found = mlcli.search_logged_models(
        [experiment], filter_string="tags.release = 'v1'", output_format="list"
    )
    assert [m.model_id for m in found] == [first.model_id]
    ascending = mlcli.search_logged_models(
        [experiment],
        order_by=[{"field_name": "creation_time", "ascending": True}],
        output_format="list",
    )
    assert [m.name for m in ascending] == ["model", "another_model"]
    frame = mlcli.search_logged_models([experiment], filter_string="name = 'model'")
    assert frame["model_id"].tolist() == [first.model_id]
    assert frame["source_run_id"].tolist() == [run.info.run_id]
    assert frame["status"].tolist() == ["READY"]
    with pytest.raises(InvalidInputError, match="logged model filter"):
        mlcli.search_logged_models([experiment], filter_string="bogus ~ 1")
    with pytest.raises(NotFoundError):
        mlcli.get_logged_model("m-" + "a" * 32)


@pytest.mark.parametrize(
    "name",
    ["get_logged_model", "last_logged_model", "set_logged_model_tags", "search_logged_models"],
)
def test_logged_model_functions_take_mlflows_parameters(name: str) -> None:
    import inspect

    mlflow = pytest.importorskip("mlflow")
    theirs = list(inspect.signature(getattr(mlflow, name)).parameters)
    assert list(inspect.signature(getattr(mlcli, name)).parameters) == theirs


def test_get_model_info_by_either_uri(run_id: str, iris: Any, iris_classifier: Any) -> None:
    features, _ = iris
    info = mlcli.sklearn.log_model(iris_classifier, name="clf", input_example=features.head(2))
    for uri in (info.model_uri, info.run_model_uri):
        found = mlcli.models.get_model_info(uri)
        assert (found.model_id, found.model_uri, found.run_id) == (
            info.model_id,
            info.model_uri,
            run_id,
        )
        assert found.artifact_path == "clf" and found.model_uuid == info.model_uuid
        assert found.signature == info.signature and set(found.flavors) == set(info.flavors)


def test_models_predict_writes_mlflows_answer(
    run_id: str, iris: Any, iris_classifier: Any, tmp_path: Path, capsys: Any
) -> None:
    features, _ = iris
    info = mlcli.sklearn.log_model(iris_classifier, name="clf", input_example=features.head(2))
    rows = features.head(3)
    expected = {"predictions": iris_classifier.predict(rows).tolist()}
    mlcli.models.predict(info.model_uri, input_data=rows, env_manager="local")
    assert json.loads(capsys.readouterr().out) == expected
    rows.to_csv(tmp_path / "rows.csv", index=False)
    out = tmp_path / "out.json"
    mlcli.models.predict(
        info.model_uri, input_path=str(tmp_path / "rows.csv"), content_type="csv",
        output_path=str(out),
    )  # fmt: skip
    assert json.loads(out.read_text()) == expected
    with pytest.raises(InvalidInputError, match="env_manager='virtualenv' is not supported"):
        mlcli.models.predict(info.model_uri, input_data=rows, env_manager="virtualenv")
    with pytest.raises(InvalidInputError, match="exactly one of input_data and input_path"):
        mlcli.models.predict(info.model_uri)


def test_models_predict_answers_as_mlflows_on_the_same_model(
    run_id: str, iris: Any, iris_classifier: Any, tmp_path: Path, capsys: Any
) -> None:
    import subprocess
    import sys

    pytest.importorskip("mlflow")
    features, _ = iris
    info = mlcli.sklearn.log_model(iris_classifier, name="clf", input_example=features.head(2))
    directory = str(resolve_model_uri(info.model_uri).directory)
    rows = features.head(4)
    mlcli.models.predict(info.model_uri, input_data=rows, env_manager="local")
    ours = json.loads(capsys.readouterr().out)
    rows.to_json(tmp_path / "rows.json", orient="split")
    code = (
        "import sys, pandas, mlflow.models\n"
        "rows = pandas.read_json(sys.argv[2], orient='split')\n"
        "mlflow.models.predict(sys.argv[1], input_data=rows, env_manager='local',"
        " output_path=sys.argv[3])\n"
    )
    out = tmp_path / "theirs.json"
    done = subprocess.run(
        [sys.executable, "-c", code, directory, str(tmp_path / "rows.json"), str(out)],
        cwd=tmp_path, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert ours == json.loads(out.read_text())


def test_get_model_dependencies_gives_the_requirements_file(
    run_id: str, iris_classifier: Any
) -> None:
    info = mlcli.sklearn.log_model(iris_classifier, name="clf")
    path = Path(mlcli.pyfunc.get_model_dependencies(info.model_uri))
    assert path.name == "requirements.txt" and "scikit-learn" in path.read_text()
    conda = Path(mlcli.pyfunc.get_model_dependencies(info.run_model_uri, format="conda"))
    assert conda.name == "conda.yaml" and conda.is_file()
    with pytest.raises(InvalidInputError, match="format must be 'pip' or 'conda'"):
        mlcli.pyfunc.get_model_dependencies(info.model_uri, format="wheel")


@pytest.mark.parametrize(
    ("ours", "theirs"),
    [
        ("mlcli.models:get_model_info", "mlflow.models:get_model_info"),
        ("mlcli.models:predict", "mlflow.models:predict"),
        ("mlcli.pyfunc:get_model_dependencies", "mlflow.pyfunc:get_model_dependencies"),
    ],
)
@pytest.mark.filterwarnings("ignore::UserWarning")  # mlflow.pyfunc's own, on import
def test_model_helpers_take_mlflows_parameters(ours: str, theirs: str) -> None:
    import importlib
    import inspect

    pytest.importorskip("mlflow")

    def parameters(spec: str) -> list[str]:
        module, _, name = spec.partition(":")
        return list(inspect.signature(getattr(importlib.import_module(module), name)).parameters)

    assert parameters(ours) == parameters(theirs)
