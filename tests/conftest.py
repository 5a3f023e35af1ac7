"""Shared fixtures: an isolated working directory and store, and an in-process CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

# Real servers, each started once a session for every folder that uses them: S3 (moto's
# HTTP server, SeaweedFS), PostgreSQL (the auth database that several mlcli servers
# share) and a one-node Slurm cluster. Imported here only, so that no folder starts a
# second one.
from pgserver import postgres  # noqa: F401 - fixture
from s3servers import moto_server, s3_env, seaweedfs  # noqa: F401 - fixtures
from slurmcluster import slurm  # noqa: F401 - fixture

from mlcli.cli.main import main

CONTAINER_BASE_IMAGE = "python:3.11-slim"

_ENV_VARS = (
    "MLCLI_STORE",
    "MLCLI_TRACKING_URI",
    "MLCLI_RUN_ID",
    "MLCLI_INDEX",
    "MLCLI_EXPERIMENT_NAME",
    "MLCLI_EXPERIMENT_ID",
    "MLCLI_DEBUG",
    "MLCLI_ALLOW_PICKLE",
    "MLFLOW_ALLOW_PICKLE_DESERIALIZATION",
    "MLFLOW_TRACKING_URI",  # honoured by mlcli too (docs/cli.md)
    "MLFLOW_RUN_ID",
    "MLFLOW_EXPERIMENT_NAME",
    "MLFLOW_EXPERIMENT_ID",
    "MLFLOW_TRACKING_TOKEN",
    "MLFLOW_TRACKING_USERNAME",
    "MLFLOW_TRACKING_PASSWORD",
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES",
    "MLFLOW_ENABLE_SYSTEM_METRICS_LOGGING",
    "MLFLOW_SYSTEM_METRICS_SAMPLING_INTERVAL",
    "MLCLI_TRUNCATE_LONG_VALUES",
    "MLFLOW_TRUNCATE_LONG_VALUES",
)


@pytest.fixture(scope="session", autouse=True)
def _session_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """mlcli's per-user data (the trust records of the models that tests save) in one
    folder for the whole session (session fixtures save models too), never the
    developer's own. Processes that tests start inherit it."""
    previous = os.environ.get("MLCLI_DATA_DIR")
    os.environ["MLCLI_DATA_DIR"] = str(tmp_path_factory.mktemp("mlcli-data"))
    yield
    if previous is None:
        os.environ.pop("MLCLI_DATA_DIR", None)
    else:
        os.environ["MLCLI_DATA_DIR"] = previous


_REPOSITORY = Path(__file__).resolve().parent.parent
_STRAY = ("mlruns", "mlflow.db", ".mlruns")  # what a test that forgot tmp_path leaves


@pytest.fixture(scope="session", autouse=True)
def _repository_left_clean() -> Iterator[None]:
    """No test writes a store into the repository (MLflow's default artifact root is
    ./mlruns of the working directory, which for the tests is the repository)."""
    before = {name for name in _STRAY if (_REPOSITORY / name).exists()}
    yield
    after = {name for name in _STRAY if (_REPOSITORY / name).exists()}
    assert after <= before, f"a test left {sorted(after - before)} in {_REPOSITORY}"


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """No test sees the developer's MLCLI_* (or MLflow's) settings or store, nor what an
    earlier test set: ``mlflow.set_experiment`` writes MLFLOW_EXPERIMENT_ID into
    ``os.environ`` (for child processes), which monkeypatch does not undo for a
    variable that was not there."""
    for name in _ENV_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    yield
    for name in _ENV_VARS:
        os.environ.pop(name, None)  # monkeypatch then puts back what was there before


@pytest.fixture(autouse=True)
def _mlflow_fluent_state() -> Iterator[None]:
    """MLflow's fluent API keeps the active experiment, the run stack and a tracking
    URI set by ``mlflow.set_tracking_uri`` in module globals: a test that used it in
    this process must not leave the next one an experiment id of another database."""
    yield
    fluent = sys.modules.get("mlflow.tracking.fluent")
    if fluent is not None:
        while fluent.active_run() is not None:
            fluent.end_run()
        fluent._active_experiment_id = None
    utils = sys.modules.get("mlflow.tracking._tracking_service.utils")
    if utils is not None:
        utils._tracking_uri = None


_LOADED_PROBE = """
import sys
from mlcli.cli.main import main
try:
    main(sys.argv[1:])
except SystemExit:
    pass
sys.stderr.write("\\nLOADED=" + ",".join(sorted(sys.modules)) + "\\n")
"""


@pytest.fixture
def loaded_modules():
    """``loaded_modules("run", "--help", cwd=dir)`` runs the command in a fresh
    interpreter and returns the top-level packages it imported (every module's full
    name with ``full=True``)."""

    def probe(
        *args: str, cwd: Path, env: dict[str, str] | None = None, full: bool = False
    ) -> set[str]:
        if env is None:
            env = {k: v for k, v in os.environ.items() if not k.startswith("MLCLI_")}
        result = subprocess.run(
            [sys.executable, "-c", _LOADED_PROBE, *args],
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert "mlcli: error" not in result.stderr, result.stderr
        names = set(result.stderr.rsplit("LOADED=", 1)[1].strip().split(","))
        return names if full else {name.split(".")[0] for name in names}

    return probe


@pytest.fixture(scope="session")
def container_engine() -> Iterator[Any]:
    """A Docker SDK client of a real engine that has the base image. Skipped when no
    engine answers; failed instead when CONTAINER_TESTS_REQUIRED=1 (CI sets it), so
    CI cannot skip the container tests silently."""
    from mlcli.errors import EnvironmentFailure
    from mlcli.images.build import connect_engine, require_base_image

    try:
        client = connect_engine()
        require_base_image(client, CONTAINER_BASE_IMAGE)
    except EnvironmentFailure as exc:
        if os.environ.get("CONTAINER_TESTS_REQUIRED") == "1":
            pytest.fail(f"CONTAINER_TESTS_REQUIRED=1, but: {exc}")
        pytest.skip(f"no usable container engine: {exc}")
    yield client
    client.close()


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty working directory, made current."""
    directory = tmp_path / "work"
    directory.mkdir()
    monkeypatch.chdir(directory)
    return directory


@pytest.fixture
def store_root(workdir: Path) -> Path:
    """An initialised store in the working directory."""
    from mlcli.store import Store

    Store.initialize(workdir / ".mlruns")
    return workdir / ".mlruns"


@dataclass
class CliResult:
    exit_code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch):
    """Run mlcli in this process, as the console script would: ``cli("runs", "list")``."""

    def run(*args: str, input: str | None = None) -> CliResult:
        if input is not None:
            import io

            monkeypatch.setattr(sys, "stdin", io.StringIO(input))
        capsys.readouterr()
        try:
            main(list(args))
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err)

    return run


@pytest.fixture
def mlcli_process():
    """Run the real command in a subprocess: ``mlcli_process("runs", "list", cwd=dir)``."""

    def run(
        *args: str,
        cwd: Path | None = None,
        env: dict[str, str] | None = None,
        input: str | None = None,
        check: bool = True,
    ) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [sys.executable, "-m", "mlcli", *args],
            cwd=cwd,
            env=env,
            input=input,
            capture_output=True,
            text=True,
            timeout=120,
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"mlcli {' '.join(args)} failed ({result.returncode}): {result.stderr}"
            )
        return result

    return run
