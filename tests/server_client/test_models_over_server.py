"""Models end to end against a team server (``MLCLI_STORE=http://...``): logged inside
a run, loaded by ``runs:/`` and ``models:/`` URIs, predicted, served, evaluated, and
logged by the entry point of ``mlcli run``. The files must land in the server's store;
a client reads them through its own cache."""

from __future__ import annotations

import json
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from trackingserver import TrackingServer

import mlcli
import mlcli.pyfunc
import mlcli.sklearn
from mlcli.errors import ConflictError, NotFoundError
from mlcli.models.errors import UntrustedModelError

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scoring"))
from servinghelpers import start_server as start_scoring_server

pytest.importorskip("sklearn")
pd = pytest.importorskip("pandas")

# every test that takes served_store runs on a directory and on a bucket + PostgreSQL
SERVED_BOTH_WAYS = True


class AddOne(mlcli.pyfunc.PythonModel):
    def predict(self, context: Any, model_input: Any, params: Any = None) -> Any:
        return (model_input["x"] + 1).tolist()


@pytest.fixture
def iris() -> tuple[Any, Any]:
    from sklearn.datasets import load_iris

    features, target = load_iris(return_X_y=True, as_frame=True)
    return features, target


@pytest.fixture
def classifier(iris: tuple[Any, Any]) -> Any:
    from sklearn.linear_model import LogisticRegression

    features, target = iris
    return LogisticRegression(max_iter=1000).fit(features, target)


@pytest.fixture
def server_env(served_store: TrackingServer, monkeypatch: pytest.MonkeyPatch) -> str:
    """MLCLI_STORE names the server for this process and the ones it starts."""
    monkeypatch.setenv("MLCLI_STORE", served_store.url)
    return served_store.url


@pytest.fixture
def logged(server_env: str, iris: tuple[Any, Any], classifier: Any) -> str:
    """A classifier logged to a finished run on the server, registered as ``iris``;
    returns the run id."""
    with mlcli.start_run() as run:
        info = mlcli.sklearn.log_model(
            classifier, "model", input_example=iris[0].head(2), registered_model_name="iris"
        )
    assert info.registered_model_version == 1
    return run.run_id


@pytest.fixture
def rows_json(tmp_path: Path, iris: tuple[Any, Any]) -> Path:
    rows = iris[0].head(5)
    path = tmp_path / "rows.json"
    path.write_text(
        json.dumps(
            {"dataframe_split": {"columns": list(rows.columns), "data": rows.values.tolist()}}
        )
    )
    return path


def artifacts_on_server(server: TrackingServer, run_id: str, tmp_path: Path) -> Path:
    """The run's artifacts folder as the server stores it (of a team store: a copy of
    what its bucket holds, fetched by a second opener of the store)."""
    own = server.own_store()
    if isinstance(own, Path):
        return own / "runs" / run_id / "artifacts"
    try:
        return own.artifacts(run_id).download("", tmp_path / f"bucket-{run_id[:8]}")
    finally:
        own.close()


def test_a_logged_model_lands_on_the_server_and_loads_back_by_its_uris(
    logged: str,
    served_store: TrackingServer,
    iris: tuple[Any, Any],
    classifier: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    folder = artifacts_on_server(served_store, logged, tmp_path) / "model"
    assert (folder / "MLmodel").is_file() and (folder / "input_example.json").is_file()
    features = iris[0]
    expected = list(classifier.predict(features))
    tags = mlcli.MlcliClient().get_run(logged).data.tags
    assert json.loads(tags["mlcli.log-model.history"])[0]["artifact_path"] == "model"

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "another-machine"))  # an empty cache
    for uri in (f"runs:/{logged}/model", f"runs:/{logged[:8]}/model", "models:/iris/1"):
        assert list(mlcli.pyfunc.load_model(uri).predict(features)) == expected
    assert list(mlcli.sklearn.load_model(f"runs:/{logged}/model").predict(features)) == expected
    with pytest.raises(NotFoundError, match="has no model at 'elsewhere'"):
        mlcli.pyfunc.load_model(f"runs:/{logged}/elsewhere")


def test_a_pickled_model_is_trusted_by_the_client_that_logged_it_only(
    server_env: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with mlcli.start_run() as run:
        mlcli.log_model(python_model=AddOne(), name="custom")
    frame = pd.DataFrame({"x": [1.0, 2.0]})

    assert mlcli.pyfunc.load_model(f"runs:/{run.run_id}/custom").predict(frame) == [2.0, 3.0]
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "another-machine"))
    monkeypatch.setenv("MLCLI_DATA_DIR", str(tmp_path / "another-user"))
    with pytest.raises(UntrustedModelError):
        mlcli.pyfunc.load_model(f"runs:/{run.run_id}/custom")
    loaded = mlcli.pyfunc.load_model(f"runs:/{run.run_id}/custom", allow_pickle=True)
    assert loaded.predict(frame) == [2.0, 3.0]


def test_a_second_model_under_the_same_name_is_refused_even_from_another_cache(
    logged: str, classifier: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "another-machine"))
    with pytest.raises(ConflictError, match="already has an artifact at 'model'"):
        mlcli.sklearn.log_model(classifier, "model", run_id=logged)


def test_models_predict_reads_a_model_from_the_server(
    logged: str, mlcli_process: Any, rows_json: Path, classifier: Any, iris: tuple[Any, Any]
) -> None:
    expected = {"predictions": classifier.predict(iris[0].head(5)).tolist()}
    for uri in (f"runs:/{logged}/model", "models:/iris/1"):
        result = mlcli_process("models", "predict", "-m", uri, "-i", str(rows_json))
        assert json.loads(result.stdout) == expected
    missing = mlcli_process(
        "models", "predict", "-m", f"runs:/{logged}/nothing", "-i", str(rows_json), check=False
    )
    assert missing.returncode == 2
    assert missing.stderr.splitlines() == [
        f"mlcli: error: run {logged[:8]} has no model at 'nothing'"
    ]


