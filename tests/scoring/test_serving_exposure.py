"""``mlcli serve``, ``mlcli server`` and ``mlcli ui`` never listen on a network address
without authentication unless told to (issue 15, finding 1): a non-loopback --host
needs --auth-token-file, or --allow-unauthenticated when something else guards it."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from servinghelpers import request

pytest.importorskip("uvicorn")

TOKEN = "a-token-of-thirty-two-characters"
_LISTENING = re.compile(r"on http://(\S+?):(\d+)[/ ]")
# each command, with what it needs besides its address, and a GET it answers with 200
COMMANDS = {
    "serve": (["serve", "-m", "models:/iris@champion"], "/ping"),
    "server": (["server"], "/api/2.0/mlflow/experiments/search?max_results=1"),
    "ui": (["ui"], "/api/experiments"),
}


def _environ(store: Path) -> dict[str, str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("MLCLI_")}
    environ["MLCLI_STORE"] = str(store)
    environ["MLCLI_DATA_DIR"] = os.environ["MLCLI_DATA_DIR"]
    return environ


@pytest.fixture
def started(tmp_path: Path) -> Iterator[list[subprocess.Popen[bytes]]]:
    processes: list[subprocess.Popen[bytes]] = []
    yield processes
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _start(started: list[subprocess.Popen[bytes]], store: Path, log: Path, args: list[str]) -> int:
    """Start ``mlcli ARGS --port 0`` and return the port it listens on."""
    with log.open("wb") as handle:
        process = subprocess.Popen(
            [sys.executable, "-m", "mlcli", *args, "--port", "0"],
            stdout=handle,
            stderr=subprocess.STDOUT,
            env=_environ(store),
        )
    started.append(process)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"mlcli {args[0]} exited {process.returncode}: {log.read_text()}")
        match = _LISTENING.search(log.read_text(errors="replace"))
        if match:
            return int(match[2])
        time.sleep(0.05)
    raise AssertionError(f"mlcli {args[0]} did not start: {log.read_text()}")


@pytest.mark.parametrize("command", sorted(COMMANDS))
@pytest.mark.parametrize("host", ["0.0.0.0", "::"])
def test_a_network_address_without_a_token_is_refused(
    command: str, host: str, serving_store: Path
) -> None:
    args, _ = COMMANDS[command]
    result = subprocess.run(
        [sys.executable, "-m", "mlcli", *args, "--host", host, "--port", "0"],
        capture_output=True,
        text=True,
        env=_environ(serving_store),
        timeout=120,  # a server that starts would run until killed: this fails the test
    )
    assert result.returncode == 2, result.stderr
    assert result.stderr == (
        f"mlcli: error: refusing to listen on {host} without authentication: anyone who can "
        f"reach it could {_EXPOSES[command]}; give --auth-token-file FILE, or "
        "--allow-unauthenticated if a firewall or an authenticating proxy already guards "
        "this address\n"
    )


_EXPOSES = {
    "serve": "use the model and read its metadata",
    "server": "read, change and delete everything in the store",
    "ui": "read every run, artifact and model in the store and promote models",
}


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_allow_unauthenticated_listens_on_every_interface(
    command: str, serving_store: Path, tmp_path: Path, started: list[subprocess.Popen[bytes]]
) -> None:
    args, probe = COMMANDS[command]
    port = _start(
        started,
        serving_store,
        tmp_path / "log",
        [*args, "--host", "0.0.0.0", "--allow-unauthenticated"],
    )
    assert request("127.0.0.1", port, "GET", probe, content_type=None).status == 200


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_a_token_lets_it_listen_and_every_request_needs_it(
    command: str, serving_store: Path, tmp_path: Path, started: list[subprocess.Popen[bytes]]
) -> None:
    args, probe = COMMANDS[command]
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n")
    port = _start(
        started,
        serving_store,
        tmp_path / "log",
        [*args, "--host", "0.0.0.0", "--auth-token-file", str(token_file)],
    )
    refused = request("127.0.0.1", port, "GET", probe, content_type=None)
    assert refused.status == 401 and b"Authorization: Bearer" in refused.body
    wrong = request("127.0.0.1", port, "GET", probe, content_type=None,
                    headers={"Authorization": "Bearer not-the-token"})  # fmt: skip
    assert wrong.status == 401
    allowed = request("127.0.0.1", port, "GET", probe, content_type=None,
                      headers={"Authorization": f"Bearer {TOKEN}"})  # fmt: skip
    assert allowed.status == 200, allowed.body


def test_a_token_serves_a_model_with_workers_too(
    serving_store: Path, tmp_path: Path, started: list[subprocess.Popen[bytes]]
) -> None:
    """Each uvicorn worker builds its own app: the token reaches every one."""
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN)
    args = ["serve", "-m", "models:/iris@champion", "--workers", "2",
            "--host", "0.0.0.0", "--auth-token-file", str(token_file)]  # fmt: skip
    port = _start(started, serving_store, tmp_path / "log", args)
    deadline = time.monotonic() + 90
    while request("127.0.0.1", port, "GET", "/ping", content_type=None).status == 503:
        assert time.monotonic() < deadline, "the workers did not load the model"
        time.sleep(0.1)
    for _ in range(6):
        assert request("127.0.0.1", port, "GET", "/ping", content_type=None).status == 401
        reply = request("127.0.0.1", port, "GET", "/ping", content_type=None,
                        headers={"Authorization": f"Bearer {TOKEN}"})  # fmt: skip
        assert reply.status == 200


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_loopback_needs_neither(
    command: str, serving_store: Path, tmp_path: Path, started: list[subprocess.Popen[bytes]]
) -> None:
    args, probe = COMMANDS[command]
    port = _start(started, serving_store, tmp_path / "log", [*args, "--host", "127.0.0.1"])
    assert request("127.0.0.1", port, "GET", probe, content_type=None).status == 200
