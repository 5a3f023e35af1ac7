"""Starting and stopping ``mlcli serve``: clean errors before binding, the address it
binds, SIGTERM letting requests in flight finish, worker processes."""

from __future__ import annotations

import json
import signal
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from servinghelpers import Reply, Server

BODY = json.dumps({"inputs": {"x": [2.0]}, "params": {"sleep": 1.5}})


@pytest.fixture
def iris_dir(tmp_path: Path) -> Path:
    from servingmodels import iris_classifier

    import mlcli.sklearn

    model, features = iris_classifier()
    mlcli.sklearn.save_model(model, tmp_path / "iris", input_example=features.head(2))
    return tmp_path / "iris"


def test_sigterm_lets_the_request_in_flight_finish(
    serve: Callable[..., Server], serving_store: Path, tmp_path: Path
) -> None:
    marker = tmp_path / "sleeping"
    server = serve("-m", "models:/scale/1", store=serving_store, SCALE_MODEL_SLEEPING=marker)
    replies: list[Reply] = []
    slow = threading.Thread(target=lambda: replies.append(server.post(BODY)))
    slow.start()
    deadline = time.monotonic() + 30
    while not marker.exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert marker.exists(), "the request never reached the model"
    server.process.send_signal(signal.SIGTERM)
    slow.join(30)
    assert server.process.wait(30) == 0
    assert [r.status for r in replies] == [200]
    assert replies[0].json() == {"predictions": [2.0]}
    with pytest.raises(OSError):
        server.request("GET", "/ping", timeout=2)
    assert "mlcli serve: stopped" in server.log()


def test_binds_loopback_only_by_default(serve: Callable[..., Server], iris_dir: Path) -> None:
    server = serve("-m", str(iris_dir))
    assert server.host == "127.0.0.1"
    assert f"serving {iris_dir} on http://127.0.0.1:{server.port}" in server.log()
    listening = {c.laddr for c in _listening(server.process.pid)}
    assert listening == {("127.0.0.1", server.port)}


def test_two_workers_answer_and_stop_together(serve: Callable[..., Server], iris_dir: Path) -> None:
    server = serve("-m", str(iris_dir), "--workers", "2")
    body = {"inputs": {"sepal length (cm)": [6.9], "sepal width (cm)": [3.1],
                       "petal length (cm)": [5.4], "petal width (cm)": [2.1]}}  # fmt: skip
    assert all(server.post(body).json() == {"predictions": [2]} for _ in range(20))
    assert "with 2 workers" in server.log()
    assert server.stop() == 0


def test_a_missing_model_is_one_line_and_exit_2(cli: Any, workdir: Path) -> None:
    result = cli("serve", "-m", str(workdir / "nothing"))
    assert result.exit_code == 2
    assert result.stderr.startswith("mlcli: error: no model at") and result.stderr.count("\n") == 1


@pytest.mark.parametrize(
    ("args", "phrase"),
    [
        (["--watch"], "--watch follows a stage or an alias"),
        (["--env-manager", "conda"], "unknown --env-manager 'conda'"),
        (["--max-body-size", "lots"], "invalid size 'lots'"),
        (["--workers", "0"], "--workers must be at least 1"),
        (["--timeout", "0"], "--timeout must be positive"),
    ],
)
def test_bad_options_are_usage_errors(
    cli: Any, iris_dir: Path, args: list[str], phrase: str
) -> None:
    result = cli("serve", "-m", str(iris_dir), *args)
    assert result.exit_code == 2, result.stderr
    assert phrase in result.stderr


def test_a_taken_port_is_a_clear_error(iris_dir: Path) -> None:
    """As a process, as users meet it. (In pytest's process, after the Keras tests have
    imported Keras and torch, a failed in-process serve left pytest's own stderr closed.)"""
    import subprocess
    import sys

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "mlcli", "serve", "-m", str(iris_dir), "--port", str(port)],
            capture_output=True, text=True, timeout=300, check=False,
        )  # fmt: skip
    assert result.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr
    assert "Traceback" not in result.stderr


def _listening(pid: int) -> list[Any]:
    """The listening TCP sockets of process ``pid`` (from /proc, without psutil)."""
    import os
    from collections import namedtuple

    Conn = namedtuple("Conn", "laddr")
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        target = os.readlink(f"/proc/{pid}/fd/{fd}")
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    found = []
    for table, family in (("/proc/net/tcp", 4), ("/proc/net/tcp6", 6)):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "0A" and fields[9] in inodes:  # 0A: LISTEN
                address, port = fields[1].split(":")
                host = (
                    socket.inet_ntop(socket.AF_INET, bytes.fromhex(address)[::-1])
                    if family == 4
                    else address
                )
                found.append(Conn((host, int(port, 16))))
    return found


def test_a_model_that_cannot_load_is_one_line_and_exit_1(cli: Any, iris_dir: Path) -> None:
    (iris_dir / "model.skops").write_bytes(b"not a skops file")
    result = cli("serve", "-m", str(iris_dir))
    assert result.exit_code == 1
    assert result.stderr.startswith(f"mlcli: error: cannot load the model {iris_dir}: ")
    assert result.stderr.count("\n") == 1
