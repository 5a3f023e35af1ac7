"""Over-long param and tag values: MLflow truncates them silently (param values to 6000
characters, run tag values to 8000, ``MLFLOW_TRUNCATE_LONG_VALUES`` on by default);
mlcli refuses them, saying the limit and how to truncate instead, and truncates with
``MLCLI_TRUNCATE_LONG_VALUES=true`` (or MLflow's variable set to true), the same in the
Python API, the CLI and ``mlcli server``."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mlcli.errors import InvalidInputError
from mlcli.tracking import TrackingClient

LONG_PARAM = "p" * 5999 + "END-OF-PARAM"  # 6011 characters
LONG_TAG = "t" * 7999 + "END-OF-TAG"  # 8009 characters


def _environment(store: Path, **extra: str) -> dict[str, str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("MLCLI_", "MLFLOW_"))}
    environ["MLCLI_STORE"] = str(store)
    environ.update(extra)
    return environ


def test_the_python_api_refuses_and_says_how_to_truncate(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = TrackingClient(tmp_path / ".mlruns")
    run_id = client.create_run().run_id
    with pytest.raises(InvalidInputError) as refused:
        client.log_param(run_id, "p", LONG_PARAM)
    assert refused.value.message == (
        "value of param 'p' is 6011 characters long; the limit is 6000 (MLflow truncates it "
        "to 6000: set MLCLI_TRUNCATE_LONG_VALUES=true where mlcli writes, for mlcli server "
        "in its environment, to do the same)"
    )
    with pytest.raises(InvalidInputError, match=r"the limit is 8000 \(MLflow truncates"):
        client.set_tag(run_id, "t", LONG_TAG)
    assert client.get_run(run_id).data.params == {}

    monkeypatch.setenv("MLCLI_TRUNCATE_LONG_VALUES", "true")
    client.log_param(run_id, "p", LONG_PARAM)
    client.set_tag(run_id, "t", LONG_TAG)
    client.log_batch(run_id, params={"q": LONG_PARAM}, tags={"u": LONG_TAG})
    data = TrackingClient(tmp_path / ".mlruns").get_run(run_id).data
    assert data.params == {"p": LONG_PARAM[:6000], "q": LONG_PARAM[:6000]}
    assert (data.tags["t"], data.tags["u"]) == (LONG_TAG[:8000], LONG_TAG[:8000])


@pytest.mark.parametrize(
    ("mlcli", "mlflow", "truncates"),
    [
        (None, "true", True),  # MLflow's own switch, set on purpose
        (None, "1", True),
        ("false", "true", False),  # mlcli's wins
        ("0", None, False),
        (None, None, False),  # MLflow's default is to truncate; mlcli's is to refuse
    ],
)
def test_which_variable_decides(
    mlcli: str | None,
    mlflow: str | None,
    truncates: bool,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name, value in (
        ("MLCLI_TRUNCATE_LONG_VALUES", mlcli),
        ("MLFLOW_TRUNCATE_LONG_VALUES", mlflow),
    ):
        if value is not None:
            monkeypatch.setenv(name, value)
    client = TrackingClient(tmp_path / ".mlruns")
    run_id = client.create_run().run_id
    if truncates:
        client.log_param(run_id, "p", LONG_PARAM)
        assert client.get_run(run_id).data.params["p"] == LONG_PARAM[:6000]
    else:
        with pytest.raises(InvalidInputError, match="the limit is 6000"):
            client.log_param(run_id, "p", LONG_PARAM)


def test_what_mlflow_never_truncates_stays_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLCLI_TRUNCATE_LONG_VALUES", "true")
    client = TrackingClient(tmp_path / ".mlruns")
    with pytest.raises(InvalidInputError, match=r"the limit is 20000$"):
        client.create_experiment("e", tags={"t": "x" * 20001})
    monkeypatch.setenv("MLCLI_TRUNCATE_LONG_VALUES", "sometimes")
    with pytest.raises(
        InvalidInputError, match=r"^MLCLI_TRUNCATE_LONG_VALUES='sometimes': expected"
    ):
        client.log_param(client.create_run().run_id, "p", LONG_PARAM)


@pytest.mark.slow
def test_the_cli_refuses_in_one_line_and_truncates_when_asked(
    tmp_path: Path, mlcli_process: Any
) -> None:
    store = tmp_path / ".mlruns"
    run_id = mlcli_process("runs", "create", "-q", env=_environment(store)).stdout.strip()
    refused = mlcli_process(
        "log", "param", "p", LONG_PARAM, "--run", run_id, env=_environment(store), check=False
    )
    assert refused.returncode == 2
    assert refused.stderr.splitlines() == [
        "mlcli: error: value of param 'p' is 6011 characters long; the limit is 6000 (MLflow "
        "truncates it to 6000: set MLCLI_TRUNCATE_LONG_VALUES=true where mlcli writes, for "
        "mlcli server in its environment, to do the same)"
    ]
    truncating = _environment(store, MLCLI_TRUNCATE_LONG_VALUES="true")
    done = mlcli_process("log", "param", "p", LONG_PARAM, "--run", run_id, env=truncating)
    assert "value of param 'p' (6011 characters) truncated to its first 6000" in done.stderr
    mlcli_process("log", "tag", "t", LONG_TAG, "--run", run_id, env=truncating)
    shown = json.loads(mlcli_process("runs", "show", run_id, "--json", env=truncating).stdout)
    assert shown["params"] == {"p": LONG_PARAM[:6000]}
    assert shown["tags"]["t"] == LONG_TAG[:8000]


MLFLOW_CLIENT = """
import sys, warnings
warnings.simplefilter("ignore")
import mlflow
from mlflow.exceptions import MlflowException
client = mlflow.MlflowClient(sys.argv[1])
run_id = client.create_run("0").info.run_id
try:
    client.log_param(run_id, "p", sys.argv[2])
    client.set_tag(run_id, "t", sys.argv[3])
