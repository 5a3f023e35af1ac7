"""``mlcli gc`` never purges a run that is being restored, and removes what killed
writers left behind (issue 15, finding 12)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from live_servers import start

from mlcli.client import MlcliClient
from mlcli.store import Store

# A restore in progress, as ``RunFiles.update`` does it: the run's lock held across the
# read and the rewrite of run.json. It holds the lock until told (a line on stdin) to
# finish.
_RESTORER = """
import sys
from pathlib import Path
from mlcli.files.fileio import read_json, write_json_atomic
from mlcli.store.layout import StoreLayout
from mlcli.files.lock import FileLock

layout = StoreLayout(Path(sys.argv[1]))
run_id = sys.argv[2]
with FileLock(layout.run_lock(run_id)):
    doc = read_json(layout.run_doc(run_id))
    print("holding", flush=True)
    sys.stdin.readline()
    doc.update(lifecycle_stage="active", deleted_time=None)
    write_json_atomic(layout.run_doc(run_id), doc)
"""


def _environment(store: Path) -> dict[str, str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("MLCLI_")}
    environ["MLCLI_STORE"] = str(store)
    return environ


def _mlcli(store: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mlcli", *args],
        env=_environment(store),
        capture_output=True,
        text=True,
        timeout=120,
    )


def _deleted_run(store: Path) -> str:
    Store.initialize(store)
    client = MlcliClient(Store.open(store))
    run_id = client.create_run("0", run_name="precious").run_id
    client.log_param(run_id, "lr", "0.1")
    client.set_terminated(run_id)
    client.delete_run(run_id)
    client.store.close()
    return run_id


def _waits_for_lock(pid: int, lock: Path) -> bool:
    """Whether process ``pid`` is blocked on the flock of ``lock`` (from /proc/locks)."""
    try:
        inode = os.stat(lock).st_ino
    except FileNotFoundError:  # the run was purged under its lock's holder
        return False
    for line in Path("/proc/locks").read_text().splitlines():
        fields = line.split()
        if "->" in fields and "FLOCK" in fields:
            at = fields.index("FLOCK")
            if fields[at + 3] == str(pid) and fields[at + 4].rsplit(":", 1)[-1] == str(inode):
                return True
    return False


def _gc_blocked_on(store: Path, lock: Path) -> subprocess.Popen[str]:
    """``mlcli gc --json``, once it waits for ``lock``; fails if it finishes first."""
    gc = subprocess.Popen(
        [sys.executable, "-m", "mlcli", "gc", "--json"],
        env=_environment(store),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 120
    while not _waits_for_lock(gc.pid, lock):
        if gc.poll() is not None:
            out, err = gc.communicate()
            raise AssertionError(f"gc finished without waiting for the run's lock: {out}{err}")
        if time.monotonic() > deadline:
            gc.kill()
            gc.communicate()
            raise AssertionError("gc never reached the run's lock")
        time.sleep(0.02)
    return gc


def _holder(*argv: str) -> subprocess.Popen[str]:
    """A process that holds a lock until it reads a line (see the scripts above)."""
    holder = subprocess.Popen(
        [sys.executable, "-c", *argv], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert holder.stdout is not None
    assert holder.stdout.readline().strip() == "holding"
    return holder


def _release(holder: subprocess.Popen[str]) -> None:
    assert holder.stdin is not None
    holder.stdin.write("go\n")
    holder.stdin.flush()
    assert holder.wait(60) == 0


def test_gc_waits_for_a_restore_in_progress_and_keeps_the_run(tmp_path: Path) -> None:
    store = tmp_path / ".mlruns"
    run_id = _deleted_run(store)
    lock = store / "runs" / run_id / ".lock"
    with _holder(_RESTORER, str(store), run_id) as restorer, _gc_blocked_on(store, lock) as gc:
        _release(restorer)
        out, err = gc.communicate(timeout=120)
    assert gc.returncode == 0, err
    assert json.loads(out)["runs"] == []
    shown = _mlcli(store, "runs", "show", run_id, "--json")
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["lifecycle_stage"] == "active"
    assert json.loads(shown.stdout)["params"] == {"lr": "0.1"}


_LOCKER = """
import sys
from pathlib import Path
from mlcli.files.lock import FileLock

with FileLock(Path(sys.argv[1])):
    print("holding", flush=True)
    sys.stdin.readline()
