"""push, pull and clone on each kind of remote: a folder, moto's S3 server, SeaweedFS."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from compare_stores import snapshot

from mlcli.client import MlcliClient
from mlcli.errors import ConflictError
from mlcli.objects import ObjectStore
from mlcli.store import Metric, Store
from mlcli.store.sync import Selection, pull, push
from mlcli.tracking import TrackingClient


def fill(
    store: Store, seed: int, experiments: tuple[str, ...] = ("vision", "nlp"), model: str = "churn"
) -> None:
    """A store as a team member's looks: experiments, finished, failed, deleted and
    nested runs, params, metric histories, tags, artifacts, a registered model."""
    rng = random.Random(seed)
    client = MlcliClient(store)
    for name in experiments:
        experiment_id = client.get_or_create_experiment(name).experiment_id
        client.set_experiment_tag(experiment_id, "owner", f"person-{seed}")
        parent = None
        for number in range(3):
            run = client.create_run(
                experiment_id, run_name=f"{name}-{number}", parent_run_id=parent
            )
            run_id = run.info.run_id
            parent = parent or run_id
            client.log_batch(
                run_id,
                metrics=[
                    Metric("loss", rng.random(), step, 1_700_000_000_000 + step)
                    for step in range(rng.randint(1, 40))
                ],
                params={"lr": str(rng.random()), "layers": str(number)},
                tags={"seed": str(seed)},
            )
            client.log_text(run_id, f"notes of {run_id}", "notes/readme.txt")
            client.store.artifacts(run_id).write_bytes("weights.bin", rng.randbytes(3000))
            client.set_terminated(run_id, "FAILED" if number == 2 else "FINISHED")
        client.delete_run(parent)
    version = client.register_model(model_of(client, run_id), model)
    client.set_registered_model_alias(model, "champion", version.version)
    client.transition_model_version_stage(model, version.version, "Staging")


def model_of(client: TrackingClient, run_id: str, who: str = "") -> str:
    """A (tiny) model logged to the run, as a URI to register."""
    client.log_text(run_id, "flavors: {}\n", "model/MLmodel")
    client.log_text(run_id, who or run_id, "model/who.txt")
    return f"runs:/{run_id}/model"


def registry_in_any_order(store: Store) -> dict:
    """The registry, its event lines compared as a set: two stores that each
    registered a version hold the same events, each in the order it learned them."""
    models = snapshot(store.root)["models"]
    for model in models.values():
        model["events"] = sorted(json.dumps(event, sort_keys=True) for event in model["events"])
    return models


def test_a_clone_of_a_pushed_store_is_the_same_store(remote: ObjectStore, new_store) -> None:
    alice = new_store("alice")
    fill(alice, 1)
    report = push(alice, remote)
    assert len(report.runs) == 6 and report.models == ["churn"] and not report.conflicts
    copy = new_store("copy")
    pulled = pull(copy, remote)
    assert sorted(pulled.runs) == sorted(report.runs)
    assert snapshot(copy.root) == snapshot(alice.root)


def test_a_second_push_with_nothing_changed_moves_nothing(remote: ObjectStore, new_store) -> None:
    alice = new_store("alice")
    fill(alice, 2)
    assert push(alice, remote).objects > 0
    again = push(alice, remote)
    assert (again.runs, again.experiments, again.models, again.objects) == ([], [], [], 0)
    copy = new_store("copy")
    pull(copy, remote)
    nothing = pull(copy, remote)
    assert (nothing.runs, nothing.objects) == ([], 0)


def test_two_stores_meet_on_a_remote_and_stay_apart_by_experiment_name(
    remote: ObjectStore, new_store
) -> None:
    """Bob's bob-nlp (id 1) and Alice's alice-vision (id 1) stay two experiments."""
    alice, bob = new_store("alice"), new_store("bob")
    fill(alice, 3, ("alice-vision",))
    fill(bob, 4, ("bob-nlp",), model="bob-model")
    assert alice.experiments.find_by_name("alice-vision").experiment_id == "1"
    assert bob.experiments.find_by_name("bob-nlp").experiment_id == "1"
    push(alice, remote)
    push(bob, remote)
    pull(alice, remote)
    pull(bob, remote)
    assert snapshot(alice.root) == snapshot(bob.root)
    shared = snapshot(alice.root)
    assert {"alice-vision", "bob-nlp"} <= set(shared["experiments"])
    by_experiment = {run["doc"]["experiment"] for run in shared["runs"].values()}
    assert by_experiment == {"alice-vision", "bob-nlp"}
    assert sorted(shared["models"]) == ["bob-model", "churn"]


def test_a_live_run_is_pushed_again_as_it_grows(remote: ObjectStore, new_store) -> None:
    alice, copy = new_store("alice"), new_store("copy")
    client = TrackingClient(alice)
    run_id = client.create_run(client.get_or_create_experiment("live").experiment_id).info.run_id
    for step in range(3):
        client.log_metric(run_id, "loss", 1.0 / (step + 1), step=step)
    push(alice, remote)
    pull(copy, remote)
    assert copy.get_run(run_id).info.status == "RUNNING"
    for step in range(3, 7):
        client.log_metric(run_id, "loss", 1.0 / (step + 1), step=step)
    client.set_terminated(run_id)
    assert push(alice, remote).runs == [run_id]
    assert pull(copy, remote).runs == [run_id]
    history = TrackingClient(copy).get_metric_history(run_id, "loss")
    assert [m.step for m in history] == list(range(7))
    assert copy.get_run(run_id).info.status == "FINISHED"


def test_what_another_store_added_to_a_run_before_our_push_still_reaches_us(
    remote: ObjectStore, new_store
) -> None:
    """Bob tags Alice's run and pushes; Alice tags it too and pushes before pulling:
    her pull still brings Bob's tag (the push did not mark the run as seen)."""
    alice, bob = new_store("alice"), new_store("bob")
    client = TrackingClient(alice)
    run_id = client.create_run(client.get_or_create_experiment("e").experiment_id).info.run_id
    client.set_terminated(run_id)
    push(alice, remote)
    pull(bob, remote)
    TrackingClient(bob).set_tag(run_id, "reviewed-by", "bob")
    push(bob, remote)
    client.set_tag(run_id, "note", "alice")
    push(alice, remote)
    pull(alice, remote)
    pull(bob, remote)
    for store in (alice, bob):
        tags = store.get_run(run_id).data.tags
        assert (tags["reviewed-by"], tags["note"]) == ("bob", "alice")


