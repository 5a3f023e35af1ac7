"""TrackingClient: explicit operations by run id, validated at the edge."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import yaml

from mlcli.errors import ConflictError, InvalidInputError, NotFoundError
from mlcli.store import Metric
from mlcli.tracking import TrackingClient


@pytest.fixture
def client(store_root: Path) -> TrackingClient:
    return TrackingClient(store_root)


def test_create_run_names_it_and_records_user_and_parent(client: TrackingClient) -> None:
    parent = client.create_run()
    child = client.create_run(parent_run_id=parent.run_id[:10], tags={"k": "v"})
    assert parent.info.run_name.count("-") == 2  # a generated adjective-noun-NNN name
    assert child.info.parent_run_id == parent.run_id
    assert child.data.tags["mlcli.parentRunId"] == parent.run_id
    assert child.data.tags["mlcli.user"] == child.info.user_id
    assert child.data.tags["k"] == "v"


def test_many_runs_are_read_in_one_index_query(client: TrackingClient) -> None:
    """``models show`` reads its versions' runs together, not one query per run."""
    run_ids = [client.create_run().run_id for _ in range(4)]
    for number, run_id in enumerate(run_ids):
        client.log_metric(run_id, "acc", number / 10)
    statements: list[str] = []
    client.store.index.db.set_trace_callback(statements.append)
    runs = client.get_runs([*run_ids, "f" * 32, "../up", run_ids[0]])
    client.store.index.db.set_trace_callback(None)
    assert sorted(runs) == sorted(run_ids)
    assert {r: runs[r].data.metrics for r in run_ids} == {
        r: client.get_run(r).data.metrics for r in run_ids
    }
    assert sum("FROM runs r LEFT JOIN experiments" in s for s in statements) == 1


def test_log_batch_validates_everything_before_writing(client: TrackingClient) -> None:
    run_id = client.create_run().run_id
    client.log_param(run_id, "lr", "0.1")
    with pytest.raises(ConflictError):
        client.log_batch(run_id, metrics=[("acc", 0.9)], params={"lr": "0.2"}, tags={"t": "1"})
    with pytest.raises(InvalidInputError):
        client.log_batch(run_id, metrics=[("acc", "high")], params={"x": "1"})
    run = client.get_run(run_id)
    assert run.data.params == {"lr": "0.1"} and "acc" not in run.data.metrics
    assert "t" not in run.data.tags


@pytest.mark.parametrize("key", ["", "a/../b", "/abs", "..", "./a", "a//b", "bad*char", "x" * 251])
def test_invalid_keys_are_refused(client: TrackingClient, key: str) -> None:
    run_id = client.create_run().run_id
    with pytest.raises(InvalidInputError):
        client.log_metric(run_id, key, 1.0)


@pytest.mark.parametrize("value", ["1.0", None, True, object()])
def test_metric_values_must_be_numbers(client: TrackingClient, value: object) -> None:
    run_id = client.create_run().run_id
    with pytest.raises(InvalidInputError, match="must be a number"):
        client.log_metric(run_id, "m", value)


def test_values_are_refused_not_truncated_when_too_long(client: TrackingClient) -> None:
    run_id = client.create_run().run_id
    with pytest.raises(InvalidInputError, match="the limit is 6000"):
        client.log_param(run_id, "p", "x" * 6001)
    with pytest.raises(InvalidInputError, match="the limit is 8000"):
        client.set_tag(run_id, "t", "x" * 8001)


def test_metrics_with_steps_and_special_values(client: TrackingClient) -> None:
    run_id = client.create_run().run_id
    for step, value in enumerate([1.0, math.nan, math.inf]):
        client.log_metric(run_id, "m", value, step=step)
    history = client.get_metric_history(run_id, "m")
    assert [m.step for m in history] == [0, 1, 2]
    assert client.get_run(run_id).data.metrics["m"] == math.inf


def test_deleted_runs_refuse_writes_until_restored(client: TrackingClient) -> None:
    run_id = client.create_run().run_id
    client.delete_run(run_id)
    with pytest.raises(InvalidInputError, match="is deleted"):
        client.log_metric(run_id, "m", 1.0)
    client.restore_run(run_id)
    client.log_metric(run_id, "m", 1.0)


def test_set_terminated_and_rename(client: TrackingClient) -> None:
    run_id = client.create_run().run_id
    with pytest.raises(InvalidInputError, match="invalid final status"):
        client.set_terminated(run_id, "RUNNING")
    assert client.set_terminated(run_id, "killed").info.status == "KILLED"
    renamed = client.update_run(run_id, name="baseline")
    assert renamed.info.run_name == "baseline" and renamed.data.tags["mlcli.runName"] == "baseline"


def test_delete_tag(client: TrackingClient) -> None:
    run_id = client.create_run().run_id
    client.set_tag(run_id, "t", "1")
    client.delete_tag(run_id, "t")
    assert "t" not in client.get_run(run_id).data.tags
    with pytest.raises(NotFoundError, match="has no tag"):
        client.delete_tag(run_id, "t")


def test_artifacts_text_dict_and_yaml(client: TrackingClient, tmp_path: Path) -> None:
    run_id = client.create_run().run_id
    client.log_text(run_id, "hello", "notes/readme.txt")
    client.log_dict(run_id, {"a": [1, 2]}, "cfg.json")
    client.log_dict(run_id, {"a": [1, 2]}, "cfg.yaml")
    root = client.artifact_path(run_id)
    assert (root / "notes" / "readme.txt").read_text() == "hello"
    assert json.loads((root / "cfg.json").read_text()) == {"a": [1, 2]}
    assert yaml.safe_load((root / "cfg.yaml").read_text()) == {"a": [1, 2]}
    assert [f.path for f in client.list_artifacts(run_id)] == ["notes", "cfg.json", "cfg.yaml"]


def test_search_runs_scopes_to_experiments_and_lifecycle(client: TrackingClient) -> None:
    demo = client.create_experiment("demo")
    a = client.create_run(experiment_id=demo).run_id
    b = client.create_run().run_id
    assert {r.run_id for r in client.search_runs()} == {a, b}
    assert [r.run_id for r in client.search_runs([demo])] == [a]
    client.delete_run(a)
    assert [r.run_id for r in client.search_runs()] == [b]
    assert [r.run_id for r in client.search_runs(run_view_type="deleted")] == [a]
    client.delete_experiment(demo)
    assert [r.run_id for r in client.search_runs(run_view_type="all")] == [b]


def test_runs_cannot_be_created_in_a_deleted_experiment(client: TrackingClient) -> None:
    demo = client.create_experiment("demo")
    client.delete_experiment(demo)
    with pytest.raises(InvalidInputError, match="is deleted"):
        client.create_run(experiment_id=demo)


def test_metric_objects_are_accepted_in_batches(client: TrackingClient) -> None:
    run_id = client.create_run().run_id
    client.log_batch(run_id, metrics=[Metric("m", 2.0, 3, 1000), ("n", 1, 2)])
    run = client.get_run(run_id)
    assert run.data.latest_metrics["m"].step == 3 and run.data.metrics["n"] == 1.0