"""


def test_gc_purges_a_run_whose_lock_it_waited_for(tmp_path: Path) -> None:
    """The other order: the lock's holder leaves the run deleted, so gc, once it has the
    lock, purges it."""
    store = tmp_path / ".mlruns"
    run_id = _deleted_run(store)
    lock = store / "runs" / run_id / ".lock"
    with _holder(_LOCKER, str(lock)) as holder, _gc_blocked_on(store, lock) as gc:
        _release(holder)
        out, err = gc.communicate(timeout=120)
    assert gc.returncode == 0, err
    assert json.loads(out)["runs"] == [run_id]
    assert not (store / "runs" / run_id).exists()


def _upload_then_kill_the_server(store: Path, run_id: str, log: Path) -> Path:
    """Start an upload of 50 MB to a real server, send 4 MB of it, SIGKILL the server;
    returns the temporary file it leaves."""
    server = start("server", store, log)
    folder = store / "runs" / run_id / "artifacts" / "model"
    try:
        connection = socket.create_connection(("127.0.0.1", server.port), timeout=60)
        path = f"/api/2.0/mlflow-artifacts/artifacts/0/{run_id}/artifacts/model/weights.bin"
        head = (
            f"PUT {path} HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n"
            f"Content-Type: application/octet-stream\r\nContent-Length: {50 << 20}\r\n\r\n"
        )
        connection.sendall(head.encode() + b"\0" * (4 << 20))
        deadline = time.monotonic() + 120
        while True:
            partial = [p for p in folder.glob(".weights.bin.*.tmp")] if folder.is_dir() else []
            if partial and partial[0].stat().st_size >= 1 << 20:
                break
            assert time.monotonic() < deadline, f"the upload never started: {server.log()}"
            time.sleep(0.02)
        server.process.send_signal(signal.SIGKILL)
        server.process.wait(60)
        connection.close()
    finally:
        server.stop()
    return partial[0]


def test_gc_removes_the_temporary_file_of_a_killed_upload(tmp_path: Path) -> None:
    store = tmp_path / ".mlruns"
    Store.initialize(store)
    client = MlcliClient(Store.open(store))
    run_id = client.create_run("0", run_name="uploading").run_id
    client.store.close()
    leftover = _upload_then_kill_the_server(store, run_id, tmp_path / "server.log")
    size = leftover.stat().st_size

    listed = _mlcli(store, "runs", "artifacts", run_id, "model", "--json")
    assert listed.returncode == 0, listed.stderr
    assert json.loads(listed.stdout) == []  # nothing lists it...

    young = _mlcli(store, "gc", "--json")  # ...and a fresh one may still be written to
    assert young.returncode == 0, young.stderr
    assert json.loads(young.stdout)["temporary_files"] == []
    assert leftover.exists()

    two_hours_ago = time.time() - 7200
    os.utime(leftover, (two_hours_ago, two_hours_ago))
    dry = _mlcli(store, "gc", "--dry-run", "--json")
    relative = str(leftover.relative_to(store))
    assert json.loads(dry.stdout)["temporary_files"] == [{"path": relative, "bytes": size}]
    assert leftover.exists()
    swept = _mlcli(store, "gc")
    assert swept.returncode == 0, swept.stderr
    assert "and 1 temporary file(s) left by killed writers" in swept.stderr
    assert not leftover.exists()


@pytest.mark.parametrize("name", [".new-0123abcd", ".model.5f3a9c1d.tmp"])
def test_gc_removes_abandoned_folders_but_not_fresh_ones(tmp_path: Path, name: str) -> None:
    store = tmp_path / ".mlruns"
    Store.initialize(store)
    abandoned = store / "runs" / name
    (abandoned / "artifacts").mkdir(parents=True)
    (abandoned / "artifacts" / "big.bin").write_bytes(b"x" * 1000)
    assert json.loads(_mlcli(store, "gc", "--json").stdout)["temporary_files"] == []
    long_ago = time.time() - 7200
    for path in (abandoned, abandoned / "artifacts", abandoned / "artifacts" / "big.bin"):
        os.utime(path, (long_ago, long_ago))
    result = json.loads(_mlcli(store, "gc", "--json").stdout)
    assert result["temporary_files"] == [{"path": f"runs/{name}", "bytes": 1000}]
    assert not abandoned.exists()


def test_gc_leaves_a_file_that_only_looks_temporary(tmp_path: Path) -> None:
    """Only the names writers give their temporary files (``.<name>.<8 random>.tmp``)
    are leftovers: a user's own ``.notes.tmp`` is data, however old."""
    store = tmp_path / ".mlruns"
    Store.initialize(store)
    client = MlcliClient(Store.open(store))
    run_id = client.create_run("0").run_id
    client.store.close()
    mine = store / "runs" / run_id / "artifacts" / ".notes.tmp"
    mine.write_text("keep me")
    os.utime(mine, (time.time() - 7200, time.time() - 7200))
    assert json.loads(_mlcli(store, "gc", "--json").stdout)["temporary_files"] == []
    assert mine.read_text() == "keep me"


# gc's side of the race, holding the run's lock: check, then purge, when told.
_PURGER = """
import sys
from pathlib import Path
from mlcli.store.layout import StoreLayout
from mlcli.files.lock import FileLock
from mlcli.store.runs import RunFiles

layout = StoreLayout(Path(sys.argv[1]))
with FileLock(layout.run_lock(sys.argv[2])):
    print("holding", flush=True)
    sys.stdin.readline()
    RunFiles(layout).purge(sys.argv[2])
"""


def test_a_restore_that_waited_for_a_purge_says_the_run_is_gone(tmp_path: Path) -> None:
    store = tmp_path / ".mlruns"
    run_id = _deleted_run(store)
    lock = store / "runs" / run_id / ".lock"
    with _holder(_PURGER, str(store), run_id) as purger:
        restore = subprocess.Popen(
            [sys.executable, "-m", "mlcli", "runs", "restore", run_id],
            env=_environment(store),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        with restore:
            deadline = time.monotonic() + 120
            while not _waits_for_lock(restore.pid, lock):
                assert restore.poll() is None, restore.communicate()
                assert time.monotonic() < deadline, "the restore never reached the run's lock"
                time.sleep(0.02)
            _release(purger)
            out, err = restore.communicate(timeout=120)
    assert (restore.returncode, out) == (2, "")
    assert err == f"mlcli: error: no run with id {run_id!r}\n"
    assert not (store / "runs" / run_id).exists()


def test_a_lock_in_a_folder_that_is_gone_is_a_not_found_error(tmp_path: Path) -> None:
    from mlcli.errors import NotFoundError
    from mlcli.files.lock import FileLock

    with (
        pytest.raises(NotFoundError, match="no longer exists"),
        FileLock(tmp_path / "purged-run" / ".lock"),
    ):
        pass
