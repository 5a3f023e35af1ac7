"""MLflow's system tags under their MLflow names (``mlflow.runName``, ``mlflow.parentRunId``,
...): written, read and filtered through the Python API and the CLI, while the store
keeps them under mlcli's names (``mlcli.runName``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import mlcli as mlflow
from mlcli import system_tags
from mlcli.tracking import TrackingClient


def _mlflow_system_tags() -> list[str]:
    """Every ``mlflow.*`` tag MLflow defines (its ``mlflow_tags`` module), or, without the
    ``mlflow`` package, the ones mlcli names."""
    try:
        from mlflow.utils import mlflow_tags  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        return sorted(system_tags.MLFLOW_NAMES.values())
    names = {
        value
        for key, value in vars(mlflow_tags).items()
        if key.isupper() and isinstance(value, str) and value.startswith("mlflow.")
    }
    return sorted(names)


def test_the_python_api_writes_reads_and_filters_mlflow_names(store_root: Path) -> None:
    with mlflow.start_run(run_name="first") as parent:
        mlflow.set_tag("mlflow.runName", "renamed")
        mlflow.set_tags({"mlflow.note.content": "about", "mlflow.source.git.commit": "abc123"})
        with mlflow.start_run(nested=True) as child:
            pass
    run = mlflow.get_run(parent.info.run_id)
    tags = run.data.tags
    assert run.info.run_name == "renamed"  # the tag renames the run, as in MLflow
    assert tags["mlflow.runName"] == "renamed" == tags["mlcli.runName"]
    assert tags["mlflow.user"] == run.info.user_id
    assert tags.get("mlflow.note.content") == "about" and "mlflow.source.git.commit" in tags
    assert tags.get("mlflow.source.git.branch") is None and "mlflow.nothing" not in tags
    with pytest.raises(KeyError):
        tags["mlflow.nothing"]
    # a listing names each tag once, as stored
    assert not [key for key in tags if key.startswith("mlflow.")]
    assert dict(tags)["mlcli.note.content"] == "about"
    assert mlflow.get_run(child.info.run_id).data.tags["mlflow.parentRunId"] == parent.info.run_id

    client = TrackingClient(store_root)
    by_parent = client.search_runs(
        filter_string=f"tags.mlflow.parentRunId = '{parent.info.run_id}'"
    )
    assert [r.info.run_id for r in by_parent] == [child.info.run_id]
    found = client.search_runs(
        filter_string=(
            "tags.`mlflow.runName` = 'renamed' AND tags.mlflow.source.git.commit LIKE 'abc%'"
        ),
        order_by=["tags.mlflow.runName DESC"],
    )
    assert [r.info.run_id for r in found] == [parent.info.run_id]


def test_a_parent_named_by_its_tag_is_the_parent(store_root: Path) -> None:
    client = TrackingClient(store_root)
    parent = client.create_run("0", run_name="parent")
    child = client.create_run(
        "0", tags={"mlflow.parentRunId": parent.info.run_id, "mlflow.runName": "child"}
    )
    assert child.info.parent_run_id == parent.info.run_id and child.info.run_name == "child"
    later = client.create_run("0")
    client.set_tag(later.info.run_id, "mlflow.parentRunId", parent.info.run_id)
    assert client.get_run(later.info.run_id).info.parent_run_id == parent.info.run_id
    client.delete_tag(later.info.run_id, "mlflow.parentRunId")
    assert "mlcli.parentRunId" not in client.get_run(later.info.run_id).data.tags


def test_every_system_tag_mlflow_defines(store_root: Path) -> None:
    client = TrackingClient(store_root)
    parent = client.create_run("0", run_name="parent").info.run_id
    run = client.create_run("0", run_name="all").info.run_id
    values = {name: f"v-{i}" for i, name in enumerate(_mlflow_system_tags())}
    values["mlflow.parentRunId"] = parent
    client.log_batch(run, tags=values)
    tags = client.get_run(run).data.tags
    stored = {key for key in tags if key.startswith("mlflow.")}
    assert stored == set()  # every one is stored under mlcli's name
    for name, value in values.items():
        assert tags[name] == value == tags[system_tags.to_store(name)], name
        hits = client.search_runs(filter_string=f"tags.`{name}` = '{value}'")
        assert [r.info.run_id for r in hits] == [run], name
    assert client.get_run(run).info.run_name == values["mlflow.runName"]
    assert client.get_run(run).info.parent_run_id == parent


def test_the_cli_writes_and_filters_mlflow_names(store_root: Path, cli: Any) -> None:
    client = TrackingClient(store_root)
    parent = client.create_run("0", run_name="parent").info.run_id
    child = client.create_run("0", run_name="child", parent_run_id=parent).info.run_id
    assert cli("log", "tag", "mlflow.runName", "from-cli", "--run", child).exit_code == 0
    assert cli("log", "tag", "mlflow.source.git.branch", "main", "--run", child).exit_code == 0
    listed = cli("runs", "list", "-f", f"tags.mlflow.parentRunId = '{parent}'", "-q")
    assert listed.exit_code == 0 and listed.stdout.split() == [child]
    branch = cli("runs", "list", "-f", "tags.`mlflow.source.git.branch` = 'main'", "-q")
    assert branch.stdout.split() == [child]
    shown = cli("runs", "show", child, "--json").json()
    assert shown["run_name"] == "from-cli"
    assert shown["tags"]["mlcli.source.git.branch"] == "main"
    assert not [key for key in shown["tags"] if key.startswith("mlflow.")]


def test_registry_tags_follow_the_same_rule(store_root: Path, cli: Any) -> None:
    from mlcli.client import MlcliClient

    client = MlcliClient(store_root)
    client.create_registered_model("churn", tags={"mlflow.owner": "ana"})
    client.set_registered_model_tag("churn", "mlflow.note.content", "about")
    assert cli("models", "tag", "churn", "mlflow.team=ml").exit_code == 0
    tags = client.get_registered_model("churn").tags
    assert dict(tags) == {"mlcli.owner": "ana", "mlcli.note.content": "about", "mlcli.team": "ml"}
    assert tags["mlflow.owner"] == "ana" and tags.get("mlflow.team") == "ml"
    client.delete_registered_model_tag("churn", "mlflow.owner")
    assert "mlflow.owner" not in client.get_registered_model("churn").tags
