"""A team store's logged models (``TeamLoggedModels``) in a real PostgreSQL and a real
bucket: the local store's semantics and errors, every change mirrored to the bucket at
a remote's key, and several writers at once."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from mlcli.errors import ConflictError, InvalidInputError, NotFoundError
from mlcli.objects import ObjectStore, open_objects
from mlcli.store.backend import LoggedModelRecords
from mlcli.store.logged_models import LoggedModel
from mlcli.store.sync import keys
from mlcli.store.team import schema
from mlcli.store.team.database import Database
from mlcli.store.team.logged_models import TeamLoggedModels

RUN = "0123456789abcdef0123456789abcdef"
OTHER_RUN = "fedcba9876543210fedcba9876543210"


@dataclass
class Team:
    database: Database
    objects: ObjectStore
    index_url: str
    models: TeamLoggedModels


@pytest.fixture
def team(postgres: Any, moto_server: Any, s3_env: Any) -> Iterator[Team]:
    s3_env(moto_server)
    bucket_url = f"s3://{moto_server.new_bucket()}/team"
    index_url = postgres.new_database()
    database = Database(index_url)
    schema.ensure(database, bucket_url)
    database.run(_add_runs)
    objects = open_objects(bucket_url)
    try:
        yield Team(database, objects, index_url, TeamLoggedModels(database, objects))
    finally:
        database.close()


def _add_runs(connection: Any) -> None:
    """Two runs' rows, as the team store's runs would write them."""
    for run_id in (RUN, OTHER_RUN):
        connection.execute(
            "INSERT INTO runs (run_id, experiment_id, run_name, status, start_time, "
            "lifecycle_stage, user_id, doc) VALUES (%s, '0', 'r', 'RUNNING', 1, 'active', "
            "'ann', '{}'::jsonb)",
            (run_id,),
        )


def _conforms(models: TeamLoggedModels) -> LoggedModelRecords:
    """Where mypy checks that TeamLoggedModels is the facade's ``LoggedModelRecords``."""
    return models


def _in_bucket(team: Team, model: LoggedModel) -> dict[str, Any]:
    data, _ = team.objects.get(keys.logged_model_key(model.run_id, model.model_id))
    return dict(json.loads(data))


def test_logged_models_live_with_their_run(team: Team) -> None:
    models = team.models
    first = models.create(run_id=RUN, experiment_id="0", name="model")
    second = models.create(run_id=RUN, experiment_id="0", name="model")
    assert first.artifact_path == "model"
    assert second.artifact_path == f"model-{second.model_id[2:10]}"
    fresh = TeamLoggedModels(team.database, team.objects)  # another replica
    assert fresh.get(first.model_id) == first
    assert fresh.find_run(first.model_id) == RUN
    updated = fresh.update(first.model_id, status="READY", tags={"a": "1"}, params={"p": "2"})
    assert (updated.status, updated.tags, updated.params) == ("READY", {"a": "1"}, {"p": "2"})
    assert updated.last_updated_timestamp >= first.last_updated_timestamp
    assert fresh.update(first.model_id, tags={"a": None}).tags == {}
    assert [m.model_id for m in fresh.of_run(RUN)] == [first.model_id, second.model_id]
    assert fresh.of_run(OTHER_RUN) == []
    with pytest.raises(ConflictError, match="already exists"):
        models.create(run_id=RUN, experiment_id="0", name="x", model_id=first.model_id)
    with pytest.raises(ConflictError, match="already exists"):
        models.create(run_id=OTHER_RUN, experiment_id="0", name="x", model_id=first.model_id)
    with pytest.raises(NotFoundError, match="no logged model with id"):
        fresh.get("m-" + "0" * 32)
    with pytest.raises(NotFoundError, match="no logged model with id"):
        fresh.update("m-" + "0" * 32, status="READY")
    assert fresh.find_run("m-" + "0" * 32) is None
    with pytest.raises(InvalidInputError, match="invalid logged model id"):
        fresh.get("../escape")
    with pytest.raises(InvalidInputError, match="escapes the run's artifacts"):
        models.create(run_id=RUN, experiment_id="0", name="../up")


