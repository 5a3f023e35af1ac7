"""MLflow names its documented examples use that ``import mlcli as mlflow`` lacked
(issue 20): ``mlflow.exceptions.MlflowException``, ``mlflow.data.from_pandas`` /
``from_numpy``, ``mlflow.types.schema``, and the fluent ``get_parent_run``,
``delete_run``, ``set_registry_uri``/``get_registry_uri``, ``log_table``,
``log_image`` (and the client's). Each is compared with the installed ``mlflow``
where MLflow computes something (digests, schemas, a table's JSON, an image's pixels).
"""

from __future__ import annotations

import inspect
import json
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

import mlcli as mlflow  # the import MLflow's tutorials change, and nothing else
from mlcli.errors import NotFoundError

real_mlflow = pytest.importorskip("mlflow")
pd = pytest.importorskip("pandas")
np = pytest.importorskip("numpy")

NAMES = [
    ("mlflow", "get_parent_run"), ("mlflow", "delete_run"), ("mlflow", "set_registry_uri"),
    ("mlflow", "get_registry_uri"), ("mlflow", "log_table"), ("mlflow", "log_image"),
    ("mlflow.data", "from_pandas"), ("mlflow.data", "from_numpy"),
    ("mlflow.tracking.MlflowClient", "log_table"), ("mlflow.tracking.MlflowClient", "log_image"),
]  # fmt: skip


def _positional(function: object) -> list[str]:
    return [
        p.name
        for p in inspect.signature(function).parameters.values()  # type: ignore[arg-type]
        if p.kind is p.POSITIONAL_OR_KEYWORD and p.name != "self"
    ]


def _resolve(dotted: str, name: str) -> object:
    import importlib

    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            found: object = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for part in parts[cut:]:
            found = getattr(found, part)
        return getattr(found, name)
    raise AssertionError(dotted)


@pytest.mark.parametrize(("module", "name"), NAMES, ids=[f"{m}.{n}" for m, n in NAMES])
def test_each_name_takes_mlflows_arguments_in_its_order(module: str, name: str) -> None:
    theirs = _positional(_resolve(module, name))
    ours = _positional(_resolve(module.replace("mlflow", "mlcli", 1), name))
    assert ours[: len(theirs)] == theirs


def test_mlflow_exception_catches_mlcli_errors(store_root: Path) -> None:
    from mlcli.exceptions import MlflowException

    assert mlflow.MlflowException is MlflowException
    with pytest.raises(MlflowException) as caught:
        mlflow.get_run("0" * 32)
    assert caught.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    assert isinstance(caught.value, NotFoundError)
    raised = MlflowException("bad thing", error_code="INVALID_PARAMETER_VALUE")
    assert (raised.message, raised.error_code) == ("bad thing", "INVALID_PARAMETER_VALUE")


def _frame() -> object:
    return pd.DataFrame(
        {"x": [1, 2, 3], "name": ["a", "b", "c"], "y": [0.5, 1.5, 2.5], "raw": [b"1", b"2", b"3"]}
    )


@pytest.mark.parametrize("source", [None, "data/iris.csv", "https://example.com/iris.csv"])
def test_from_pandas_is_mlflows_dataset(source: str | None) -> None:
    from mlcli.data import from_pandas

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = real_mlflow.data.from_pandas(_frame(), source=source, targets="y", name="iris")
        expected = theirs.to_dict()  # MLflow's schema inference warns about integers
    ours = from_pandas(_frame(), source=source, targets="y", name="iris")
    got = ours.to_dict()
    if source is None:  # the code that built it: compare the kind, not the script's path
        assert got["source_type"] == "code" and "mlflow.user" in json.loads(got["source"])["tags"]
        expected.pop("source"), got.pop("source")
    assert got == expected
    assert (ours.name, ours.digest, ours.targets, ours.profile) == (
        "iris",
        theirs.digest,
        "y",
        {"num_rows": 3, "num_elements": 12},
    )
    assert ours.schema.to_dict() == theirs.schema.to_dict()
    assert from_pandas(_frame(), digest="custom1").digest == "custom1"
    assert from_pandas(_frame()).name == "dataset"


def test_from_pandas_refuses_a_missing_target_column() -> None:
    from mlcli.data import from_pandas
    from mlcli.errors import InvalidInputError

    with pytest.raises(InvalidInputError, match="no targets column 'label'"):
        from_pandas(_frame(), targets="label")


@pytest.mark.parametrize("with_targets", [False, True])
def test_from_numpy_is_mlflows_dataset(with_targets: bool) -> None:
    from mlcli.data import from_numpy

    features = np.arange(24, dtype=np.float32).reshape(8, 3)
    targets = np.array([0, 1] * 4) if with_targets else None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # MLflow's: "can be interpreted in multiple ways"
        expected = real_mlflow.data.from_numpy(features, source="x.npy", targets=targets).to_dict()
    ours = from_numpy(features, source="x.npy", targets=targets)
    assert ours.to_dict() == expected
    many = {"a": features, "b": features[:, :1]}
    assert from_numpy(many).digest == real_mlflow.data.from_numpy(many).digest


def test_log_input_keeps_a_dataset_from_mlcli_data(store_root: Path) -> None:
    dataset = mlflow.data.from_pandas(_frame(), source="data/iris.csv", targets="y")
    with mlflow.start_run() as run:
        mlflow.log_input(dataset, context="training")
    (kept,) = mlflow.get_run(run.info.run_id).inputs.dataset_inputs
    assert (kept.dataset.name, kept.dataset.digest, kept.dataset.source_type) == (
        "dataset",
        dataset.digest,
        "local",
    )
    assert json.loads(kept.dataset.source) == {"uri": "data/iris.csv"}
    assert json.loads(kept.dataset.profile) == {"num_rows": 3, "num_elements": 12}
    assert kept.tags == {"mlflow.data.context": "training"}