def test_a_tag_both_sides_changed_is_reported_not_lost_silently(
    remote: ObjectStore, new_store
) -> None:
    alice, bob = new_store("alice"), new_store("bob")
    client = TrackingClient(alice)
    experiment_id = client.get_or_create_experiment("e").experiment_id
    push(alice, remote)
    pull(bob, remote)
    client.set_experiment_tag(experiment_id, "team", "vision")
    bob_id = bob.experiments.find_by_name("e").experiment_id
    TrackingClient(bob).set_experiment_tag(bob_id, "team", "nlp")
    push(alice, remote)
    report = push(bob, remote)
    [conflict] = report.conflicts
    assert conflict.describe() == (
        "experiment 'e' tag team: both sides changed it; kept 'nlp', not 'vision'"
    )
    pulled = pull(alice, remote)
    assert alice.experiments.get(experiment_id).tags["team"] == "nlp"
    assert pulled.experiments == ["e"]


def test_a_finished_status_beats_a_live_one(remote: ObjectStore, new_store) -> None:
    alice, bob = new_store("alice"), new_store("bob")
    client = TrackingClient(alice)
    run_id = client.create_run(client.get_or_create_experiment("e").experiment_id).info.run_id
    push(alice, remote)
    pull(bob, remote)
    TrackingClient(bob).set_terminated(run_id, "KILLED")
    push(bob, remote)
    client.set_tag(run_id, "still", "running here")
    push(alice, remote)  # alice's run is RUNNING, the remote's KILLED: KILLED stays
    assert alice.get_run(run_id).info.status == "KILLED"


def test_two_registrations_at_once_both_get_a_version(remote: ObjectStore, new_store) -> None:
    alice, bob = new_store("alice"), new_store("bob")
    fill(alice, 5, ("a",))
    push(alice, remote)
    pull(bob, remote)
    runs = {}
    for name, store in (("alice", alice), ("bob", bob)):
        client = MlcliClient(store)
        run = client.create_run(client.get_or_create_experiment(name).experiment_id)
        runs[name] = run.info.run_id
        assert client.register_model(model_of(client, run.info.run_id), "churn").version == 2
    push(alice, remote)
    report = push(bob, remote)
    assert report.notices == [
        "churn version 2 is version 3 (the remote had given those numbers to other "
        "versions; renumbered here too)"
    ]
    pull(alice, remote)
    pull(bob, remote)  # bob's push came after alice's: her registration reaches him now
    versions = snapshot(alice.root)["models"]["churn"]["versions"]
    assert {n: v["doc"]["run_id"] for n, v in versions.items() if n > 1} == {
        2: runs["alice"],
        3: runs["bob"],
    }
    assert registry_in_any_order(alice) == registry_in_any_order(bob)


