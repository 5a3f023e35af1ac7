"""MLflow's environment variables work as mlcli's do, and mlcli's win when both are
set: MLFLOW_TRACKING_URI, MLFLOW_EXPERIMENT_NAME/ID and MLFLOW_RUN_ID, in the Python
API and on the command line (the table is in docs/cli.md)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import mlcli
from mlcli.errors import StoreError
from mlcli.store import Store
from mlcli.tracking import TrackingClient


def _env(**variables: str) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("MLCLI_", "MLFLOW_"))}
    return {**clean, **variables}


def test_mlflow_tracking_uri_names_the_store_of_the_api_and_the_cli(
    workdir: Path, monkeypatch: pytest.MonkeyPatch, mlcli_process
) -> None:
    there = workdir / "elsewhere"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", there.as_uri())  # file:///...
    assert mlcli.get_tracking_uri() == str(there)
    with mlcli.start_run(run_name="via-mlflow-uri") as run:
        mlcli.log_metric("m", 1.0)
    assert TrackingClient(there).get_run(run.info.run_id).info.run_name == "via-mlflow-uri"
    assert not (workdir / ".mlruns").exists()

    listed = mlcli_process(
        "runs", "list", "-q", cwd=workdir, env=_env(MLFLOW_TRACKING_URI="elsewhere")
    )
    assert listed.stdout.split() == [run.info.run_id]
    mine = workdir / "mine" / ".mlruns"
    Store.initialize(mine)
    both = _env(MLFLOW_TRACKING_URI=str(there), MLCLI_STORE=str(mine))
    assert mlcli_process("runs", "list", "-q", cwd=workdir, env=both).stdout.split() == []


def test_an_mlflow_database_or_file_store_is_refused_in_one_line(
    workdir: Path, monkeypatch: pytest.MonkeyPatch, mlcli_process
) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "sqlite:///mlflow.db")
    with pytest.raises(StoreError, match=r"names an MLflow database.*set MLCLI_STORE"):
        mlcli.start_run()
    result = mlcli_process(
        "runs", "list", cwd=workdir, env=_env(MLFLOW_TRACKING_URI="databricks"), check=False
    )
    assert result.returncode != 0
    assert result.stderr.strip().splitlines() == [
        "mlcli: error: MLFLOW_TRACKING_URI=databricks names Databricks, which mlcli cannot "
        "use as its store: set MLCLI_STORE (it wins over MLFLOW_TRACKING_URI) or unset "
        "MLFLOW_TRACKING_URI ('mlcli import-mlflow' copies MLflow's runs into mlcli)"
    ]

    # a folder written by MLflow's own file store (the real mlflow package)
    subprocess.run(
        [sys.executable, "-c", "import mlflow; mlflow.create_experiment('theirs')"],
        env=_env(MLFLOW_TRACKING_URI=(workdir / "mlruns").as_uri(), MLFLOW_ALLOW_FILE_STORE="true"),
        cwd=workdir,
        check=True,
        capture_output=True,
    )
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "mlruns")
    with pytest.raises(StoreError, match="MLflow's own file store"):
        mlcli.search_runs()
    monkeypatch.setenv("MLCLI_STORE", str(workdir / ".mlruns"))  # mlcli's name wins
    with mlcli.start_run() as run:
        pass
    assert TrackingClient(workdir / ".mlruns").get_run(run.info.run_id).info.status == "FINISHED"


def test_mlflow_experiment_variables_choose_the_experiment_and_mlclis_win(
    store_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = TrackingClient(store_root)
    monkeypatch.setenv("MLFLOW_EXPERIMENT_NAME", "from-mlflow")
    with mlcli.start_run() as run:
        pass
    assert client.get_run(run.info.run_id).experiment_name == "from-mlflow"

    by_id = client.create_experiment("by-id")
    monkeypatch.delenv("MLFLOW_EXPERIMENT_NAME")
    monkeypatch.setenv("MLFLOW_EXPERIMENT_ID", by_id)
    with mlcli.start_run() as run:
        pass
    assert client.get_run(run.info.run_id).info.experiment_id == by_id

    monkeypatch.setenv("MLFLOW_EXPERIMENT_NAME", "from-mlflow")
    monkeypatch.setenv("MLCLI_EXPERIMENT_ID", "0")  # mlcli's family first
    with mlcli.start_run() as run:
        pass
    assert client.get_run(run.info.run_id).info.experiment_id == "0"


def test_mlflow_run_id_resumes_that_run_once_as_mlflow_does(
    store_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = TrackingClient(store_root)
    earlier = client.create_run(run_name="earlier").info.run_id
    client.set_terminated(earlier, "FAILED")
    monkeypatch.setenv("MLFLOW_RUN_ID", earlier)
    with mlcli.start_run() as resumed:
        mlcli.log_metric("m", 1.0)
    assert resumed.info.run_id == earlier
    assert "MLFLOW_RUN_ID" not in os.environ  # used up, as in MLflow
    with mlcli.start_run() as fresh:
        pass
    assert fresh.info.run_id != earlier
    stored = client.get_run(earlier)
    assert stored.info.status == "FINISHED" and stored.data.metrics == {"m": 1.0}


def test_mlcli_run_id_wins_over_mlflow_run_id(
    store_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = TrackingClient(store_root)
    project = client.create_run(run_name="project").info.run_id
    other = client.create_run(run_name="other").info.run_id
    monkeypatch.setenv("MLCLI_RUN_ID", project)
    monkeypatch.setenv("MLFLOW_RUN_ID", other)
    with mlcli.start_run() as run:
        mlcli.log_param("p", "1")
    assert run.info.run_id == project
    assert client.get_run(project).info.status == "RUNNING"  # attached: its owner ends it
    assert client.get_run(other).data.params == {}


def test_mlcli_server_serves_its_store_when_mlflow_tracking_uri_points_at_it(
    workdir: Path, mlcli_process
) -> None:
    """Exporting MLFLOW_TRACKING_URI for the clients must not make the server its own
    store: the server reads MLCLI_STORE/--store and the nearest .mlruns only."""
    pytest.importorskip("uvicorn")
    Store.initialize(workdir / ".mlruns")
    log = (workdir / "server.log").open("wb")
    server = subprocess.Popen(
        [sys.executable, "-m", "mlcli", "server", "--port", "0"],
        cwd=workdir,
        env=_env(MLFLOW_TRACKING_URI="http://127.0.0.1:5999"),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        for _ in range(600):
            text = (workdir / "server.log").read_text()
            if "http://127.0.0.1:" in text or server.poll() is not None:
                break
            subprocess.run(["sleep", "0.1"], check=True)
        assert server.poll() is None, (workdir / "server.log").read_text()
    finally:
        server.terminate()
        server.wait(30)
        log.close()


SAMPLED = """
import time
import mlcli
with mlcli.start_run() as run:
    spent = time.process_time() + 1.0  # a second of CPU, so that samples are taken
    while time.process_time() < spent:
        pass
