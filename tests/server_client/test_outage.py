"""A training process logging to a team server that is killed and comes back: every
point logged arrives, once, and the process ends normally."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from trackingserver import start_tracking_server

TRAINING = r"""
import sys, time, pathlib, mlcli
marks = pathlib.Path(sys.argv[1])
def wait_for(name):
    while not (marks / name).exists():
        time.sleep(0.02)
with mlcli.start_run() as run:
    (marks / "run_id").write_text(run.info.run_id)
    for i in range(1000):
        mlcli.log_metric("x", float(i), step=i)
    mlcli.get_run(run.info.run_id)  # a read: every buffered point is on the server
    (marks / "logged-before").touch()
    wait_for("server-down")
    for i in range(1000, 3000):
        mlcli.log_metric("x", float(i), step=i)
    (marks / "logged-during").touch()
    wait_for("server-up")
print("ended")
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(path: Path, process: subprocess.Popen[str]) -> None:
    while not path.exists():
        assert process.poll() is None, process.communicate()
        time.sleep(0.02)


def steps(url: str, run_id: str) -> list[int]:
    query = f"run_id={run_id}&metric_key=x&max_results=25000"
    with urllib.request.urlopen(f"{url}/api/2.0/mlflow/metrics/get-history?{query}") as reply:
        return sorted(int(m["step"]) for m in json.load(reply)["metrics"])


@pytest.mark.parametrize("retries", ["5", "0"], ids=["retried", "re-sent-later"])
def test_points_logged_while_the_server_is_down_arrive_once_it_is_back(
    tmp_path: Path, retries: str
) -> None:
    """Within the retry window the requests are retried; beyond it (no retries here)
    the buffer keeps the points and its thread sends them again later."""
    store, marks = tmp_path / ".mlruns", tmp_path / "marks"
    marks.mkdir()
    port = free_port()
    server = start_tracking_server(store, tmp_path / "server-1.log", port=port)
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("MLCLI_", "MLFLOW_"))}
    environ.update(
        MLCLI_STORE=server.url, XDG_CACHE_HOME=str(tmp_path / "cache"), MLCLI_HTTP_RETRIES=retries
    )
    errors = tmp_path / "training.err"
    with errors.open("w") as stderr:
        training = subprocess.Popen(
            [sys.executable, "-c", TRAINING, str(marks)],
            env=environ,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
        )
    try:
        wait_for(marks / "logged-before", training)
        server.process.send_signal(signal.SIGKILL)  # no goodbye: a crash
        server.process.wait()
        (marks / "server-down").touch()
        wait_for(marks / "logged-during", training)  # the loop goes on without a server
        if retries == "0":  # the buffer's thread fails to send, and says it will retry
            while "will retry" not in errors.read_text():
                assert training.poll() is None, errors.read_text()
                time.sleep(0.02)
        server = start_tracking_server(store, tmp_path / "server-2.log", port=port)
        (marks / "server-up").touch()
        out, _ = training.communicate(timeout=120)
        err = errors.read_text()
        assert training.returncode == 0, err
        assert out.strip() == "ended"
        assert "Traceback" not in err
        if retries == "0":
            assert "could not write metrics yet" in err and "will retry" in err
        run_id = (marks / "run_id").read_text()
        assert steps(server.url, run_id) == list(range(3000))  # none lost, none twice
        with urllib.request.urlopen(f"{server.url}/api/2.0/mlflow/runs/get?run_id={run_id}") as r:
            assert json.load(r)["run"]["info"]["status"] == "FINISHED"
    finally:
        if training.poll() is None:
            training.kill()
            training.communicate()
        server.stop()
