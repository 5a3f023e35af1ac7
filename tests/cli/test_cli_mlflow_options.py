"""MLflow's option names, typed as MLflow's users type them, through a real ``mlcli``
process: ``mlflow run``'s, ``mlflow server``'s, ``mlflow experiments``' and ``mlflow
runs``'. Each lands where mlcli's own option does; what mlcli cannot do is refused in
one line (docs/mlflow.md lists both)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from mlcli.tracking import TrackingClient

pytestmark = pytest.mark.slow

PROJECT = """
name: opts
entry_points:
  main:
    parameters:
      alpha: {type: float, default: 0.1}
    command: python -c "print('alpha', {alpha})"
"""


@pytest.fixture
def mlcli(tmp_path: Path, mlcli_process: Any) -> Any:
    """``mlcli(*args, check=True)`` in a subprocess over the store ``tmp_path/.mlruns``."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("MLCLI_", "MLFLOW_"))}
    environ["MLCLI_STORE"] = str(tmp_path / ".mlruns")
    environ["GIT_PYTHON_REFRESH"] = "quiet"

    def run(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return mlcli_process(*args, cwd=tmp_path, env=environ, check=check)  # type: ignore[no-any-return]

    return run


def _store(tmp_path: Path) -> TrackingClient:
    return TrackingClient(tmp_path / ".mlruns")


def test_mlflow_run_options(tmp_path: Path, mlcli: Any) -> None:
    project = tmp_path / "proj"
    project.mkdir()
    (project / "MLproject").write_text(PROJECT)
    mlcli("experiments", "create", "first")
    by_name = mlcli(
        "run", str(project), "--experiment-name", "tuning", "--param-list", "alpha=0.5", "--json"
    )
    run = json.loads(by_name.stdout)
    client = _store(tmp_path)
    assert client.get_experiment(run["experiment_id"]).name == "tuning"  # created by name
    assert client.get_run(run["run_id"]).data.params == {"alpha": "0.5"}
    assert "alpha 0.5" in by_name.stderr

    by_id = json.loads(mlcli("run", str(project), "--experiment-id", "1", "--json").stdout)
    assert by_id["experiment_id"] == "1"
    assert client.get_experiment("1").name == "first"

    missing = mlcli("run", str(project), "--experiment-id", "42", check=False)
    assert (missing.returncode, missing.stderr) == (
        2,
        "mlcli: error: no experiment with id '42' (see 'mlcli experiments list')\n",
    )
    both = mlcli("run", str(project), "-x", "a", "--experiment-name", "b", check=False)
    assert both.returncode == 2
    assert (
        both.stderr == "mlcli: error: --experiment and --experiment-name cannot be used together\n"
    )
    assert len(client.search_runs()) == 2  # neither refusal made a run


def test_env_manager_uv_is_a_virtualenv(tmp_path: Path, mlcli: Any) -> None:
    project = tmp_path / "proj"
    project.mkdir()
    (project / "MLproject").write_text(
        "name: uvproj\npython_env: python_env.yaml\n"
        "entry_points:\n  main:\n    command: python -c \"print('in the venv')\"\n"
    )
    (project / "python_env.yaml").write_text("build_dependencies: []\ndependencies: []\n")
    result = json.loads(mlcli("run", str(project), "--env-manager", "uv", "--json").stdout)
    assert result["env_manager"] == "virtualenv"
    run = _store(tmp_path).get_run(result["run_id"])
    assert run.data.tags["mlcli.project.env"] == "virtualenv"


def test_mlflow_experiments_options(tmp_path: Path, mlcli: Any) -> None:
    assert mlcli("experiments", "create", "--experiment-name", "a", "-q").stdout == "1\n"
    assert mlcli("experiments", "create", "-n", "b", "-q").stdout == "2\n"
    mlcli("experiments", "rename", "--experiment-id", "1", "--new-name", "a2")
    mlcli("experiments", "delete", "-x", "2")
    client = _store(tmp_path)
    assert client.get_experiment("1").name == "a2"
    assert client.get_experiment("2").lifecycle_stage == "deleted"
    mlcli("experiments", "restore", "--experiment-id", "2")
    assert client.get_experiment("2").lifecycle_stage == "active"

    located = mlcli("experiments", "create", "-n", "c", "-l", "s3://bucket/art", check=False)
    assert located.returncode == 2
    assert located.stderr.startswith("mlcli: error: --artifact-location: mlcli keeps a run's")
    assert client.get_experiment_by_name("c") is None


def test_mlflow_runs_options(tmp_path: Path, mlcli: Any) -> None:
    parent = mlcli("runs", "create", "--experiment-name", "e", "--run-name", "p", "-q")
    parent_id = parent.stdout.strip()
    child_id = mlcli(
        "runs", "create", "--experiment-id", "1", "--parent-run-id", parent_id, "-q"
    ).stdout.strip()
    described = json.loads(mlcli("runs", "describe", "--run-id", child_id, "--json").stdout)
    assert (described["experiment_id"], described["parent_run_id"]) == ("1", parent_id)
    assert (
        json.loads(mlcli("runs", "show", "--run-id", parent_id, "--json").stdout)["run_name"] == "p"
    )
    listed = mlcli("runs", "list", "--experiment-id", "1", "-q").stdout.split()
    assert sorted(listed) == sorted([parent_id, child_id])
    mlcli("runs", "delete", "--run-id", child_id)
    assert mlcli("runs", "list", "-v", "deleted_only", "-q").stdout.split() == [child_id]
    mlcli("runs", "restore", "--run-id", child_id)
    assert sorted(mlcli("runs", "list", "--view", "ALL", "-q").stdout.split()) == sorted(listed)
    bad = mlcli("runs", "list", "-v", "archived", check=False)
    assert bad.returncode == 2
    assert bad.stderr == (
        "mlcli: error: --view 'archived': expected active_only, deleted_only or all\n"
    )


def _start(tmp_path: Path, command: str, *args: str) -> tuple[subprocess.Popen[bytes], Path]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("MLCLI_", "MLFLOW_"))}
    log = tmp_path / f"{command}.log"
    with log.open("wb") as stream:
        process = subprocess.Popen(
            [sys.executable, "-m", "mlcli", command, *args],
            stdout=stream,
            stderr=subprocess.STDOUT,
            env=environ,
            cwd=tmp_path,
        )
    return process, log


