"""A running ``mlcli server`` or ``mlcli ui`` outlives its index file (issue 15, finding
8): when ``index.db`` is damaged under it, or replaced by ``mlcli index rebuild``, the
next request answers 200 with the right runs, without a restart."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from live_servers import LiveServer, start

from mlcli.client import MlcliClient
from mlcli.store import Store

pytest.importorskip("starlette")
pytest.importorskip("uvicorn")


def _make_run(store: Path, name: str) -> str:
    client = MlcliClient(Store.open(store))
    run = client.create_run("0", run_name=name)
    client.log_param(run.run_id, "lr", name)
    client.set_terminated(run.run_id)
    client.store.close()
    return run.run_id


def _runs_seen(server: LiveServer, command: str) -> dict[str, str]:
    """{run name: its lr param} as the server lists experiment 0's runs (asserting 200)."""
    if command == "server":
        reply = server.request(
            "POST", "/api/2.0/mlflow/runs/search", {"experiment_ids": ["0"], "max_results": 100}
        )
        assert reply.status == 200, reply.body
        runs = reply.json().get("runs", [])
        return {
            r["info"]["run_name"]: {p["key"]: p["value"] for p in r["data"]["params"]}["lr"]
            for r in runs
        }
    reply = server.request("GET", "/api/runs?experiment=0&columns=params.lr")
    assert reply.status == 200, reply.body
    return {r["run_name"]: r["values"]["params.lr"] for r in reply.json()["runs"]}


def _garble(index: Path) -> None:
    """Overwrite the index file in place (same inode) with bytes that are no database."""
    size = index.stat().st_size
    with open(index, "r+b") as handle:
        handle.write(b"\xde\xad\xbe\xef" * (size // 4 + 1))


def _rebuild(store: Path) -> None:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("MLCLI_")}
    environ["MLCLI_STORE"] = str(store)
    result = subprocess.run(
        [sys.executable, "-m", "mlcli", "index", "rebuild"],
        env=environ,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Callable[[str, Path], LiveServer]]:
    servers: list[LiveServer] = []

    def run(command: str, store: Path) -> LiveServer:
        server = start(command, store, tmp_path / f"{command}-{len(servers)}.log")
        servers.append(server)
        return server

    yield run
    for server in servers:
        server.stop()


@pytest.mark.parametrize("command", ["server", "ui"])
@pytest.mark.parametrize("damage", ["garbled", "garbled-then-rebuilt", "deleted-then-rebuilt"])
def test_a_running_server_recovers_from_a_damaged_or_replaced_index(
    command: str, damage: str, serve: Callable[[str, Path], LiveServer], tmp_path: Path
) -> None:
    store = tmp_path / ".mlruns"
    Store.initialize(store)
    _make_run(store, "first")
    server = serve(command, store)
    assert _runs_seen(server, command) == {"first": "first"}
    index = store / "index.db"
    identity = index.stat().st_ino

    if damage.startswith("garbled"):
        _garble(index)
    else:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{index}{suffix}").unlink(missing_ok=True)
    _make_run(store, "second")  # a writer meanwhile
    if damage.endswith("rebuilt"):
        _rebuild(store)
        assert index.stat().st_ino != identity  # another file now: the server must notice

    assert _runs_seen(server, command) == {"first": "first", "second": "second"}
    _make_run(store, "third")  # and it keeps following the files
    assert _runs_seen(server, command) == {"first": "first", "second": "second", "third": "third"}
    assert "Traceback" not in server.log()
