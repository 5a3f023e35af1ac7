"""MLflow's fluent experiment functions: create_experiment, get_experiment(_by_name),
search_experiments, delete_experiment, set_experiment_tag(s)."""

from __future__ import annotations

from pathlib import Path

import pytest

import mlcli
from mlcli.errors import InvalidInputError, NotFoundError
from mlcli.tracking import TrackingClient


def test_experiments_as_mlflows_fluent_api_makes_them(workdir: Path) -> None:
    assert mlcli.get_experiment_by_name("exp") is None  # no store yet: none, and no store
    assert mlcli.search_experiments() == []
    assert not (workdir / ".mlruns").exists()

    experiment_id = mlcli.create_experiment("exp", tags={"team": "a"})
    mlcli.create_experiment("later")
    found = mlcli.get_experiment_by_name("exp")
    assert found.experiment_id == experiment_id and found.tags["team"] == "a"
    assert mlcli.get_experiment(experiment_id).name == "exp"
    assert sorted(e.name for e in mlcli.search_experiments()) == ["Default", "exp", "later"]
    assert len(mlcli.search_experiments(max_results=2)) == 2
    with pytest.raises(InvalidInputError, match=r"artifact_location .* is not supported"):
        mlcli.create_experiment("s3", artifact_location="s3://bucket/x")
    assert [e.name for e in mlcli.search_experiments(filter_string="name = 'exp'")] == ["exp"]
    by_name = mlcli.search_experiments(
        filter_string="name LIKE '%e%' AND name != 'Default'", order_by=["name DESC"]
    )
    assert [e.name for e in by_name] == ["later", "exp"]
    assert [e.name for e in mlcli.search_experiments(filter_string="tags.team = 'a'")] == ["exp"]
    with pytest.raises(InvalidInputError, match="invalid experiment filter"):
        mlcli.search_experiments(filter_string="nosuch = 'x'")

    mlcli.set_experiment("exp")
    mlcli.set_experiment_tag("stage", "dev")
    mlcli.set_experiment_tags({"owner": "me"})
    tags = TrackingClient(workdir / ".mlruns").get_experiment(experiment_id).tags
    assert tags["stage"] == "dev" and tags["owner"] == "me"

    with mlcli.start_run() as run:
        pass
    mlcli.delete_experiment(experiment_id)
    assert mlcli.get_experiment_by_name("exp") is None
    assert [e.name for e in mlcli.search_experiments(view_type="deleted_only")] == ["exp"]
    assert mlcli.search_runs(experiment_ids=[experiment_id], output_format="list") == []
    assert mlcli.get_run(run.info.run_id).info.lifecycle_stage == "deleted"
    with pytest.raises(NotFoundError):
        mlcli.get_experiment("999")
