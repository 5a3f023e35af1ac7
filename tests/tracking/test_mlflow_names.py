"""MLflow's Python names on ``import mlcli as mlflow`` (issue 20, "Missing or renamed").

Two kinds of test. The audit compares, with ``inspect.signature``, each listed name of
the real ``mlflow`` package with mlcli's: every parameter MLflow's takes is accepted
by name, and its positional parameters come in MLflow's order, so a call written for
MLflow binds the same way (it fails when a name regresses). The others call the
names as MLflow's documentation does, positionally and by keyword, on a real store,
and check what a user would read back.
"""

from __future__ import annotations

import importlib
import inspect
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

import mlcli
import mlcli as mlflow  # the import MLflow's tutorials change, and nothing else
from mlcli.errors import InvalidInputError, NotFoundError

pytest.importorskip("mlflow")
pd = pytest.importorskip("pandas")

FLUENT = [
    "set_tracking_uri", "get_tracking_uri", "create_experiment", "get_experiment",
    "get_experiment_by_name", "search_experiments", "delete_experiment", "set_experiment",
    "set_experiment_tag", "set_experiment_tags", "get_artifact_uri", "search_runs",
    "start_run", "end_run", "active_run", "last_active_run", "get_run", "log_input",
    "log_metric", "log_metrics", "log_param", "log_params", "set_tag", "set_tags",
    "delete_tag", "log_artifact", "log_artifacts", "log_text", "log_dict", "log_figure",
    "register_model", "run",
]  # fmt: skip
CLIENT = [
    "create_experiment", "get_experiment", "get_experiment_by_name", "search_experiments",
    "delete_experiment", "restore_experiment", "rename_experiment", "set_experiment_tag",
    "delete_experiment_tag", "create_run", "get_run", "get_parent_run", "search_runs",
    "set_terminated", "update_run", "delete_run", "restore_run", "log_metric", "log_param",
    "set_tag", "delete_tag", "log_batch", "log_inputs", "get_metric_history",
    "log_artifact", "log_artifacts", "log_text", "log_dict", "list_artifacts",
    "download_artifacts", "create_registered_model", "get_registered_model",
    "search_registered_models", "update_registered_model", "rename_registered_model",
    "delete_registered_model", "set_registered_model_tag", "delete_registered_model_tag",
    "create_model_version", "get_model_version", "search_model_versions",
    "update_model_version", "set_model_version_tag", "delete_model_version_tag",
    "delete_model_version", "transition_model_version_stage", "get_latest_versions",
    "get_model_version_download_uri", "get_model_version_stages",
    "set_registered_model_alias", "delete_registered_model_alias",
    "get_model_version_by_alias",
]  # fmt: skip
OTHERS = [
    ("mlflow.projects:run", "mlcli.projects:run"),
    ("mlflow.models.signature:infer_signature", "mlcli.models.signature:infer_signature"),
    ("mlflow.models:infer_signature", "mlcli.models:infer_signature"),
    ("mlflow.models:ModelSignature", "mlcli.models:ModelSignature"),
    ("mlflow.types:Schema", "mlcli.types:Schema"),
    ("mlflow.types:ColSpec", "mlcli.types:ColSpec"),
    ("mlflow.types:TensorSpec", "mlcli.types:TensorSpec"),
    ("mlflow.types:ParamSchema", "mlcli.types:ParamSchema"),
    ("mlflow.types:ParamSpec", "mlcli.types:ParamSpec"),
    ("mlflow.entities:Metric", "mlcli.entities:Metric"),
    ("mlflow.entities:Param", "mlcli.entities:Param"),
    ("mlflow.entities:RunTag", "mlcli.entities:RunTag"),
    ("mlflow.entities:ExperimentTag", "mlcli.entities:ExperimentTag"),
    ("mlflow.entities:InputTag", "mlcli.entities:InputTag"),
    *[(f"mlflow:{name}", f"mlcli:{name}") for name in FLUENT],
    *[
        (f"mlflow.tracking:MlflowClient.{name}", f"mlcli.tracking:MlflowClient.{name}")
        for name in CLIENT
    ],
]
# Positions that keep mlcli's name while MLflow's name is a keyword for the same value
# (so ``Schema([...])`` and ``Schema(inputs=[...])`` both work): (mlcli's name, position).
SAME_POSITION_OTHER_NAME = {
    "mlcli.types:Schema": {0},
    "mlcli.types:TensorSpec": {0},
    "mlcli.types:ParamSchema": {0},
    "mlcli.types:ParamSpec": {1},
}


