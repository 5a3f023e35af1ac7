"""The real ``mlflow`` package as the client of a real ``mlcli server``: a tutorial runs
unchanged, and what it logged is what mlcli's own commands show and serve."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from trackingserver import HERE, TrackingServer, mlflow_environment

pytestmark = [pytest.mark.slow, pytest.mark.mlflow]
pytest.importorskip("mlflow")
pytest.importorskip("sklearn")


def _client_script(server: TrackingServer, script: Path, cwd: Path, **env: str) -> Any:
    result = subprocess.run(
        [sys.executable, str(script)],
        cwd=cwd,
        env=mlflow_environment(server, **env),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, f"{result.stdout}\n{result.stderr}\n{server.log()}"
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def tutorial(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The tutorial, run once against a server; (its report, the server)."""
    from trackingserver import start_tracking_server

    directory = tmp_path_factory.mktemp("tutorial")
    server = start_tracking_server(directory / ".mlruns", directory / "server.log")
    try:
        report = _client_script(server, HERE / "mlflow_tutorial.py", directory)
        yield report, server
    finally:
        server.stop()


def test_the_tutorial_logs_what_it_says(tutorial: Any) -> None:
    report, server = tutorial
    assert report["predictions"] == report["expected"]  # mlflow.pyfunc.load_model("models:/..")
    assert report["version"] == "1" and report["champion"] == "1"
    assert report["champion_stage"] == "Staging"
    assert report["by_parent"] == sorted(report["children"])
    assert report["found"] == sorted([report["parent"], report["children"][1]])
    assert report["model_id"].startswith("m-")
    assert " 500 " not in server.log()


def test_runs_show_sees_names_params_metrics_tags_and_parents(tutorial: Any, cli: Any) -> None:
    report, server = tutorial
    parent = cli("--store", str(server.store), "runs", "show", report["parent"], "--json").json()
    assert parent["run_name"] == "parent"
    assert parent["experiment_name"] == "tutorial"
    assert parent["status"] == "FINISHED"
    assert parent["params"] == {"C": "0.5", "solver": "lbfgs"}
    assert parent["metrics"] == {"loss": 0.2, "accuracy": 0.9}
    assert parent["tags"]["team"] == "vision"
    assert parent["tags"]["mlcli.runName"] == "parent"
    assert parent["user_id"] == report["user"]
    assert not any(key.startswith("mlflow.") for key in parent["tags"])
    for child_id, c in zip(report["children"], ("0.1", "1.0"), strict=True):
        child = cli("--store", str(server.store), "runs", "show", child_id, "--json").json()
        assert child["parent_run_id"] == report["parent"]
        assert child["run_name"] == f"child-{c}"
    from mlcli.tracking import TrackingClient

    losses = TrackingClient(server.store).get_metric_history(report["parent"], "loss")
    assert [(m.step, m.value) for m in losses] == [(s, 1.0 / (s + 1)) for s in range(5)]


def test_artifacts_and_the_logged_model_are_run_artifacts(tutorial: Any) -> None:
    report, server = tutorial
    from mlcli.tracking import TrackingClient

    artifacts = TrackingClient(server.store).artifact_path(report["parent"])
    assert (artifacts / "docs" / "notes.txt").read_text() == "trained on synthetic data\n"
    assert json.loads((artifacts / "config" / "labels.json").read_text()) == {"classes": [0, 1]}
    assert (artifacts / "model" / "MLmodel").is_file()  # runs:/<parent>/model for mlcli


def test_compare_lists_the_runs(tutorial: Any, cli: Any) -> None:
    report, server = tutorial
    rows = cli("--store", str(server.store), "compare", "--experiment", "tutorial", "--json").json()
    assert {row["run_id"] for row in rows} == {report["parent"], *report["children"]}
    parent = next(row for row in rows if row["run_id"] == report["parent"])
    assert parent["metrics.accuracy"] == 0.9 and parent["params.C"] == "0.5"


def test_models_show_has_the_version_stage_and_alias(tutorial: Any, cli: Any) -> None:
    report, server = tutorial
    shown = cli("--store", str(server.store), "models", "show", "tutorial-classifier", "--json")
    versions = shown.json()["versions"]
    assert [(v["version"], v["stage"], v["aliases"]) for v in versions] == [
        (1, "Staging", ["champion"])
    ]
    assert versions[0]["run_id"] == report["parent"]
    assert versions[0]["source"] == f"runs:/{report['parent']}/model"


def test_mlcli_serves_the_registered_model(tutorial: Any, tmp_path: Path) -> None:
    report, server = tutorial
    sys.path.insert(0, str(HERE.parent / "scoring"))
    try:
        from servinghelpers import start_server
    finally:
        sys.path.pop(0)
    serving = start_server(
        ["-m", "models:/tutorial-classifier@champion"],
        tmp_path / "serve.log",
        {"MLCLI_STORE": str(server.store)},
    )
    try:
        rng = __import__("numpy").random.default_rng(0)
        features = rng.normal(size=(60, 2))[:3].tolist()
        reply = serving.post({"inputs": features})
        assert reply.status == 200, reply.body
        assert reply.json() == {"predictions": report["expected"]}
    finally:
        serving.stop()


def test_the_mlflow_client_sends_its_token(start_server: Any, tmp_path: Path) -> None:
    token = "tok-" + "0123456789abcdef" * 2
    (tmp_path / "token").write_text(token)
    server = start_server("--auth-token-file", str(tmp_path / "token"))
    script = tmp_path / "log.py"
    script.write_text(
        "import json, mlflow\n"
        "mlflow.set_experiment('secured')\n"
        "with mlflow.start_run() as run:\n"
        "    mlflow.log_metric('m', 1.5)\n"
        "print(json.dumps({'run': run.info.run_id}))\n"
    )
    server.token = token
    report = _client_script(server, script, tmp_path)
    from mlcli.tracking import TrackingClient

    assert TrackingClient(server.store).get_run(report["run"]).data.metrics == {"m": 1.5}
    server.token = None
    failed = subprocess.run(
        [sys.executable, str(script)],
        cwd=tmp_path,
        env=mlflow_environment(server),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert failed.returncode != 0
    assert "UNAUTHENTICATED" in failed.stderr or "401" in failed.stderr