def test_mlflow_server_options(tmp_path: Path, mlcli: Any) -> None:
    assert mlcli("server", "-h").stdout.lstrip().startswith("Usage: mlcli server")
    served = tmp_path / "served"
    process, log = _start(
        tmp_path,
        "server",
        "-h",
        "127.0.0.1",
        "-p",
        "0",
        "--backend-store-uri",
        served.as_uri(),
        "--default-artifact-root",
        "./artifacts",
        "--serve-artifacts",
    )
    try:
        deadline = time.monotonic() + 60
        while not (found := re.search(r"on (http://127\.0\.0\.1:\d+) \(", log.read_text())):
            assert process.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.05)
        request = urllib.request.Request(
            f"{found[1]}/api/2.0/mlflow/experiments/create",
            data=json.dumps({"name": "through-mlflow-names"}).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as answer:
            experiment_id = json.loads(answer.read())["experiment_id"]
    finally:
        process.terminate()
        process.wait(30)
    assert TrackingClient(served).get_experiment(experiment_id).name == "through-mlflow-names"
    assert (
        "mlcli: warning: artifacts are kept in the store and served by this server "
        "(as MLflow's --serve-artifacts), not in ./artifacts"
    ) in log.read_text()
    assert not (tmp_path / "artifacts").exists()


def test_mlflow_ui_and_models_serve_options(tmp_path: Path, mlcli: Any) -> None:
    mlcli("experiments", "create", "shown")
    store = tmp_path / ".mlruns"
    process, log = _start(
        tmp_path, "ui", "-h", "127.0.0.1", "-p", "0", "--backend-store-uri", str(store)
    )
    try:
        deadline = time.monotonic() + 60
        while "serving the dashboard" not in log.read_text():
            assert process.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.05)
    finally:
        process.terminate()
        process.wait(30)
    assert log.read_text().startswith(f"serving the dashboard of {store} on http://127.0.0.1:")
    assert mlcli("ui", "-h").stdout.lstrip().startswith("Usage: mlcli ui")
    # mlflow models serve -m MODEL -h HOST -p PORT: -h is the host, so the model is looked for
    missing = mlcli("serve", "-m", "models:/nothing/1", "-h", "127.0.0.1", "-p", "0", check=False)
    assert missing.returncode == 2
    assert "nothing" in missing.stderr and "Usage" not in missing.stderr
    assert mlcli("serve", "-h").stdout.lstrip().startswith("Usage: mlcli serve")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--backend-store-uri", "sqlite:///mlflow.db"],
            "mlcli: error: --backend-store-uri sqlite:///mlflow.db names an MLflow database, "
            "which mlcli cannot use as its store",
        ),
        (
            ["--store", "a", "--backend-store-uri", "b"],
            "mlcli: error: --store a and --backend-store-uri b name two stores: give one",
        ),
        (["--no-serve-artifacts"], "mlcli: error: --no-serve-artifacts: mlcli server always"),
    ],
)
def test_mlflow_server_options_mlcli_cannot_honour(
    args: list[str], message: str, tmp_path: Path
) -> None:
    process, log = _start(tmp_path, "server", *args, "--port", "0")
    try:
        code = process.wait(60)
    finally:
        if process.poll() is None:
            process.terminate()
            process.wait(30)
    assert code != 0
    assert log.read_text().startswith(message)
    assert len(log.read_text().splitlines()) == 1