def test_types_schema_module_and_schema_to_dict() -> None:
    from mlflow.types.schema import ColSpec as TheirColSpec
    from mlflow.types.schema import Schema as TheirSchema

    from mlcli.types.schema import ColSpec, Schema, TensorSpec

    ours = Schema([ColSpec("double", "x"), ColSpec("string", "name")])
    theirs = TheirSchema([TheirColSpec("double", "x"), TheirColSpec("string", "name")])
    assert ours.to_dict() == theirs.to_dict()
    tensor = Schema([TensorSpec(np.dtype(np.float32), (-1, 4))]).to_dict()
    assert tensor == [{"type": "tensor", "tensor-spec": {"dtype": "float32", "shape": [-1, 4]}}]


def test_parent_run_and_delete_run(store_root: Path) -> None:
    with mlflow.start_run() as parent, mlflow.start_run(nested=True) as child:
        pass
    assert mlflow.get_parent_run(child.info.run_id).info.run_id == parent.info.run_id
    assert mlflow.get_parent_run(parent.info.run_id) is None
    mlflow.delete_run(child.info.run_id)
    assert mlflow.get_run(child.info.run_id).info.lifecycle_stage == "deleted"
    assert mlflow.search_runs(output_format="list") == [mlflow.get_run(parent.info.run_id)]


def test_registry_uri_is_the_tracking_stores(store_root: Path) -> None:
    from mlcli.errors import InvalidInputError

    mlflow.set_tracking_uri(str(store_root))
    assert mlflow.get_registry_uri() == mlflow.get_tracking_uri()
    mlflow.set_registry_uri(mlflow.get_tracking_uri())  # the same place: accepted
    mlflow.set_registry_uri(f"file://{store_root}")
    with pytest.raises(InvalidInputError, match="keeps the registry in the tracking store"):
        mlflow.set_registry_uri("sqlite:///registry.db")


def test_log_table_writes_mlflows_json_and_appends(store_root: Path) -> None:
    table = {"inputs": ["What is MLflow?", "What is mlcli?"], "toxicity": [0.0, 0.5]}
    with mlflow.start_run() as run:
        mlflow.log_table(data=table, artifact_file="eval/results.json")
        mlflow.log_table(pd.DataFrame({"inputs": ["Why?"], "toxicity": [1.0]}), "eval/results.json")
        mlflow.log_table({"only": "scalars"}, "one.json")
    folder = Path(mlflow.MlcliClient().download_artifacts(run.info.run_id, "eval"))
    assert json.loads((folder / "results.json").read_text()) == {
        "columns": ["inputs", "toxicity"],
        "data": [["What is MLflow?", 0.0], ["What is mlcli?", 0.5], ["Why?", 1.0]],
    }
    # read as MLflow reads its tables (pandas' "split" layout)
    frame = pd.read_json(folder / "results.json", orient="split", dtype=False)
    assert list(frame["toxicity"]) == [0.0, 0.5, 1.0]
    pil = pytest.importorskip("PIL.Image")
    with pytest.raises(mlflow.MlflowException, match="holds images"):
        mlflow.MlcliClient().log_table(run.info.run_id, {"a": [pil.new("L", (1, 1))]}, "t.json")
    with pytest.raises(mlflow.MlflowException, match=r"\.json or \.parquet"):
        mlflow.MlcliClient().log_table(run.info.run_id, table, "results.csv")


def test_log_image_saves_mlflows_pixels(store_root: Path, tmp_path: Path) -> None:
    image_module = pytest.importorskip("PIL.Image")
    from mlflow.tracking.multimedia import convert_to_pil_image

    gray = np.linspace(0, 1, 12, dtype=np.float64).reshape(3, 4)
    rgb = np.arange(2 * 2 * 3, dtype=np.uint8).reshape(2, 2, 3)
    with mlflow.start_run() as run:
        mlflow.log_image(gray, "images/gray.png")
        mlflow.log_image(rgb, artifact_file="images/rgb.png")
        mlflow.MlcliClient().log_image(run.info.run_id, image_module.new("RGB", (5, 5)), "pil.jpg")
        with pytest.raises(mlflow.MlflowException, match="pixels are in"):
            mlflow.log_image(np.full((2, 2), 300), "bad.png")
        with pytest.raises(mlflow.MlflowException, match="image series"):
            mlflow.log_image(rgb, key="sample", step=1)
    client = mlflow.MlcliClient()
    folder = Path(client.download_artifacts(run.info.run_id, "images", str(tmp_path)))
    for name, array in (("gray.png", gray), ("rgb.png", rgb)):
        with image_module.open(folder / name) as saved:
            assert saved.format == "PNG"
            assert np.array_equal(np.asarray(saved), np.asarray(convert_to_pil_image(array)))
    with image_module.open(client.download_artifacts(run.info.run_id, "pil.jpg")) as saved:
        assert (saved.format, saved.size) == ("JPEG", (5, 5))


def test_import_mlcli_loads_no_pandas_numpy_or_pil() -> None:
    code = (
        "import sys, mlcli, mlcli.data, mlcli.exceptions, mlcli.types.schema\n"
        "print(sorted(m for m in ('pandas', 'numpy', 'PIL') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