def test_a_given_id_time_and_status_are_kept(team: Team) -> None:
    model_id = "m-" + "ab" * 16
    model = team.models.create(
        run_id=RUN,
        experiment_id="0",
        name="clf",
        model_id=model_id,
        status="ready",
        creation_timestamp=1234,
        model_type="classifier",
        tags={"mlcli.user": "ann"},
        params={"alpha": "0.5"},
    )
    assert (model.model_id, model.status, model.creation_timestamp) == (model_id, "READY", 1234)
    assert team.models.get(model_id) == model


def test_every_change_is_mirrored_to_the_bucket(team: Team) -> None:
    model = team.models.create(run_id=RUN, experiment_id="0", name="model", tags={"t": "1"})
    assert _in_bucket(team, model) == model.to_dict()
    metric = {"key": "acc", "value": 0.9, "timestamp": 5, "step": 1, "run_id": RUN}
    updated = team.models.update(model.model_id, metrics=[metric], params={"p": "1"})
    updated = team.models.update(model.model_id, metrics=[{**metric, "step": 2}])
    assert [m["step"] for m in updated.metrics] == [1, 2]
    assert _in_bucket(team, model) == updated.to_dict()
    deleted = team.models.update(model.model_id, deleted=True)
    assert _in_bucket(team, model)["deleted"] is True
    assert team.models.of_run(RUN) == [deleted]  # deleted ones included, as locally


def test_a_folder_the_bucket_holds_is_not_given_to_a_model(team: Team) -> None:
    team.objects.put(keys.run_artifact_key(RUN, "model/MLmodel"), b"an earlier model")
    team.objects.put(keys.run_artifact_key(RUN, "notes"), b"a file")
    model = team.models.create(run_id=RUN, experiment_id="0", name="model")
    assert model.artifact_path == f"model-{model.model_id[2:10]}"
    with pytest.raises(ConflictError, match="already has artifacts at 'notes/deeper'"):
        team.models.create(run_id=RUN, experiment_id="0", name="notes/deeper")


def test_each_change_marks_the_run_for_a_flush(team: Team) -> None:
    """The run's manifest in the bucket names its logged models: a change makes the run
    dirty, so that the next flush rewrites the manifest."""

    def state() -> tuple[bool, int]:
        rows = team.database.query("SELECT dirty, revision FROM runs WHERE run_id = %s", (RUN,))
        return bool(rows[0][0]), int(rows[0][1])

    team.database.run(lambda c: c.execute("UPDATE runs SET dirty = FALSE, revision = 7"))
    model = team.models.create(run_id=RUN, experiment_id="0", name="m")
    assert state() == (True, 8)
    team.database.run(lambda c: c.execute("UPDATE runs SET dirty = FALSE"))
    team.models.update(model.model_id, status="READY")
    assert state() == (True, 9)


def test_mistakes_are_one_line_errors_that_write_nothing(team: Team) -> None:
    with pytest.raises(NotFoundError, match=f"no run with id '{'9' * 32}'"):
        team.models.create(run_id="9" * 32, experiment_id="0", name="m")
    with pytest.raises(InvalidInputError, match="invalid logged model status 'DONE'"):
        team.models.create(run_id=RUN, experiment_id="0", name="m", status="DONE")
    with pytest.raises(InvalidInputError, match="invalid logged model id"):
        team.models.create(run_id=RUN, experiment_id="0", name="m", model_id="m-1")
    model = team.models.create(run_id=RUN, experiment_id="0", name="m")
    with pytest.raises(InvalidInputError, match="invalid logged model status"):
        team.models.update(model.model_id, status="nearly")
    nan = {"key": "loss", "value": math.nan, "timestamp": 1, "step": 0, "run_id": RUN}
    with pytest.raises(InvalidInputError, match="not a finite number"):
        team.models.update(model.model_id, metrics=[nan])
    with pytest.raises(InvalidInputError, match="NUL character"):
        team.models.update(model.model_id, tags={"t": "a\x00b"})
    assert team.models.get(model.model_id) == model
    assert _in_bucket(team, model) == model.to_dict()
    assert [m.model_id for m in team.models.of_run(RUN)] == [model.model_id]


