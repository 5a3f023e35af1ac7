"""Runs logged through a team server never go stale: mlcli's clients send who owns a
run and its heartbeat (``mlcli_owner``, ``mlcli_heartbeat``), and the server's reads end
a run whose owner is gone. Real ``mlcli server`` processes over a store directory and
over a team store (a bucket on moto's S3 server, PostgreSQL), real client processes."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from trackingserver import TrackingServer

from mlcli import system_tags

DEADLINE = 120.0  # generous: a loaded machine is slow, never wrong
STALE_AFTER = "1"  # the server's MLCLI_STALE_AFTER_SECONDS

_CLIENT = """
import time, mlcli
with mlcli.start_run(run_name="owned") as run:
    mlcli.log_metric("loss", 0.5)
    print(run.info.run_id, flush=True)
    time.sleep(3600)
"""


def _clean_env(**extra: str) -> dict[str, str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("MLCLI_", "MLFLOW_"))}
    environ.update(extra)
    return environ


@pytest.fixture(params=["directory", "bucket-and-postgres"])
def server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[TrackingServer]:
    """``mlcli server`` with MLCLI_STALE_AFTER_SECONDS=1, over a store directory or a
    team store (the fixtures of ``conftest.py`` start theirs without it)."""
    folder = tmp_path / "server"
    folder.mkdir()
    store: Path | str = folder / ".mlruns"
    args: list[str] = []
    env = _clean_env(MLCLI_STALE_AFTER_SECONDS=STALE_AFTER)
    if request.param != "directory":
        moto = request.getfixturevalue("moto_server")
        env.update(request.getfixturevalue("s3_env")(moto))
        store = f"s3://{moto.new_bucket()}/team"
        args = ["--index", request.getfixturevalue("postgres").new_database()]
    env["MLCLI_STORE"] = str(store)
    log_path = folder / "server.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "mlcli", "server", *args, "--port", "0"],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
        )
    started = TrackingServer(process, log_path, store)
    if args:
        started.index = args[1]
    try:
        started.wait_ready()
        yield started
    finally:
        started.stop()


def _mlcli(server: TrackingServer, *args: str) -> Any:
    done = subprocess.run(
        [sys.executable, "-m", "mlcli", "--store", server.url, *args, "--json"],
        env=_clean_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def _statuses(server: TrackingServer) -> dict[str, str]:
    return {run["run_id"]: run["status"] for run in _mlcli(server, "runs", "list")}


def _doc(server: TrackingServer, run_id: str) -> dict[str, Any]:
    """The run's document in the served store itself (what the server recorded)."""
    store = server.own_store()
    if isinstance(store, Path):
        return dict(json.loads((store / "runs" / run_id / "run.json").read_text()))
    try:
        return dict(store.runs.read_doc(run_id))
    finally:
        store.close()


def test_a_sigkilled_client_process_leaves_a_run_the_server_ends(server: TrackingServer) -> None:
    client = subprocess.Popen(
        [sys.executable, "-c", _CLIENT],
        stdout=subprocess.PIPE,
        text=True,
        env=_clean_env(MLCLI_STORE=server.url, MLCLI_HEARTBEAT_SECONDS="0.2"),
    )
    try:
        assert client.stdout is not None
        run_id = client.stdout.readline().strip()
        assert run_id, "the client created no run"
        beats: set[int] = set()
        deadline = time.monotonic() + DEADLINE
        while len(beats) < 3:  # the client beats through the server, at its own period
            assert time.monotonic() < deadline, f"the heartbeat did not move: {beats}"
            doc = _doc(server, run_id)
            assert doc["owner"]["pid"] == client.pid
            assert doc["heartbeat"]["every"] == 0.2
            beats.add(doc["heartbeat"]["at"])
            time.sleep(0.1)
        assert _statuses(server)[run_id] == "RUNNING"  # its owner lives: left alone
    finally:
        client.send_signal(signal.SIGKILL)
        client.wait()
        if client.stdout is not None:
            client.stdout.close()
    assert _statuses(server)[run_id] == "FAILED"
    shown = _mlcli(server, "runs", "show", run_id)
    reason = (
        f"owner process {client.pid} on host {socket.gethostname()} exited without ending the run"
    )
    assert shown["tags"][system_tags.END_REASON] == reason


_SLEEPER = """
import os, time
with open("pid.tmp", "w") as handle:
    handle.write(str(os.getpid()))
os.rename("pid.tmp", "pid")
time.sleep(600)
"""