def test_serve_a_model_fetched_from_the_server(
    logged: str, server_env: str, tmp_path: Path, classifier: Any, iris: tuple[Any, Any]
) -> None:
    rows = iris[0].head(3)
    scoring = start_scoring_server(
        ["-m", f"runs:/{logged}/model", "--workers", "2"],  # workers open the store anew
        tmp_path / "serve.log",
        env={"MLCLI_STORE": server_env, "XDG_CACHE_HOME": str(tmp_path / "serving-cache")},
    )
    try:
        reply = scoring.post(
            {"dataframe_split": {"columns": list(rows.columns), "data": rows.values.tolist()}}
        )
    finally:
        scoring.stop()
    assert reply.status == 200
    assert json.loads(reply.body) == {"predictions": classifier.predict(rows).tolist()}


def test_evaluate_logs_its_metrics_and_plots_to_the_server(
    logged: str,
    mlcli_process: Any,
    served_store: TrackingServer,
    iris: tuple[Any, Any],
    tmp_path: Path,
) -> None:
    features, target = iris
    features.assign(species=target).to_csv(tmp_path / "iris.csv", index=False)
    run_id = mlcli_process("runs", "create", "--experiment", "eval", "-q").stdout.strip()

    result = mlcli_process(
        "evaluate", "-m", f"runs:/{logged}/model", "--data", str(tmp_path / "iris.csv"),
        "--target", "species", "--model-type", "classifier", "--run", run_id,
    )  # fmt: skip

    assert "accuracy_score" in result.stdout
    shown = json.loads(mlcli_process("runs", "show", run_id, "--json").stdout)
    assert {"accuracy_score", "f1_score", "roc_auc"} <= set(shown["metrics"])
    on_server = artifacts_on_server(served_store, run_id, tmp_path)
    assert (on_server / "confusion_matrix.png").stat().st_size > 1000
    assert json.loads((on_server / "confusion_matrix.json").read_text())["labels"] == [0, 1, 2]


PROJECT = {
    "MLproject": """
        name: on-a-server
        entry_points:
          main:
            command: "python train.py && mlcli log metric from_shell 7"
    """,
    "train.py": """
        import os
        import mlcli, mlcli.sklearn
        from sklearn.datasets import load_iris
        from sklearn.linear_model import LogisticRegression

        features, target = load_iris(return_X_y=True, as_frame=True)
        with mlcli.start_run() as run:
            mlcli.log_metric("from_python", 1.5)
            model = LogisticRegression(max_iter=1000).fit(features, target)
            mlcli.sklearn.log_model(model, "model")
        print("store:", os.environ["MLCLI_STORE"])
        print("logged into", run.run_id)
    """,
}


def test_mlcli_run_of_a_project_logs_to_the_server(
    served_store: TrackingServer,
    mlcli_process: Any,
    tmp_path: Path,
    rows_json: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    project = tmp_path / "project"
    project.mkdir()
    for name, text in PROJECT.items():
        (project / name).write_text(textwrap.dedent(text).lstrip())
    url = served_store.url

    result = mlcli_process("--store", url, "run", str(project), "--json")

    outcome = json.loads(result.stdout)
    run_id = outcome["run_id"]
    assert outcome["status"] == "FINISHED"
    on_server = artifacts_on_server(served_store, run_id, tmp_path)
    stdout = (on_server / "logs" / "stdout.txt").read_text()
    assert f"store: {url}\nlogged into {run_id}\n" in stdout
    assert (on_server / "model" / "MLmodel").is_file()
    shown = json.loads(mlcli_process("--store", url, "runs", "show", run_id, "--json").stdout)
    assert shown["metrics"] == {"from_python": 1.5, "from_shell": 7.0}
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "another-machine"))
    predicted = mlcli_process(
        "--store", url, "models", "predict", "-m", f"runs:/{run_id}/model", "-i", str(rows_json)
    )
    assert len(json.loads(predicted.stdout)["predictions"]) == 5


MLFLOW_TRAIN = """
import warnings
warnings.simplefilter("ignore")
import mlflow
with mlflow.start_run():
    mlflow.log_metric("loss", 0.25, step=1)
    mlflow.log_dict({"alpha": 0.3}, "config.json")
"""


@pytest.mark.slow
@pytest.mark.mlflow
def test_an_mlflow_entry_point_logs_to_the_server_the_run_lives_on(
    served_store: TrackingServer, mlcli_process: Any, tmp_path: Path
) -> None:
    pytest.importorskip("mlflow")
    project = tmp_path / "project"
    project.mkdir()
    (project / "MLproject").write_text(
        "name: compat\nentry_points:\n  main:\n    command: python train.py\n"
    )
    (project / "train.py").write_text(MLFLOW_TRAIN)
    url = served_store.url

    result = mlcli_process("--store", url, "run", str(project), "--mlflow-compat", "--json")

    run_id = json.loads(result.stdout)["run_id"]
    shown = json.loads(mlcli_process("--store", url, "runs", "show", run_id, "--json").stdout)
    assert shown["metrics"] == {"loss": 0.25}
    on_server = artifacts_on_server(served_store, run_id, tmp_path)
    assert json.loads((on_server / "config.json").read_text()) == {"alpha": 0.3}
    listed = mlcli_process("--store", url, "runs", "list", "--json").stdout
    assert [r["run_id"] for r in json.loads(listed)] == [run_id]  # no second run
