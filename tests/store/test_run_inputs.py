"""A run's inputs (datasets and logged models it read) in a local store: one line each
in ``runs/<id>/inputs.jsonl``, the first per dataset kept, and carried by push/pull."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from mlcli.errors import InvalidInputError, NotFoundError
from mlcli.store import Dataset, DatasetInput, ModelInput, Store


def _dataset(name: str = "iris", digest: str = "abc123", source: str = "/d.csv") -> Dataset:
    return Dataset(name, digest, "local", json.dumps({"uri": source}), schema='{"a": 1}')


def test_inputs_are_kept_once_each_in_the_runs_log(tmp_path: Path) -> None:
    store, _ = Store.initialize(tmp_path / ".mlruns")
    run_id = store.runs.create(experiment_id="0", run_name="r", user_id="u", tags={}).run_id
    first = DatasetInput(_dataset(), {"mlflow.data.context": "train"})
    store.runs.log_inputs(run_id, [first], [ModelInput("m-" + "1" * 32)])
    again = DatasetInput(_dataset(source="/elsewhere.csv"), {"mlflow.data.context": "eval"})
    other = DatasetInput(_dataset("iris", "def456"))
    store.runs.log_inputs(run_id, [again, other], [ModelInput("m-" + "1" * 32)])

    run = store.get_run(run_id)
    assert run.inputs.dataset_inputs == [first, other]  # the first of iris/abc123 stays
    assert run.inputs.dataset_inputs[0].context == "train"
    assert [m.model_id for m in run.inputs.model_inputs] == ["m-" + "1" * 32]
    lines = (store.root / "runs" / run_id / "inputs.jsonl").read_text().splitlines()
    assert len(lines) == 3
    assert json.loads(lines[0]) == {
        "dataset": {
            "name": "iris",
            "digest": "abc123",
            "source_type": "local",
            "source": '{"uri": "/d.csv"}',
            "schema": '{"a": 1}',
        },
        "tags": {"mlflow.data.context": "train"},
    }
    assert json.loads(lines[1]) == {"model_id": "m-" + "1" * 32}


def test_bad_inputs_are_refused_before_anything_is_written(tmp_path: Path) -> None:
    store, _ = Store.initialize(tmp_path / ".mlruns")
    run_id = store.runs.create(experiment_id="0", run_name="r", user_id="u", tags={}).run_id
    good = DatasetInput(_dataset())
    with pytest.raises(InvalidInputError, match="digest: longer than 36"):
        store.runs.log_inputs(run_id, [good, DatasetInput(_dataset(digest="x" * 37))])
    with pytest.raises(InvalidInputError, match="value: longer than 500"):
        store.runs.log_inputs(run_id, [DatasetInput(_dataset(), {"k": "v" * 501})])
    assert not (store.root / "runs" / run_id / "inputs.jsonl").exists()
    with pytest.raises(NotFoundError):
        store.runs.log_inputs("0" * 32, [good])
    with pytest.raises(NotFoundError):
        store.runs.read_inputs("0" * 32)


def test_inputs_travel_with_push_and_pull(tmp_path: Path) -> None:
    from mlcli.objects import open_objects
    from mlcli.store.sync import pull, push

    source, _ = Store.initialize(tmp_path / "a" / ".mlruns")
    run_id = source.runs.create(experiment_id="0", run_name="r", user_id="u", tags={}).run_id
    source.runs.log_inputs(run_id, [DatasetInput(_dataset(), {"mlflow.data.context": "t"})])
    remote = open_objects(str(tmp_path / "remote"))
    push(source, remote)
    target, _ = Store.initialize(tmp_path / "b" / ".mlruns")
    pull(target, remote)
    assert target.get_run(run_id).inputs == source.get_run(run_id).inputs


def test_log_input_of_the_fluent_api_and_the_client(tmp_path: Path, monkeypatch: Any) -> None:
    import mlcli
    from mlcli.tracking import TrackingClient

    monkeypatch.setenv("MLCLI_STORE", str(tmp_path / ".mlruns"))
    with mlcli.start_run() as run:
        mlcli.log_input(_dataset(), context="training", tags={"split": "a"})
    client = TrackingClient(tmp_path / ".mlruns")
    [kept] = client.get_run(run.info.run_id).inputs.dataset_inputs
    assert kept.tags == {"split": "a", "mlflow.data.context": "training"}
    assert kept.dataset == _dataset()
    with pytest.raises(InvalidInputError, match="expected a dataset"):
        client.log_inputs(run.info.run_id, [DatasetInput(object())])  # type: ignore[arg-type]
    with pytest.raises(NotFoundError):
        client.log_inputs(run.info.run_id, models=["m-" + "3" * 32])


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_an_mlflow_dataset_is_recorded_as_mlflow_describes_it(tmp_path: Path) -> None:
    mlflow = pytest.importorskip("mlflow")
    pandas = pytest.importorskip("pandas")
    from mlflow.entities import DatasetInput as MlflowDatasetInput
    from mlflow.entities import InputTag

    from mlcli.tracking import TrackingClient

    frame = pandas.DataFrame({"a": [1, 2], "b": [0.5, 1.5]})
    dataset = mlflow.data.from_pandas(frame, source="/data/t.csv", name="t")
    entity = dataset._to_mlflow_entity()
    client = TrackingClient(tmp_path / ".mlruns")
    run_id = client.create_run(None).info.run_id
    client.log_inputs(run_id, [MlflowDatasetInput(entity, [InputTag("k", "v")])])
    [kept] = client.get_run(run_id).inputs.dataset_inputs
    assert kept.tags == {"k": "v"}
    assert (kept.dataset.name, kept.dataset.digest) == ("t", entity.digest)
    assert (kept.dataset.source, kept.dataset.schema) == (entity.source, entity.schema)
    assert kept.dataset.profile == entity.profile


def test_fsck_names_a_line_of_inputs_that_is_no_input(tmp_path: Path, cli: Any) -> None:
    store, _ = Store.initialize(tmp_path / ".mlruns")
    run_id = store.runs.create(experiment_id="0", run_name="r", user_id="u", tags={}).run_id
    store.runs.log_inputs(run_id, [DatasetInput(_dataset())])
    log = store.root / "runs" / run_id / "inputs.jsonl"
    log.write_text(log.read_text() + '{"dataset": {"name": "x"}}\n')
    found = cli("--store", str(store.root), "fsck", "--json")
    assert found.exit_code == 1
    [problem] = json.loads(found.stdout)["problems"]
    assert problem["path"] == f"runs/{run_id}/inputs.jsonl"
    assert "line 2: not a dataset or model input" in problem["detail"]
    assert store.runs.read_inputs(run_id).dataset_inputs == [DatasetInput(_dataset())]