def test_a_sigkilled_mlcli_run_leaves_a_run_the_server_ends(
    server: TrackingServer, tmp_path: Path
) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / "MLproject").write_text("entry_points: {main: {command: 'python sleeper.py'}}\n")
    (project / "sleeper.py").write_text(_SLEEPER)
    runner = subprocess.Popen(
        [sys.executable, "-m", "mlcli", "run", str(project)],
        cwd=tmp_path,
        env=_clean_env(MLCLI_STORE=server.url),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    entry_point = None
    try:
        deadline = time.monotonic() + DEADLINE
        while not (project / "pid").exists():
            assert runner.poll() is None, "mlcli run exited before its entry point started"
            assert time.monotonic() < deadline, "the entry point did not start"
            time.sleep(0.1)
        entry_point = int((project / "pid").read_text())
        (run_id,) = _statuses(server)
        assert _statuses(server)[run_id] == "RUNNING"
    finally:
        runner.kill()  # SIGKILL: mlcli run can neither forward it nor end its run
        runner.wait()
        if entry_point is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(entry_point, signal.SIGKILL)
    run = _mlcli(server, "runs", "show", run_id)
    assert run["status"] == "FAILED"
    host = socket.gethostname()
    reason = f"owner process {runner.pid} on host {host} exited without ending the run"
    assert run["tags"][system_tags.END_REASON] == reason


def test_an_owner_elsewhere_fails_once_its_heartbeat_stops(server: TrackingServer) -> None:
    """A process the server cannot look at (another host) is judged by its heartbeat."""
    owner = {"host": "elsewhere", "boot": None, "pid_namespace": None, "pid": 42, "started": "7"}
    created = server.api(
        "POST",
        "runs/create",
        {"experiment_id": "0", "mlcli_owner": owner, "mlcli_heartbeat": {"every": 20}},
    )
    assert created.status == 200, created.body
    run_id = created.json()["run"]["info"]["run_id"]
    # stale after max(1 s, three periods): 60 s, far away
    assert _statuses(server)[run_id] == "RUNNING"
    assert _doc(server, run_id)["owner"] == owner
    # a beat announcing a short period: silence then ends it within a second or so
    beat = server.api("POST", "runs/update", {"run_id": run_id, "mlcli_heartbeat": {"every": 0.1}})
    assert beat.status == 200, beat.body
    deadline = time.monotonic() + DEADLINE
    while _statuses(server)[run_id] != "FAILED":
        assert time.monotonic() < deadline, "the run whose heartbeat stopped was not ended"
        time.sleep(0.2)
    reason = _mlcli(server, "runs", "show", run_id)["tags"][system_tags.END_REASON]
    assert reason.startswith("the heartbeat of owner process 42 on host elsewhere stopped at ")


def test_a_job_the_server_cannot_ask_about_is_left_alone(server: TrackingServer) -> None:
    """A Kubernetes Job (a sweep's trial: its index) in a context this server's host
    does not have: recorded as sent, and the run stays RUNNING."""
    job = {
        "kind": "kubernetes",
        "namespace": "ml",
        "name": "sweep-1",
        "uid": "0d6c0b8e",
        "context": "a-cluster-the-server-does-not-know",
        "index": 3,
    }
    created = server.api("POST", "runs/create", {"experiment_id": "0", "mlcli_owner": job})
    assert created.status == 200, created.body
    run_id = created.json()["run"]["info"]["run_id"]
    assert _doc(server, run_id)["owner"] == job
    assert _statuses(server)[run_id] == "RUNNING"
    assert _mlcli(server, "runs", "show", run_id)["status"] == "RUNNING"


@pytest.mark.parametrize(
    ("endpoint", "fields", "message"),
    [
        ("runs/create", {"mlcli_owner": "me"}, "invalid mlcli_owner: expected an object"),
        (
            "runs/create",
            {"mlcli_owner": {"host": "h", "pid": -1, "started": "1"}},
            "invalid mlcli_owner: 'pid' must be a positive integer",
        ),
        (
            "runs/create",
            {"mlcli_owner": {"kind": "lsf", "job": "1"}},
            "invalid mlcli_owner: unknown kind 'lsf'",
        ),
        (
            "runs/create",
            {"mlcli_owner": {"host": "h", "pid": 1, "started": 5}},
            "invalid mlcli_owner: invalid value for 'started'",
        ),
        (
            "runs/create",
            {"mlcli_owner": {"kind": "slurm", "job_id": "1", "node": "n"}},
            "invalid mlcli_owner: unknown field 'node'",
        ),
        ("runs/create", {"mlcli_heartbeat": {"every": 0}}, "invalid mlcli_heartbeat"),
        (
            "runs/update",
            {"status": "FINISHED", "mlcli_owner": {"kind": "slurm", "job_id": "12"}},
            "mlcli_owner names who owns a live run",
        ),
    ],
)
def test_a_malformed_owner_or_heartbeat_is_a_400_in_one_line_and_writes_nothing(
    server: TrackingServer, endpoint: str, fields: dict[str, Any], message: str
) -> None:
    created = server.api("POST", "runs/create", {"experiment_id": "0"})
    run_id = created.json()["run"]["info"]["run_id"]
    body = {"experiment_id": "0"} if endpoint == "runs/create" else {"run_id": run_id}
    refused = server.api("POST", endpoint, {**body, **fields})
    assert refused.status == 400, refused.body
    error = refused.json()
    assert error["error_code"] == "INVALID_PARAMETER_VALUE"
    assert error["message"].startswith(message) and "\n" not in error["message"]
    assert _statuses(server) == {run_id: "RUNNING"}
    assert "owner" not in _doc(server, run_id) or _doc(server, run_id)["owner"] is None
