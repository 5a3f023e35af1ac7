"""The model registry over a team server (``mlcli --store http://...``): the same
commands, the same answers and the same errors as over a local store, with the change
landing in the server's own files."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from trackingserver import TrackingServer

from mlcli import system_tags
from mlcli.client import MlcliClient

pytest.importorskip("starlette")
pytest.importorskip("uvicorn")

MLMODEL = "flavors:\n  python_function:\n    loader_module: nothing\n"
PASSWORD = "s3cret pass"
TIME_KEYS = {"time", "creation_time", "last_update_time"}

# every test that takes served_store runs on a directory and on a bucket + PostgreSQL
SERVED_BOTH_WAYS = True


@dataclass
class Runs:
    """Two runs with a logged model each: a weak one and a strong one."""

    weak: str
    strong: str


def make_runs(store: Any, tmp_path: Path) -> Runs:
    """The same two runs, written into the server's store (its directory, or its bucket
    and PostgreSQL) by this process."""
    model = tmp_path / "model-files"
    (model / "data").mkdir(parents=True, exist_ok=True)
    (model / "MLmodel").write_text(MLMODEL)
    (model / "data" / "weights.txt").write_text("0.25 0.75\n")
    client = MlcliClient(store)
    experiment = client.get_or_create_experiment("churn").experiment_id
    ids = []
    for accuracy in (0.7, 0.9):
        run_id = client.create_run(experiment).info.run_id
        client.log_metric(run_id, "accuracy", accuracy)
        client.set_tag(run_id, system_tags.GIT_COMMIT, f"{int(accuracy * 10):x}" * 40)
        client.log_artifacts(run_id, model, "model")
        client.set_terminated(run_id)
        ids.append(run_id)
    return Runs(*ids)


def scenario(cli: Any, store: str, runs: Runs) -> list[tuple[str, int, str, str]]:
    """Every registry command once, as a user types them: (command, exit code, stdout,
    stderr), with the run ids named ``RUN_WEAK``/``RUN_STRONG`` and times zeroed."""
    gate = ["--require", "metrics.accuracy >= 0.8", "--better-than", "Production"]
    commands = [
        ["register", f"runs:/{runs.weak}/model", "--name", "churn", "--json"],
        ["register", f"runs:/{runs.strong}/model", "-n", "churn", "-t", "team=ml", "--json"],
        ["models", "describe", "churn", "-d", "the churn model"],
        ["models", "describe", "churn", "2", "-d", "retrained"],
        ["models", "tag", "churn", "owner=ann"],
        ["models", "tag", "churn", "2", "validated=yes"],
        ["promote", "churn", "1", "--stage", "Production", "--json"],
        ["promote", "churn", "1", "--stage", "production", "--json"],  # nothing to do
        ["promote", "churn", "2", "--stage", "Production", *gate, "--metric", "accuracy"],
        ["promote", "churn", "1", "--alias", "champion", "--require", "metrics.accuracy > 0.8"],
        ["promote", "churn", "2", "--alias", "champion", "-m", "best so far", "--json"],
        ["models", "alias", "set", "churn", "challenger", "1"],
        ["models", "alias", "delete", "churn", "challenger"],
        ["models", "alias", "delete", "churn", "challenger"],
        ["register", "models:/churn@champion", "--name", "churn-copy", "--json"],
        ["models", "delete-version", "churn-copy", "1"],
        ["register", f"runs:/{runs.weak}/model", "-n", "it's 100% odd", "--json"],
        ["models", "show", "it's 100% odd", "--json"],
        ["models", "list", "--json"],
        ["models", "list"],
        ["models", "show", "churn", "--json"],
        ["models", "history", "churn", "--json"],
        ["models", "history", "churn-copy", "--json"],
        ["models", "show", "nope"],
        ["models", "history", "nope"],
        ["promote", "churn", "9", "--stage", "Staging"],
        ["models", "alias", "set", "churn", "latest", "1"],
        ["models", "delete", "churn-copy", "--yes"],
        ["models", "list", "-q"],
    ]
    seen = []
    for command in commands:
        result = cli("--store", store, *command)
        seen.append(
            (
                normal(" ".join(command), runs),
                result.exit_code,
                normal(result.stdout, runs),
                normal(result.stderr, runs),
            )
        )
    return seen


def normal(text: str, runs: Runs) -> str:
    """Output without what differs between two stores: run ids, times, paths."""
    text = text.replace(runs.weak, "RUN_WEAK").replace(runs.strong, "RUN_STRONG")
    try:
        document = json.loads(text)
    except ValueError:
        return re.sub(r"\d{4}-\d\d-\d\d \d\d:\d\d(:\d\d)?", "TIME", text)
    return json.dumps(_no_times(document), indent=1, sort_keys=True)


def _no_times(document: Any) -> Any:
    if isinstance(document, dict):
        return {k: 0 if k in TIME_KEYS else _no_times(v) for k, v in document.items()}
    if isinstance(document, list):
        return [_no_times(item) for item in document]
    return document


def test_the_registry_commands_answer_as_over_a_local_store(
    cli: Any, served_store: TrackingServer, tmp_path: Path
) -> None:
    local = tmp_path / "local" / ".mlruns"
    local_runs = make_runs(local, tmp_path)
    served_runs = make_runs(served_store.own_store(), tmp_path)

    over_server = scenario(cli, served_store.url, served_runs)
    on_disk = scenario(cli, str(local), local_runs)

    for got, wanted in zip(over_server, on_disk, strict=True):
        assert got == wanted, f"{got[0]}:\nover the server: {got[1:]}\nlocal: {wanted[1:]}"
    codes = {command: code for command, code, _, _ in on_disk}
    assert codes["models show nope"] == 2
    assert codes["promote churn 1 --alias champion --require metrics.accuracy > 0.8"] == 1
    errors = [stderr for _, code, _, stderr in over_server if code]
    assert len(errors) == 6
    assert all(len(e.strip().splitlines()) == 1 for e in errors), errors
    assert "Traceback" not in served_store.log() and " 500 " not in served_store.log()


def test_the_change_lands_in_the_servers_files(
    cli: Any, served_store: TrackingServer, tmp_path: Path
) -> None:
    runs = make_runs(served_store.own_store(), tmp_path)
    url = served_store.url
    assert (
        cli("--store", url, "register", f"runs:/{runs.strong}/model", "-n", "churn").exit_code == 0
    )
    promoted = cli("--store", url, "promote", "churn", "1", "--alias", "champion", "-m", "ok")
    assert promoted.exit_code == 0, promoted.stderr

    on_server = MlcliClient(served_store.own_store())
    version = on_server.get_model_version_by_alias("churn", "champion")
    assert (version.version, version.run_id) == (1, runs.strong)
    assert version.git_commit == "9" * 40
    copy = on_server.registry().artifacts_path("churn", 1)
    assert (copy / "MLmodel").read_text() == MLMODEL
    events = on_server.get_model_history("churn")
    assert [(e.action, e.comment) for e in events][-1] == ("set_alias", "ok")


def test_the_client_api_reads_and_writes_the_servers_registry(
    served_store: TrackingServer, tmp_path: Path
) -> None:
    runs = make_runs(served_store.own_store(), tmp_path)
    client = MlcliClient(served_store.url)
    created = client.create_registered_model("churn", {"team": "ml"}, "a model")
    assert (created.name, created.tags, created.description) == ("churn", {"team": "ml"}, "a model")
    version = client.register_model(f"runs:/{runs.weak}/model", "churn")
    assert (version.version, version.source) == (1, f"runs:/{runs.weak}/model")
    client.set_model_version_tag("churn", 1, system_tags.NOTE_CONTENT, "first")
    assert client.get_model_version("churn", "1").tags == {system_tags.NOTE_CONTENT: "first"}
    staged = client.transition_model_version_stage("churn", 1, "staging")
    assert staged.stage == "Staging"
    assert [v.version for v in client.get_latest_versions("churn", ["Staging"])] == [1]

    # the version's files come down once into the client's cache, whole
    folder = client.registry().artifacts_path("churn", 1)
    assert (folder / "MLmodel").read_text() == MLMODEL
    assert (folder / "data" / "weights.txt").read_text() == "0.25 0.75\n"
    assert client.registry().artifacts_path("churn", 1) == folder
    assert served_store.url not in str(folder)

    local = MlcliClient(served_store.own_store())
    assert local.get_model_version("churn", 1).stage == "Staging"
    assert local.get_model_version("churn", 1).tags == {system_tags.NOTE_CONTENT: "first"}


def test_a_model_in_a_local_folder_is_uploaded_into_the_new_version(
    cli: Any, served_store: TrackingServer, tmp_path: Path
) -> None:
    folder = tmp_path / "my-model"
    (folder / "data").mkdir(parents=True)
    (folder / "MLmodel").write_text(MLMODEL)
    (folder / "data" / "weights bin").write_bytes(bytes(range(256)) * 40)
    name = "it's 100% uploaded"
    result = cli("--store", served_store.url, "register", str(folder), "-n", name, "--json")
    assert result.exit_code == 0, result.stderr
    shown = json.loads(result.stdout)
    assert (shown["version"], shown["status"], shown["source"]) == (1, "READY", str(folder))

    stored = MlcliClient(served_store.own_store()).registry().artifacts_path(name, 1)
    assert (stored / "data" / "weights bin").read_bytes() == bytes(range(256)) * 40
    fetched = MlcliClient(served_store.url).registry().artifacts_path(name, 1)
    assert (fetched / "data" / "weights bin").read_bytes() == bytes(range(256)) * 40

    # a finished version's files are read-only, as every registered copy
    put = served_store.request(
        "PUT",
        f"/api/2.0/mlflow-artifacts/artifacts/models/{quote(name)}/versions/1/artifacts/MLmodel",
        b"changed",
        content_type="application/octet-stream",
    )
    assert put.status == 400
    assert (stored / "MLmodel").read_text() == MLMODEL


def test_the_audit_trail_names_the_signed_in_user(
    cli: Any, start_server: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("argon2")
    db = tmp_path / "auth.db"
    for user in ("ann", "bob"):
        added = cli(
            "auth", "users", "add", user, "--password-stdin", "--auth-db", str(db),
            input=PASSWORD + "\n",
        )  # fmt: skip
        assert added.exit_code == 0, added.stderr
    server = start_server("--auth-db", str(db))
    runs = make_runs(server.store, tmp_path)
    monkeypatch.setenv("LOGNAME", "mallory")  # what the client says it is counts for nothing
    monkeypatch.setenv("MLCLI_TRACKING_USERNAME", "ann")
    monkeypatch.setenv("MLCLI_TRACKING_PASSWORD", PASSWORD)
    registered = cli("--store", server.url, "register", f"runs:/{runs.weak}/model", "-n", "m")
    assert registered.exit_code == 0, registered.stderr
    promoted = cli("--store", server.url, "promote", "m", "1", "--stage", "Production")
    assert promoted.exit_code == 0, promoted.stderr

    monkeypatch.setenv("MLCLI_TRACKING_USERNAME", "bob")
    refused = cli("--store", server.url, "promote", "m", "1", "--alias", "champion")
    assert refused.exit_code == 1
    assert refused.stderr.count("\n") == 1 and "permission denied" in refused.stderr
    history = cli("--store", server.url, "models", "history", "m", "--json")
    assert history.exit_code == 0, history.stderr
    events = [(e["action"], e["user"]) for e in json.loads(history.stdout)]
    assert events == [("create_model", "ann"), ("register", "ann"), ("transition", "ann")]
    shown = json.loads(cli("--store", server.url, "models", "show", "m", "--json").stdout)
    assert shown["versions"][0]["user_id"] == "ann"


def test_without_sign_in_the_audit_trail_names_the_clients_user(
    cli: Any, served_store: TrackingServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As ``runs/create`` takes the client's user: a server without ``--auth-db`` knows
    no better, and its own account would name no one."""
    runs = make_runs(served_store.own_store(), tmp_path)
    monkeypatch.setenv("LOGNAME", "carol")
    url = served_store.url
    assert cli("--store", url, "register", f"runs:/{runs.weak}/model", "-n", "m").exit_code == 0
    assert cli("--store", url, "models", "alias", "set", "m", "champion", "1").exit_code == 0
    events = MlcliClient(served_store.own_store()).get_model_history("m")
    assert [(e.action, e.user) for e in events] == [
        ("create_model", "carol"),
        ("register", "carol"),
        ("set_alias", "carol"),
    ]
    assert MlcliClient(served_store.own_store()).get_model_version("m", 1).user_id == "carol"


