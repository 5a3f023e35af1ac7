"""The property the issue asks of push and pull: whatever a store holds, a push then a
clone reproduces it exactly, and so do more writes then a push then a pull."""

from __future__ import annotations

import tempfile
from pathlib import Path

from compare_stores import snapshot
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlcli.objects import open_objects
from mlcli.store import Metric, Store
from mlcli.store.sync import pull, push
from mlcli.tracking import TrackingClient

names = st.text(st.characters(whitelist_categories=("L", "N")), min_size=1, max_size=12)
values = st.floats(allow_nan=False, allow_infinity=False, width=32)
run_strategy = st.fixed_dictionaries(
    {
        "experiment": st.sampled_from(["a", "b", "Default", "with space", "ünïcode/slash"]),
        "params": st.dictionaries(names, names, max_size=3),
        "tags": st.dictionaries(names, names, max_size=3),
        "metrics": st.lists(st.tuples(st.sampled_from(["loss", "acc"]), values), max_size=8),
        "artifact": st.one_of(st.none(), st.binary(max_size=2000)),
        "status": st.sampled_from(["RUNNING", "FINISHED", "FAILED", "KILLED"]),
        "deleted": st.booleans(),
    }
)


def write(store: Store, runs: list[dict]) -> None:
    client = TrackingClient(store)
    for spec in runs:
        experiment_id = client.get_or_create_experiment(spec["experiment"]).experiment_id
        run_id = client.create_run(experiment_id).info.run_id
        metrics = [
            Metric(key, value, step, 1_700_000_000_000 + step)
            for step, (key, value) in enumerate(spec["metrics"])
        ]
        client.log_batch(run_id, metrics=metrics, params=spec["params"], tags=spec["tags"])
        if spec["artifact"] is not None:
            store.artifacts(run_id).write_bytes("data/blob.bin", spec["artifact"])
        if spec["status"] != "RUNNING":
            client.set_terminated(run_id, spec["status"])
        if spec["deleted"]:
            client.delete_run(run_id)


@settings(
    max_examples=25, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)
@given(first=st.lists(run_strategy, max_size=5), later=st.lists(run_strategy, max_size=3))
def test_push_then_clone_then_more_then_pull_reproduces_the_store(
    first: list[dict], later: list[dict]
) -> None:
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        remote = open_objects(str(root / "remote"))
        source, _ = Store.initialize(root / "source" / ".mlruns")
        copy, _ = Store.initialize(root / "copy" / ".mlruns")
        try:
            write(source, first)
            push(source, remote)
            pull(copy, remote)
            assert snapshot(copy.root) == snapshot(source.root)
            write(source, later)
            push(source, remote)
            pull(copy, remote)
            assert snapshot(copy.root) == snapshot(source.root)
        finally:
            source.close()
            copy.close()