def test_writers_at_once_get_folders_of_their_own_and_lose_no_change(team: Team) -> None:
    created: list[LoggedModel] = []
    errors: list[BaseException] = []

    def create() -> None:
        try:
            created.append(team.models.create(run_id=RUN, experiment_id="0", name="model"))
        except BaseException as error:  # reported below
            errors.append(error)

    threads = [threading.Thread(target=create) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    folders = sorted(m.artifact_path for m in created)
    assert len(set(folders)) == 6 and "model" in folders

    target = created[0].model_id

    def tag(i: int) -> None:
        try:
            team.models.update(target, tags={f"t{i}": str(i)})
        except BaseException as error:
            errors.append(error)

    taggers = [threading.Thread(target=tag, args=(i,)) for i in range(8)]
    for thread in taggers:
        thread.start()
    for thread in taggers:
        thread.join()
    assert errors == []
    final = team.models.get(target)
    assert final.tags == {f"t{i}": str(i) for i in range(8)}
    assert _in_bucket(team, final) == final.to_dict()  # the last commit's copy


_READER = """
import json, sys
from mlcli.objects import open_objects
from mlcli.store.team.database import Database
from mlcli.store.team.logged_models import TeamLoggedModels

database = Database(sys.argv[2])
models = TeamLoggedModels(database, open_objects(sys.argv[1]))
model = models.get(sys.argv[3])
updated = models.update(model.model_id, status="READY", tags={"reader": "yes"})
print(json.dumps({"of_run": [m.model_id for m in models.of_run(sys.argv[4])],
                  "tags": updated.tags}))
database.close()
"""


def test_a_second_process_reads_and_changes_what_the_first_wrote(team: Team) -> None:
    model = team.models.create(run_id=RUN, experiment_id="0", name="m", tags={"writer": "one"})
    result = subprocess.run(
        [sys.executable, "-c", _READER, team.objects.url, team.index_url, model.model_id, RUN],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {
        "of_run": [model.model_id],
        "tags": {"writer": "one", "reader": "yes"},
    }
    assert team.models.get(model.model_id).status == "READY"


def test_a_clone_of_the_bucket_has_the_models_and_their_files(
    team_store: Any, team_urls: Any, tmp_path: Path
) -> None:
    """Through the team store: what a flush leaves in the bucket is a remote that
    ``mlcli clone`` copies whole, logged models and artifacts included."""
    experiment = team_store.experiments.get_or_create("demo")
    run_id = team_store.runs.create(
        experiment_id=experiment.experiment_id, run_name="r", user_id="ann", tags={}
    ).run_id
    model = team_store.logged_models.create(
        run_id=run_id, experiment_id=experiment.experiment_id, name="model"
    )
    artifacts = team_store.artifacts(run_id)
    folder = artifacts.resolve(model.artifact_path, must_exist=False)
    folder.mkdir(parents=True)
    (folder / "MLmodel").write_text("flavors: {}\n")
    artifacts.publish(model.artifact_path)
    artifacts.write_bytes("notes/readme.md", b"read me")
    model = team_store.logged_models.update(model.model_id, status="READY")
    team_store.flusher.flush_all(idle_seconds=0)

    target = tmp_path / "copy"
    done = subprocess.run(
        [sys.executable, "-m", "mlcli", "clone", team_urls.store, str(target)],
        capture_output=True,
        text=True,
        env={**os.environ, **team_urls.env},
        cwd=tmp_path,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    run_dir = target / ".mlruns" / "runs" / run_id
    assert (run_dir / "artifacts" / "model" / "MLmodel").read_text() == "flavors: {}\n"
    assert (run_dir / "artifacts" / "notes" / "readme.md").read_bytes() == b"read me"
    doc = json.loads((run_dir / "logged_models" / f"{model.model_id}.json").read_text())
    assert doc == model.to_dict()