def test_an_upload_the_server_refuses_leaves_a_failed_version_and_one_line(
    cli: Any, start_server: Any, tmp_path: Path
) -> None:
    server = start_server("--max-artifact-size", "1KiB")
    folder = tmp_path / "big-model"
    folder.mkdir()
    (folder / "MLmodel").write_text(MLMODEL)
    (folder / "weights.bin").write_bytes(b"\0" * 4096)
    result = cli("--store", server.url, "register", str(folder), "-n", "big")
    assert result.exit_code != 0
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    version = MlcliClient(server.store).get_model_version("big", 1)
    assert version.status == "FAILED_REGISTRATION"
    rows = tmp_path / "rows.json"
    rows.write_text('{"inputs": [[1.0]]}')
    loading = cli(
        "--store", server.url, "models", "predict", "-m", "models:/big/1", "-i", str(rows)
    )
    assert loading.exit_code == 2 and "FAILED_REGISTRATION" in loading.stderr


def test_a_registered_version_loads_and_predicts_from_the_server(
    cli: Any, served_store: TrackingServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("sklearn")
    from sklearn.linear_model import LinearRegression

    import mlcli
    import mlcli.sklearn

    own = served_store.own_store()  # logged into its files (a team store: through it)
    monkeypatch.setenv("MLCLI_STORE", str(own) if isinstance(own, Path) else served_store.url)
    with mlcli.start_run(experiment="lines") as run:
        model = LinearRegression().fit([[0.0], [1.0], [2.0]], [1.0, 3.0, 5.0])
        mlcli.sklearn.log_model(model, "model")
    monkeypatch.delenv("MLCLI_STORE")
    url = served_store.url
    assert cli("--store", url, "register", f"runs:/{run.run_id}/model", "-n", "line").exit_code == 0
    assert cli("--store", url, "promote", "line", "1", "--alias", "champion").exit_code == 0
    rows = tmp_path / "rows.json"
    rows.write_text('{"inputs": [[3.0]]}')
    predicted = cli(
        "--store", url, "models", "predict", "-m", "models:/line@champion", "-i", str(rows)
    )
    assert predicted.exit_code == 0, predicted.stderr
    assert json.loads(predicted.stdout)["predictions"] == pytest.approx([7.0])
