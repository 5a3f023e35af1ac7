"""``start_run`` as MLflow's code calls it: the experiment's id as the second argument
and ``parent_run_id=``."""

from __future__ import annotations

from pathlib import Path

import pytest

import mlcli
from mlcli.errors import InvalidInputError
from mlcli.tracking import TrackingClient


def test_an_experiment_id_as_second_argument_is_that_experiment(store_root: Path) -> None:
    client = TrackingClient(store_root)
    experiment_id = client.create_experiment("exp")
    with mlcli.start_run(None, experiment_id) as run:  # mlflow.start_run(None, "1")
        pass
    assert client.get_run(run.info.run_id).experiment_name == "exp"
    assert [e.name for e in client.search_experiments()] == ["Default", "exp"]  # no "1"
    with mlcli.start_run(experiment="fresh") as made:  # a new name still makes one
        pass
    assert client.get_run(made.info.run_id).experiment_name == "fresh"


def test_parent_run_id_makes_a_child_as_in_mlflow(store_root: Path) -> None:
    client = TrackingClient(store_root)
    with mlcli.start_run() as parent:
        pass
    with (
        mlcli.start_run(parent_run_id=parent.info.run_id) as child,
        pytest.raises(InvalidInputError, match="is not the active run"),
    ):
        mlcli.start_run(nested=True, parent_run_id=parent.info.run_id)  # not the child's
    stored = client.get_run(child.info.run_id)
    assert stored.info.parent_run_id == parent.info.run_id
    assert stored.data.tags["mlflow.parentRunId"] == parent.info.run_id