except MlflowException as exc:
    print("REFUSED", exc.message)
else:
    data = client.get_run(run_id).data
    print("STORED", len(data.params["p"]), data.params["p"][-3:], len(data.tags["t"]))
"""


@pytest.fixture
def mlcli_server(tmp_path: Path) -> Iterator[Any]:
    """``mlcli_server(**environment)``: a real ``mlcli server`` on a free port; its URL."""
    processes: list[subprocess.Popen[bytes]] = []

    def start(**extra: str) -> str:
        log = tmp_path / f"server-{len(processes)}.log"
        with log.open("wb") as stream:
            process = subprocess.Popen(
                [sys.executable, "-m", "mlcli", "server", "--port", "0"],
                stdout=stream,
                stderr=subprocess.STDOUT,
                env=_environment(tmp_path / f"store-{len(processes)}", **extra),
            )
        processes.append(process)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            found = re.search(r"on (http://127\.0\.0\.1:\d+) \(", log.read_text())
            if found:
                return found[1]
            assert process.poll() is None, log.read_text()
            time.sleep(0.05)
        raise AssertionError(f"mlcli server did not start:\n{log.read_text()}")

    yield start
    for process in processes:
        process.terminate()
        process.wait(30)


@pytest.mark.slow
@pytest.mark.mlflow
def test_mlflow_clients_of_mlcli_server_see_the_same_rule(mlcli_server: Any) -> None:
    pytest.importorskip("mlflow")

    def log_with_mlflow(url: str) -> str:
        environ = {k: v for k, v in os.environ.items() if not k.startswith(("MLCLI_", "MLFLOW_"))}
        result = subprocess.run(
            [sys.executable, "-c", MLFLOW_CLIENT, url, LONG_PARAM, LONG_TAG],
            capture_output=True,
            text=True,
            env=environ,
            timeout=120,
            check=True,
        )
        return result.stdout.strip()

    refused = log_with_mlflow(mlcli_server())
    assert refused.startswith("REFUSED INVALID_PARAMETER_VALUE: value of param 'p' is 6011 ")
    assert "the limit is 6000 (MLflow truncates it to 6000: set MLCLI_TRUNCATE" in refused
    # the server's environment decides, as MLflow's server's does
    assert (
        log_with_mlflow(mlcli_server(MLFLOW_TRUNCATE_LONG_VALUES="true")) == "STORED 6000 ppE 8000"
    )
