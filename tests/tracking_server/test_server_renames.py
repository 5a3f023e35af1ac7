"""MLflow's ``delete_experiment_tag`` and ``rename_registered_model`` through the real
``mlflow`` client against a real ``mlcli server``, and the same through mlcli's own
client and CLI; with ``--auth-db``, a renamed model's grants follow it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from test_server_auth import PASSWORD, ROLES, auth, basic, call, put_model
from trackingserver import TrackingServer, mlflow_environment

from mlcli.client import MlcliClient
from mlcli.errors import ConflictError, NotFoundError

MLFLOW_SCRIPT = """
import json, os, warnings
warnings.simplefilter("ignore")
import mlflow
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
client = MlflowClient(os.environ["MLFLOW_TRACKING_URI"])
experiment_id = client.create_experiment("tagged", tags={"keep": "1", "drop": "2"})
client.delete_experiment_tag(experiment_id, "drop")
tags = client.get_experiment(experiment_id).tags
try:
    client.delete_experiment_tag(experiment_id, "drop")
    missing = None
except MlflowException as exc:
    missing = exc.error_code
client.create_registered_model("churn", tags={"team": "a"})
client.create_registered_model("taken")
client.rename_registered_model("churn", "churn-v2")
renamed = client.get_registered_model("churn-v2")
try:
    client.rename_registered_model("churn-v2", "taken")
    clash = None
except MlflowException as exc:
    clash = exc.error_code
try:
    client.get_registered_model("churn")
    old = None
except MlflowException as exc:
    old = exc.error_code
print(json.dumps({
    "tags": tags, "missing": missing, "renamed": renamed.name,
    "renamed_tags": renamed.tags, "clash": clash, "old": old,
    "names": sorted(m.name for m in client.search_registered_models()),
}))
"""


@pytest.mark.slow
@pytest.mark.mlflow
def test_the_mlflow_client_deletes_experiment_tags_and_renames_models(
    start_server: Any, tmp_path: Path
) -> None:
    pytest.importorskip("mlflow")
    server: TrackingServer = start_server()
    script = tmp_path / "client.py"
    script.write_text(MLFLOW_SCRIPT)
    result = subprocess.run(
        [sys.executable, str(script)],
        env=mlflow_environment(server),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, f"{result.stderr}\n{server.log()}"
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["tags"] == {"keep": "1"}
    assert report["missing"] == "RESOURCE_DOES_NOT_EXIST"
    assert report["renamed"] == "churn-v2"
    assert report["renamed_tags"] == {"team": "a"}
    assert report["clash"] == "RESOURCE_ALREADY_EXISTS"
    assert report["old"] == "RESOURCE_DOES_NOT_EXIST"
    assert report["names"] == ["churn-v2", "taken"]


def _model_dir(tmp_path: Path) -> Path:
    model = tmp_path / "model"
    model.mkdir()
    (model / "MLmodel").write_text("flavors:\n  python_function:\n    loader_module: x\n")
    return model


def test_a_renamed_model_keeps_its_versions_aliases_and_history(tmp_path: Path, cli: Any) -> None:
    client = MlcliClient(tmp_path / ".mlruns")
    registry = client.registry(create=True)
    registry.create_version("churn", _model_dir(tmp_path), "file:model", None)
    client.set_registered_model_alias("churn", "champion", "1")
    registry.create_model("taken")
    done = cli("--store", str(tmp_path / ".mlruns"), "models", "rename", "churn", "churn-v2")
    assert done.exit_code == 0, done.stderr
    assert client.get_model_version_by_alias("churn-v2", "champion").version == 1
    assert (registry.artifacts_path("churn-v2", 1) / "MLmodel").is_file()
    [event] = [e for e in registry.events("churn-v2") if e.action == "rename"]
    assert (event.from_value, event.to_value) == ("churn", "churn-v2")
    with pytest.raises(NotFoundError):
        client.get_registered_model("churn")
    with pytest.raises(ConflictError):
        client.rename_registered_model("churn-v2", "taken")
    clash = cli("--store", str(tmp_path / ".mlruns"), "models", "rename", "churn-v2", "taken")
    assert clash.exit_code != 0
    assert "already exists" in clash.stderr and "Traceback" not in clash.stderr


def test_delete_experiment_tag_of_mlcli_s_client(tmp_path: Path) -> None:
    client = MlcliClient(tmp_path / ".mlruns")
    experiment_id = client.create_experiment("e", tags={"a": "1", "b": "2"})
    assert client.delete_experiment_tag(experiment_id, "a").tags == {"b": "2"}
    assert client.get_experiment(experiment_id).tags == {"b": "2"}
    with pytest.raises(NotFoundError, match="no tag 'a'"):
        client.delete_experiment_tag(experiment_id, "a")


@pytest.fixture
def users_db(cli: Any, tmp_path: Path) -> Path:
    """An auth database with test_server_auth's users, one per role."""
    db = tmp_path / "auth.db"
    for role in ROLES:
        flags = ["--admin"] if role == "admin" else []
        auth(cli, db, "users", "add", role, *flags, "--password-stdin", input=PASSWORD + "\n")
    return db


def test_a_renamed_model_s_grants_follow_it(cli: Any, users_db: Path, start_server: Any) -> None:
    server: TrackingServer = start_server("--auth-db", str(users_db))
    experiment = call(server, "POST", "experiments/create", {"name": "e"}).json()
    run = call(server, "POST", "runs/create", experiment).json()["run"]["info"]
    assert call(server, "POST", "registered-models/create", {"name": "m"}, "edit").status == 200
    source = put_model(server, run["experiment_id"], run["run_id"], "admin")
    call(server, "POST", "model-versions/create", {"name": "m", "source": source})
    auth(cli, users_db, "grant", "read", "model", "m", "READ")
    renamed = call(server, "POST", "registered-models/rename", {"name": "m", "new_name": "n"})
    assert renamed.status == 200, renamed.text
    assert renamed.json()["registered_model"]["name"] == "n"
    got = server.api("GET", "registered-models/get", {"name": "n"}, headers=basic("read"))
    assert got.status == 200
    denied = call(
        server, "POST", "registered-models/rename", {"name": "n", "new_name": "o"}, "read"
    )
    assert denied.status == 403
    listed = json.loads(auth(cli, users_db, "users", "list", "--json").stdout)
    grants = {
        u["name"]: [[g["kind"], g["target"], g["level"]] for g in u["permissions"]] for u in listed
    }
    assert grants["edit"] == [["model", "n", "MANAGE"]]  # the creator's, under the new name
    assert grants["read"] == [["model", "n", "READ"]]