print(run.info.run_id)
"""


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="samples /proc")
def test_mlflows_system_metrics_and_retry_variables_work_too(
    store_root: Path, mlcli_process
) -> None:
    def sampled(**variables: str) -> dict[str, float]:
        env = _env(MLCLI_STORE=str(store_root), **variables)
        done = subprocess.run(
            [sys.executable, "-c", SAMPLED], env=env, capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 0, done.stderr
        return TrackingClient(store_root).get_run(done.stdout.strip()).data.metrics

    mlflows = {
        "MLFLOW_ENABLE_SYSTEM_METRICS_LOGGING": "true",
        "MLFLOW_SYSTEM_METRICS_SAMPLING_INTERVAL": "0.2",
    }
    assert "system/cpu_percent" in sampled(**mlflows)
    assert sampled(**mlflows, MLCLI_ENABLE_SYSTEM_METRICS_LOGGING="false") == {}  # mlcli's wins

    env = _env(MLFLOW_HTTP_REQUEST_MAX_RETRIES="many")
    result = mlcli_process("--store", "http://127.0.0.1:9", "runs", "list", env=env, check=False)
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "mlcli: error: MLFLOW_HTTP_REQUEST_MAX_RETRIES='many': expected a number from 0 to 100"
    )


def test_mlcli_log_takes_the_run_of_mlflow_run_id(
    store_root: Path, cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = TrackingClient(store_root)
    theirs = client.create_run(run_name="theirs").info.run_id
    ours = client.create_run(run_name="ours").info.run_id
    monkeypatch.setenv("MLFLOW_RUN_ID", theirs)
    assert cli("log", "param", "p", "1").exit_code == 0
    monkeypatch.setenv("MLCLI_RUN_ID", ours)
    assert cli("log", "param", "q", "2").exit_code == 0
    assert client.get_run(theirs).data.params == {"p": "1"}
    assert client.get_run(ours).data.params == {"q": "2"}


def test_set_tracking_uri_takes_mlflows_uris_as_mlflow_means_them(workdir: Path) -> None:
    there = workdir / "tracked"
    mlcli.set_tracking_uri(there.as_uri())  # file:///.../tracked: that folder
    with mlcli.start_run() as run:
        pass
    assert TrackingClient(there).get_run(run.info.run_id).info.status == "FINISHED"
    assert not any(p.name.startswith("file:") for p in workdir.rglob("*"))
    with pytest.raises(StoreError) as refused:
        mlcli.set_tracking_uri("sqlite:///mlflow.db")
    assert str(refused.value) == (
        "set_tracking_uri('sqlite:///mlflow.db') names an MLflow database, which mlcli "
        "cannot use as its store: give a folder for mlcli's store, s3://bucket/prefix or a "
        "server's http(s):// ('mlcli import-mlflow' copies MLflow's runs into mlcli)"
    )
    assert mlcli.get_tracking_uri() == str(there)  # unchanged by the refused call