def test_an_alias_moved_on_both_sides_stops_the_push_until_a_pull(
    remote: ObjectStore, new_store
) -> None:
    alice, bob = new_store("alice"), new_store("bob")
    fill(alice, 6, ("a",))  # churn version 1 is the champion
    client = MlcliClient(alice)
    run_id = client.search_runs(None)[0].info.run_id
    client.register_model(model_of(client, run_id, "second"), "churn")  # version 2
    push(alice, remote)
    pull(bob, remote)
    client.set_registered_model_alias("churn", "champion", 2)
    bob_client = MlcliClient(bob)
    bob_client.register_model(model_of(bob_client, run_id, "third"), "churn")  # version 3
    bob_client.set_registered_model_alias("churn", "champion", 3)
    push(alice, remote)
    with pytest.raises(ConflictError) as refused:
        push(bob, remote)
    assert str(refused.value) == (
        "models:/churn@champion: moved to version 2 on the remote since your last pull "
        "(yours: 3); pull, then set it again"
    )
    report = pull(bob, remote)
    assert [c.describe() for c in report.conflicts] == [
        "models:/churn alias champion: both sides changed it; kept 3, not 2"
    ]
    push(bob, remote)
    pull(alice, remote)
    assert MlcliClient(alice).get_model_version_by_alias("churn", "champion").version == 3


def test_selection_pushes_only_what_was_chosen(remote: ObjectStore, new_store) -> None:
    alice = new_store("alice")
    fill(alice, 7)
    every_run = TrackingClient(alice).search_runs(None, run_view_type="all")
    vision = {r.info.run_id for r in every_run if r.info.run_name.startswith("vision")}
    chosen = Selection(experiments=frozenset({"vision"}), models=frozenset())
    report = push(alice, remote, chosen)
    assert set(report.runs) == vision and report.experiments == ["vision"] and not report.models
    copy = new_store("copy")
    pull(copy, remote)
    assert {run["doc"]["experiment"] for run in snapshot(copy.root)["runs"].values()} == {"vision"}
    assert snapshot(copy.root)["models"] == {}
    rest = push(alice, remote)  # the rest follows on the next full push
    assert "nlp" in rest.experiments and rest.models == ["churn"]


def test_a_dry_run_moves_nothing(remote: ObjectStore, new_store) -> None:
    alice = new_store("alice")
    fill(alice, 8)
    report = push(alice, remote, dry_run=True)
    assert len(report.runs) == 6 and report.dry_run
    assert list(remote.list("")) == []
    assert len(push(alice, remote).runs) == 6


def test_artifacts_added_to_a_finished_run_are_pushed(remote: ObjectStore, new_store) -> None:
    alice, copy = new_store("alice"), new_store("copy")
    client = TrackingClient(alice)
    run_id = client.create_run(client.get_or_create_experiment("e").experiment_id).info.run_id
    client.set_terminated(run_id)
    push(alice, remote)
    client.log_text(run_id, "late", "late.txt")
    assert push(alice, remote).runs == [run_id]
    pull(copy, remote)
    assert (copy.layout.artifacts_dir(run_id) / "late.txt").read_text() == "late"


def test_a_pull_from_an_empty_remote_is_up_to_date(remote: ObjectStore, new_store) -> None:
    report = pull(new_store("fresh"), remote)
    assert (report.runs, report.experiments, report.models) == ([], [], [])


def test_a_remote_of_a_newer_format_is_refused(tmp_path: Path, new_store) -> None:
    from mlcli.errors import StoreError
    from mlcli.objects import open_objects

    remote = open_objects(str(tmp_path / "future"))
    remote.put("mlcli-remote.json", b'{"format": 99, "kind": "mlcli-remote"}')
    with pytest.raises(StoreError, match="has remote format 99, newer than this mlcli reads"):
        pull(new_store("fresh"), remote)
