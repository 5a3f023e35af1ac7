"""The registry's files: versions, stages, aliases, history, deletion."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlcli.client import MlcliClient
from mlcli.errors import ConflictError, InvalidInputError, NotFoundError


def test_register_copies_the_model_and_records_its_run_and_commit(
    client: MlcliClient, model_run, store_root: Path
) -> None:
    run_id = model_run(0.8, commit="abc1234def")
    version = client.register_model(f"runs:/{run_id[:8]}/model", "churn", tags={"k": "v"})
    assert (version.version, version.run_id, version.git_commit) == (1, run_id, "abc1234def")
    assert version.source == f"runs:/{run_id}/model" and version.stage == "None"
    copy = store_root / "models" / "churn" / "versions" / "1" / "artifacts"
    assert (copy / "weights.bin").read_bytes() == run_id.encode()
    client.delete_run(run_id)
    assert client.registry().artifacts_path("churn", 1) == copy  # survives its run


def test_fluent_register_model_finds_the_store(store_root: Path, model_run) -> None:
    import mlcli

    assert mlcli.register_model(f"runs:/{model_run()}/model", "m", tags={"a": "b"}).version == 1
    assert mlcli.MlcliClient().get_model_version("m", 1).tags == {"a": "b"}


def test_versions_are_numbered_from_one_and_never_reused(client: MlcliClient, model_run) -> None:
    for _ in range(3):
        client.register_model(f"runs:/{model_run()}/model", "m")
    client.delete_model_version("m", 3)
    assert client.register_model(f"runs:/{model_run()}/model", "m").version == 4
    assert [v.version for v in client.search_model_versions("m")] == [1, 2, 4]
    with pytest.raises(NotFoundError, match="has no version 3"):
        client.get_model_version("m", 3)


def test_register_refuses_what_is_not_a_model(client: MlcliClient, tmp_path: Path) -> None:
    run = client.create_run()
    client.log_text(run.run_id, "x", "notes/readme.txt")
    with pytest.raises(NotFoundError, match="it has no MLmodel file"):
        client.register_model(f"runs:/{run.run_id}/notes", "m")
    with pytest.raises(NotFoundError, match="no such file or directory"):
        client.register_model(str(tmp_path / "absent"), "m")
    with pytest.raises(InvalidInputError, match="expected runs:/<run_id>/<path>"):
        client.register_model(f"runs:/{run.run_id}", "m")
    assert client.search_registered_models() == []  # nothing was created


@pytest.mark.parametrize("name", ["a/b", "../x", ".hidden", "c:d", "", "x\ny"])
def test_unsafe_model_names_are_refused(client: MlcliClient, name: str) -> None:
    with pytest.raises(InvalidInputError):
        client.create_registered_model(name)


def test_stages_case_insensitive_and_archive_existing(client: MlcliClient, model_run) -> None:
    for _ in range(3):
        client.register_model(f"runs:/{model_run()}/model", "m")
    client.transition_model_version_stage("m", 1, "production")
    client.transition_model_version_stage("m", 2, "PRODUCTION")
    assert [v.stage for v in client.search_model_versions("m")] == [
        "Production",
        "Production",
        "None",
    ]
    assert client.get_latest_versions("m", ["Production"])[0].version == 2
    client.transition_model_version_stage("m", 3, "Production", archive_existing_versions=True)
    assert [v.stage for v in client.search_model_versions("m")] == [
        "Archived",
        "Archived",
        "Production",
    ]
    with pytest.raises(InvalidInputError, match="invalid stage 'Live'"):
        client.transition_model_version_stage("m", 1, "Live")
    with pytest.raises(InvalidInputError, match="only applies to a transition to Staging"):
        client.transition_model_version_stage("m", 1, "Archived", archive_existing_versions=True)


def test_aliases_move_and_reserved_names(client: MlcliClient, model_run) -> None:
    for _ in range(2):
        client.register_model(f"runs:/{model_run()}/model", "m")
    client.set_registered_model_alias("m", "champion", 1)
    client.set_registered_model_alias("m", "champion", 2)
    assert client.get_model_version_by_alias("m", "champion").version == 2
    assert client.get_model_version("m", 2).aliases == ("champion",)
    assert client.get_model_version_by_alias("m", "latest").version == 2
    for reserved in ("latest", "Latest", "v1", "V22"):
        with pytest.raises(InvalidInputError, match="is reserved"):
            client.set_registered_model_alias("m", reserved, 1)
    with pytest.raises(InvalidInputError, match="invalid alias"):
        client.set_registered_model_alias("m", "bad alias", 1)
    client.delete_model_version("m", 2)  # removes the alias pointing to it
    with pytest.raises(NotFoundError, match="has no alias 'champion'"):
        client.get_model_version_by_alias("m", "champion")


def test_history_records_every_change(client: MlcliClient, model_run, store_root: Path) -> None:
    client.register_model(f"runs:/{model_run()}/model", "m")
    client.transition_model_version_stage("m", 1, "Staging")
    client.set_registered_model_alias("m", "champion", 1)
    client.update_model_version("m", 1, "first")
    client.set_registered_model_tag("m", "team", "ml")
    actions = [
        (e.action, e.version, e.from_value, e.to_value) for e in client.get_model_history("m")
    ]
    assert actions == [
        ("create_model", None, None, None),
        ("register", 1, None, actions[1][3]),
        ("transition", 1, "None", "Staging"),
        ("set_alias", 1, None, "champion"),
        ("describe", 1, "", "first"),
        ("tag", None, None, "team=ml"),
    ]
    raw = (store_root / "models" / "m" / "events.jsonl").read_text().splitlines()
    assert all(json.loads(line)["user"] for line in raw)


def test_create_and_delete_registered_models(client: MlcliClient, model_run, store_root) -> None:
    client.create_registered_model("m", tags={"a": "b"}, description="d")
    with pytest.raises(ConflictError, match="already exists"):
        client.create_registered_model("m")
    client.register_model(f"runs:/{model_run()}/model", "m")
    assert [m.name for m in client.search_registered_models()] == ["m"]
    client.delete_registered_model("m")
    assert client.search_registered_models() == []
    assert not [p for p in (store_root / "models").iterdir()]
    with pytest.raises(NotFoundError, match="no registered model named 'm'"):
        client.get_registered_model("m")