def _resolve(path: str) -> Any:
    module, _, attribute = path.partition(":")
    found: Any = importlib.import_module(module)
    for part in attribute.split("."):
        found = getattr(found, part)
    return found


def _parameters(function: Any) -> list[inspect.Parameter]:
    return [p for p in inspect.signature(function).parameters.values() if p.name != "self"]


def _gaps(
    theirs: list[inspect.Parameter],
    ours: list[inspect.Parameter],
    renamed_positions: set[int] | frozenset[int] = frozenset(),
) -> list[str]:
    """What a call written for MLflow's signature would not bind the same on ours;
    ``renamed_positions``: positions whose name differs, MLflow's being a keyword."""
    names = {p.name for p in ours}
    takes_any_keyword = any(p.kind is p.VAR_KEYWORD for p in ours)
    positional = [p for p in ours if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    gaps = []
    for index, parameter in enumerate(theirs):
        if parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
            continue
        if parameter.name not in names and not takes_any_keyword:
            gaps.append(f"no parameter {parameter.name!r}")
        if parameter.kind is parameter.POSITIONAL_OR_KEYWORD:
            if index >= len(positional):
                gaps.append(f"{parameter.name!r} (position {index}) is not positional")
            elif positional[index].name != parameter.name and index not in renamed_positions:
                gaps.append(
                    f"position {index} is {positional[index].name!r}, MLflow's {parameter.name!r}"
                )
    return gaps


@pytest.mark.parametrize(("mlflow_path", "mlcli_path"), OTHERS, ids=[o[1] for o in OTHERS])
def test_each_listed_name_binds_mlflows_calls(mlflow_path: str, mlcli_path: str) -> None:
    theirs, ours = _parameters(_resolve(mlflow_path)), _parameters(_resolve(mlcli_path))
    assert _gaps(theirs, ours, SAME_POSITION_OTHER_NAME.get(mlcli_path, set())) == []


def test_the_client_takes_mlflows_constructor_keywords() -> None:
    from mlflow.tracking import MlflowClient as Theirs

    from mlcli.tracking import MlflowClient

    ours = {p.name for p in _parameters(MlflowClient.__init__)}
    theirs = {p.name for p in _parameters(Theirs.__init__)} - {"workspace_store_uri"}
    assert theirs <= ours  # workspace_store_uri: MLflow 3.18's workspaces, not in mlcli


def test_the_audit_notices_a_renamed_or_moved_parameter() -> None:
    def mlflows(run_id=None, experiment_id=None, run_name=None): ...  # type: ignore[no-untyped-def]
    def renamed(run_id=None, experiment=None, run_name=None): ...  # type: ignore[no-untyped-def]
    def moved(run_id=None, run_name=None, *, experiment_id=None): ...  # type: ignore[no-untyped-def]

    assert _gaps(_parameters(mlflows), _parameters(mlflows)) == []
    assert _gaps(_parameters(mlflows), _parameters(renamed)) == [
        "no parameter 'experiment_id'",
        "position 1 is 'experiment', MLflow's 'experiment_id'",
    ]
    assert _gaps(_parameters(mlflows), _parameters(moved)) == [
        "position 1 is 'run_name', MLflow's 'experiment_id'",
        "'run_name' (position 2) is not positional",
    ]


# -- the names, called as MLflow's documentation calls them --------------------------------


def test_modules_are_reached_as_attributes_of_the_package() -> None:
    from mlflow.entities import ViewType as TheirViewType

    assert mlflow.tracking.MlflowClient is mlflow.MlcliClient
    assert mlflow.entities.Metric("m", 0.5, 1_700_000_000_000, 3).step == 3
    assert mlflow.types.Schema([mlflow.types.ColSpec("double", "x")]).input_names() == ["x"]
    assert mlflow.models.signature.infer_signature is mlflow.models.infer_signature
    assert mlflow.run is mlflow.projects.run
    assert TheirViewType.ALL == 3  # what search_runs(run_view_type=ViewType.ALL) passes


def test_fluent_calls_in_mlflows_positional_order(store_root: Path) -> None:
    from mlflow.entities import ViewType

    experiment_id = mlflow.create_experiment("docs", None, {"team": "vision"})
    assert mlflow.set_experiment("docs", None, None).experiment_id == experiment_id
    # start_run(run_id, experiment_id, run_name, nested, parent_run_id, tags, description)
    with mlflow.start_run(None, experiment_id, "outer", False, None, {"k": "v"}, "notes") as run:
        run_id = run.info.run_id
        with mlflow.start_run(None, None, "inner", True) as child:
            mlflow.log_metric("loss", 0.5, 1, True)  # key, value, step, synchronous
        mlflow.log_metric("loss", 0.25, step=2, timestamp=1_700_000_000_000)
        mlflow.log_metrics({"acc": 0.9}, 2, True, None, 1_700_000_000_000)
        mlflow.log_param("lr", 0.1, True)
        mlflow.log_params({"depth": 3}, True, child.info.run_id)  # another run's
        mlflow.set_tag("stage", "dev", True)
        mlflow.set_tags({"owner": "me"}, True)
        mlflow.log_text("hello", "notes/hello.txt", None)
        mlflow.log_dict({"a": 1}, "config.json", run_id)
    stored = mlflow.get_run(run_id)
    assert stored.info.run_name == "outer" and stored.data.tags["mlflow.note.content"] == "notes"
    assert stored.data.params == {"lr": "0.1"} and stored.data.tags["k"] == "v"
    assert [(m.step, m.value) for m in mlflow.MlcliClient().get_metric_history(run_id, "acc")] == [
        (2, 0.9)
    ]
    assert mlflow.get_run(child.info.run_id).data.params == {"depth": "3"}
    assert mlflow.get_run(child.info.run_id).data.metrics == {"loss": 0.5}

    # search_runs(experiment_ids, filter_string, run_view_type, max_results, order_by)
    frame = mlflow.search_runs([experiment_id], "", ViewType.ALL, 10, ["start_time ASC"])
    assert isinstance(frame, pd.DataFrame)
    assert list(frame.columns[:6]) == [
        "run_id",
        "experiment_id",
        "status",
        "artifact_uri",
        "start_time",
        "end_time",
    ]
    assert list(frame["run_id"]) == [run_id, child.info.run_id]
    assert list(frame["tags.mlflow.runName"]) == ["outer", "inner"]
    parents = frame["tags.mlflow.parentRunId"]
    assert pd.isna(parents[0]) and parents[1] == run_id
    assert frame["metrics.acc"][0] == 0.9 and pd.isna(frame["metrics.acc"][1])
    runs = mlflow.search_runs(
        experiment_names=["docs"], filter_string="params.lr = '0.1'", output_format="list"
    )
    assert [r.info.run_id for r in runs] == [run_id]


def test_fluent_refusals_are_one_line_errors(store_root: Path) -> None:
    with pytest.raises(InvalidInputError, match="trace_location is not supported"):
        mlflow.create_experiment("x", trace_location=object())
    with mlflow.start_run():
        with pytest.raises(InvalidInputError, match="synchronous must be True or False"):
            mlflow.log_metric("m", 1.0, 0, 1_700_000_000_000)  # mlcli's old positional time
        with pytest.raises(InvalidInputError, match="model_id and dataset are not supported"):
            mlflow.log_metric("m", 1.0, model_id="m-123")
    with pytest.raises(NotFoundError):
        mlflow.start_run(None, "424242")  # an id that names no experiment is not created


def test_search_runs_without_pandas_says_what_to_do(store_root: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "nopandas"
    blocker.mkdir()
    (blocker / "pandas.py").write_text("raise ImportError('no pandas here')\n")
    script = textwrap.dedent(
        """
        import sys
        import mlcli as mlflow
        print(mlflow.search_runs(output_format="list"))
        try:
            mlflow.search_runs()
        except mlflow.MlcliError as error:
            print(error)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        env={**_environment(), "PYTHONPATH": f"{blocker}:{Path(mlcli.__file__).parent.parent}"},
        capture_output=True,
        text=True,
        check=True,
    )
    lines = done.stdout.splitlines()
    assert lines[0] == "[]"
    assert lines[1] == (
        "search_runs returns a pandas DataFrame by default, and pandas is not installed: "
        "pip install pandas, or pass output_format='list' for a list of runs"
    )


def _environment() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if not k.startswith(("MLCLI_", "MLFLOW_"))}


def test_entities_and_mlflows_own_entities_go_into_log_batch(store_root: Path) -> None:
    import mlflow.entities as theirs

    from mlcli.entities import Metric, Param, RunTag
    from mlcli.tracking import MlflowClient

    client = MlflowClient()
    run_id = client.create_run("0").info.run_id
    client.log_batch(
        run_id,
        metrics=[Metric("loss", 0.5, 1_700_000_000_000, 4), theirs.Metric("acc", 0.8, 5, 6)],
        params=[Param("lr", "0.1"), theirs.Param("depth", "3")],
        tags=[RunTag("team", "a"), theirs.RunTag("mlflow.runName", "renamed")],
    )
    run = client.get_run(run_id)
    assert run.data.params == {"lr": "0.1", "depth": "3"}
    assert run.info.run_name == "renamed" and run.data.tags["team"] == "a"
    [loss] = client.get_metric_history(run_id, "loss")
    assert (loss.step, loss.timestamp) == (4, 1_700_000_000_000)  # MLflow's order of fields
    [acc] = client.get_metric_history(run_id, "acc")
    assert (acc.step, acc.timestamp) == (6, 5)
    with pytest.raises(InvalidInputError, match="model_id is not supported"):
        Metric("m", 1.0, 0, 0, model_id="m-1")


def test_the_client_in_mlflows_order(store_root: Path, tmp_path: Path) -> None:
    from mlflow.entities import ViewType

    from mlcli.tracking import MlflowClient

    client = MlflowClient(tracking_uri=store_root.as_uri())  # file: is the folder it names
    experiment_id = client.create_experiment("client", None, {"team": "a"})
    with pytest.raises(InvalidInputError, match="artifact_location"):
        client.create_experiment("elsewhere", "s3://bucket/x")
    # create_run(experiment_id, start_time, tags, run_name)
    first = client.create_run(experiment_id, 1_000, {"k": "1"}, "first")
    second = client.create_run(experiment_id, 2_000, None, "second")
    assert (first.info.start_time, first.info.run_name) == (1_000, "first")
    client.log_text(second.info.run_id, "text", "out/a.txt")
    # search_runs(experiment_ids, filter_string, run_view_type, max_results, order_by)
    page = client.search_runs([experiment_id], "", ViewType.ACTIVE_ONLY, 1, ["start_time DESC"])
    assert [r.info.run_name for r in page] == ["second"] and page.token
    rest = client.search_runs([experiment_id], max_results=1, page_token=page.token)
    assert [r.info.run_name for r in rest] == ["first"]
    found = client.search_experiments(filter_string="tags.team = 'a'")
    assert [e.name for e in found] == ["client"]
    local = client.download_artifacts(second.info.run_id, "out/a.txt")  # a new temporary folder
    assert isinstance(local, str) and Path(local).read_text() == "text"
    client.set_tag(second.info.run_id, "mlflow.parentRunId", first.info.run_id, True)
    assert client.get_parent_run(second.info.run_id).info.run_id == first.info.run_id
    assert client.get_parent_run(first.info.run_id) is None
    with pytest.raises(InvalidInputError, match="registry_uri"):
        MlflowClient(str(store_root), "sqlite:///registry.db")


@pytest.fixture
def logged_model(store_root: Path, tmp_path: Path) -> tuple[str, Path]:
    """A finished run with a model folder at ``model/``: (run id, the folder's copy)."""
    from mlcli.tracking import MlflowClient

    client = MlflowClient()
    run_id = client.create_run("0").info.run_id
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "MLmodel").write_text("flavors: {}\n")
    client.log_artifacts(run_id, folder, "model")
    client.set_terminated(run_id)
    return run_id, client.artifact_path(run_id, "model")


def test_the_registry_in_mlflows_calls(logged_model: tuple[str, Path]) -> None:
    from mlcli.tracking import MlflowClient

    run_id, stored = logged_model
    client = MlflowClient()
    with pytest.raises(NotFoundError):  # MLflow: the registered model must exist first
        client.create_model_version("iris", f"runs:/{run_id}/model", run_id)
    model = client.create_registered_model("iris", {"team": "a"}, "flowers")
    assert model.latest_versions == [] and model.creation_timestamp == model.creation_time
    one = client.create_model_version("iris", f"runs:/{run_id}/model", run_id)
    two = client.create_model_version(name="iris", source=str(stored), run_id=run_id)
    assert (one.version, two.version) == (1, 2)
    assert two.source == f"runs:/{run_id}/model"  # a folder of the run is the run's URI
    assert client.get_model_version("iris", "2").current_stage == "None"
    staged = client.transition_model_version_stage("iris", "1", "Staging")
    assert staged.current_stage == "Staging"
    client.transition_model_version_stage("iris", 2, "Staging", archive_existing_versions=True)
    assert client.get_model_version("iris", 1).current_stage == "Archived"
    assert [v.version for v in client.get_latest_versions("iris", ["Staging"])] == [2]
    latest = client.get_registered_model("iris").latest_versions
    assert {(v.version, v.current_stage) for v in latest} == {(1, "Archived"), (2, "Staging")}
    assert client.get_model_version("iris", 2).last_updated_timestamp >= two.creation_timestamp

    versions = client.search_model_versions(f"run_id = '{run_id}'")
    assert [v.version for v in versions] == [2, 1]  # MLflow's order: newest first
    assert [v.version for v in client.search_model_versions("name = 'iris'", 1)] == [2]
    assert [v.version for v in client.search_model_versions("iris")] == [1, 2]  # mlcli's call
    client.create_registered_model("it's odd")
    assert client.search_model_versions("it's odd") == []  # a name that is no filter
    with pytest.raises(InvalidInputError, match="invalid model version filter"):
        client.search_model_versions("name = 'unclosed")
    client.delete_registered_model("it's odd")
    client.create_registered_model("other")
    assert [m.name for m in client.search_registered_models()] == ["iris", "other"]
    found = client.search_registered_models(filter_string="tags.team = 'a'")
    assert [m.name for m in found] == ["iris"]
    assert [m.name for m in client.search_registered_models("name LIKE 'o%'")] == ["other"]
    client.set_model_version_tag("iris", stage="Staging", key="checked", value="yes")
    assert client.get_model_version("iris", 2).tags == {"checked": "yes"}
    client.delete_model_version_tag("iris", "2", "checked")
    assert client.get_model_version("iris", 2).tags == {}
    assert Path(client.get_model_version_download_uri("iris", 2), "MLmodel").is_file()
    version = mlflow.register_model(f"runs:/{run_id}/model", "iris", 300, tags={"via": "fluent"})
    assert version.version == 3 and version.tags == {"via": "fluent"}


def test_types_take_mlflows_arguments() -> None:
    np = pytest.importorskip("numpy")
    from mlflow.types import DataType as TheirDataType

    from mlcli.models import ModelSignature
    from mlcli.types import ColSpec, DataType, ParamSchema, ParamSpec, Schema, TensorSpec

    columns = Schema([ColSpec(DataType.double, "x"), ColSpec(TheirDataType.long, "y")])
    assert [(c.type, c.name) for c in columns.inputs] == [("double", "x"), ("long", "y")]
    tensors = Schema(inputs=[TensorSpec(np.dtype(np.float32), (-1, 4))])
    assert tensors.to_json() == (
        '[{"type": "tensor", "tensor-spec": {"dtype": "float32", "shape": [-1, 4]}}]'
    )
    assert TensorSpec(type=np.dtype("int64"), shape=[-1]).type == "int64"
    params = ParamSchema([ParamSpec("k", DataType.integer, 3), ParamSpec("t", dtype="string")])
    assert [(p.name, p.type, p.default) for p in params.params] == [
        ("k", "integer", 3),
        ("t", "string", None),
    ]
    signature = ModelSignature(columns, Schema([ColSpec("double")]), params)
    assert ModelSignature.from_dict(signature.to_dict()) == signature
    frame = pd.DataFrame({"x": [1.0], "y": [2]})
    inferred = mlflow.models.signature.infer_signature(frame, np.array([0.5]))
    assert [(c.name, c.type) for c in inferred.inputs.inputs] == [("x", "double"), ("y", "long")]


PROJECT = """\
name: tiny
entry_points:
  main:
    parameters:
      alpha: {type: float, default: 0.1}
    command: "python train.py {alpha}"
  fail:
    command: "python -c 'import sys; sys.exit(3)'"
"""
TRAIN = """\
import sys
import mlcli
mlcli.log_metric("alpha_seen", float(sys.argv[1]))
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    folder = tmp_path / "project"
    folder.mkdir()
    (folder / "MLproject").write_text(PROJECT)
    (folder / "train.py").write_text(TRAIN)
    return folder


def test_run_a_project_as_mlflow_run_does(
    store_root: Path, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLCLI_STORE", str(store_root))
    submitted = mlflow.run(
        str(project), "main", parameters={"alpha": 0.5}, experiment_name="projects",
        env_manager="local", run_name="tiny-run",
    )  # fmt: skip
    assert submitted.get_status() == "FINISHED" and submitted.wait()
    run = mlflow.get_run(submitted.run_id)
    assert run.info.run_name == "tiny-run" and run.data.params == {"alpha": "0.5"}
    assert run.data.metrics["alpha_seen"] == 0.5
    assert mlflow.get_experiment(run.info.experiment_id).name == "projects"

    later = mlcli.projects.run(str(project), env_manager="local", synchronous=False)
    assert later.wait() and later.get_status() == "FINISHED"
    assert mlflow.get_run(later.run_id).data.metrics["alpha_seen"] == 0.1

    with pytest.raises(mlcli.projects.ExecutionException, match=r"Run \(ID '.*'\) failed"):
        mlflow.run(str(project), "fail", env_manager="local")
    with pytest.raises(InvalidInputError, match="backend 'databricks' is not available"):
        mlflow.run(str(project), backend="databricks")
    with pytest.raises(InvalidInputError, match="alpha"):  # checked before any run exists
        mlflow.run(str(project), parameters={"alpha": "high"}, env_manager="local")
