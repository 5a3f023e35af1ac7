"""A team store deletes an experiment's tag as a local store does, and refuses to
rename a registered model in one line (its files in the bucket are named by it)."""

from __future__ import annotations

from typing import Any

import pytest

from mlcli.errors import MlcliError, NotFoundError


def test_an_experiment_tag_is_deleted_and_a_missing_one_is_a_404(team_store: Any) -> None:
    experiment = team_store.experiments.create("demo", {"a": "1", "b": "2"})
    assert team_store.experiments.delete_tag(experiment.experiment_id, "a").tags == {"b": "2"}
    assert team_store.experiments.get(experiment.experiment_id).tags == {"b": "2"}
    with pytest.raises(NotFoundError, match="no tag 'a'"):
        team_store.experiments.delete_tag(experiment.experiment_id, "a")
    team_store.experiments.delete(experiment.experiment_id)
    with pytest.raises(MlcliError, match="restore it") as raised:
        team_store.experiments.delete_tag(experiment.experiment_id, "b")
    assert raised.value.error_code == "INVALID_STATE"


def test_renaming_a_registered_model_is_refused_with_a_501(team_store: Any) -> None:
    from mlcli.registry.postgres import PostgresRegistry

    registry = PostgresRegistry(team_store.database, team_store.objects, "ann")
    registry.create_model("churn")
    with pytest.raises(MlcliError, match="cannot rename") as raised:
        registry.rename_model("churn", "churn-v2")
    assert raised.value.http_status == 501
    assert registry.get_model("churn").name == "churn"
    with pytest.raises(NotFoundError):
        registry.rename_model("nope", "x")


def test_an_experiment_keeps_the_times_it_is_created_with(team_store: Any) -> None:
    old = team_store.experiments.create("old", creation_time=1_000, last_update_time=2_000)
    assert (old.creation_time, old.last_update_time) == (1_000, 2_000)
    got = team_store.experiments.get(old.experiment_id)
    assert (got.creation_time, got.last_update_time) == (1_000, 2_000)
