"""Files honour the umask (issue 15, finding 17): a store written by one Unix user is
readable by another as far as the writer's umask allows, whichever path wrote each file
(atomic documents, logged text and figures, server uploads, --plot-file output); and a
store made with ``mlcli init --shared=group`` is writable by the group's members
whatever their umask."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from live_servers import start
from second_user import SecondUser, second_user

_LOG_EVERYTHING = """
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
import mlcli
mlcli.set_experiment("shared")
with mlcli.start_run(run_name="writer") as run:
    mlcli.log_param("lr", "0.1")
    for step in range(3):
        mlcli.log_metric("loss", 1.0 / (step + 1), step=step)
    mlcli.log_text("hello", "notes/hello.txt")
    mlcli.log_dict({"a": 1}, "config.json")
    figure, axes = plt.subplots()
    axes.plot([0, 1], [1, 0])
    mlcli.log_figure(figure, "figure.png")
print(run.info.run_id)
"""


@pytest.fixture(scope="session")
def shared_folder() -> Iterator[Path]:
    """A folder any user can enter (pytest's own temporary folders are private)."""
    folder = Path(tempfile.mkdtemp(prefix="mlcli-shared-"))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def peer(shared_folder: Path) -> SecondUser:
    return second_user(shared_folder / "peer")


def _writer(*argv: str, store: Path, umask: int, cwd: Path) -> str:
    """Run a command as this (root) user with ``umask``; returns its stdout."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("MLCLI_")}
    environ["MLCLI_STORE"] = str(store)
    result = subprocess.run(
        [sys.executable, *argv],
        cwd=cwd,
        env=environ,
        capture_output=True,
        text=True,
        timeout=180,
        umask=umask,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def _write_store(folder: Path, umask: int, tmp_path: Path) -> tuple[Path, str, Path]:
    """A store written every way a file can be: (store, run id, --plot-file output)."""
    store = folder / ".mlruns"
    _writer("-m", "mlcli", "init", str(folder), store=store, umask=umask, cwd=folder)
    run_id = _writer("-c", _LOG_EVERYTHING, store=store, umask=umask, cwd=folder).strip()
    plot = folder / "loss.html"
    _writer(
        "-m", "mlcli", "compare", run_id, "--plot", "loss", "--plot-file", str(plot),
        store=store, umask=umask, cwd=folder,
    )  # fmt: skip
    server = start("server", store, tmp_path / "server.log", umask=umask)
    try:
        path = f"/api/2.0/mlflow-artifacts/artifacts/1/{run_id}/artifacts/model/model.pkl"
        reply = server.request("PUT", path, b"weights")
        assert reply.status == 200, reply.body
    finally:
        server.stop()
    return store, run_id, plot


def _written_files(store: Path, run_id: str, plot: Path) -> list[Path]:
    run = store / "runs" / run_id
    return [
        store / "VERSION",
        store / "experiments" / "1" / "experiment.json",
        run / "run.json",
        run / "params.jsonl",
        run / "metrics.jsonl",
        run / "artifacts" / "notes" / "hello.txt",
        run / "artifacts" / "config.json",
        run / "artifacts" / "figure.png",
        run / "artifacts" / "model" / "model.pkl",
        plot,
    ]


def test_a_second_user_reads_a_store_written_with_umask_022(
    peer: SecondUser, shared_folder: Path, tmp_path: Path
) -> None:
    folder = Path(tempfile.mkdtemp(prefix="umask022-", dir=shared_folder))
    folder.chmod(0o755)
    store, run_id, plot = _write_store(folder, 0o022, tmp_path)

    listed = peer.run("runs", "list", "--experiment", "shared", "--json", cwd=folder)
    assert listed.returncode == 0, listed.stderr
    assert '"writer"' in listed.stdout
    shown = peer.run("runs", "show", run_id, "--json", cwd=folder)
    assert shown.returncode == 0, shown.stderr
    for path in _written_files(store, run_id, plot):
        read = peer.command(["cat", str(path)])
        assert read.returncode == 0, f"{path}: {read.stderr}"
        assert stat.S_IMODE(path.stat().st_mode) == 0o644, path
    hello = store / "runs" / run_id / "artifacts" / "notes" / "hello.txt"
    assert peer.command(["cat", str(hello)]).stdout == "hello"


def test_files_stay_private_under_umask_077(
    peer: SecondUser, shared_folder: Path, tmp_path: Path
) -> None:
    folder = Path(tempfile.mkdtemp(prefix="umask077-", dir=shared_folder))
    folder.chmod(0o755)
    store, run_id, plot = _write_store(folder, 0o077, tmp_path)

    for path in _written_files(store, run_id, plot):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    read = peer.command(["cat", str(store / "VERSION")])
    assert read.returncode != 0
    assert "Permission denied" in read.stderr


TEAM_GID = 4242  # any group id will do: setpriv makes the second user a member of it


def _team_folder(shared_folder: Path, name: str) -> Path:
    """A project folder that belongs to the team's group."""
    folder = Path(tempfile.mkdtemp(prefix=name, dir=shared_folder))
    os.chown(folder, 0, TEAM_GID)
    folder.chmod(0o775)
    return folder


def test_a_store_shared_with_a_group_is_written_by_its_members_whatever_their_umask(
    peer: SecondUser, shared_folder: Path, tmp_path: Path
) -> None:
    folder = _team_folder(shared_folder, "team-")
    store = folder / ".mlruns"
    _writer("-m", "mlcli", "init", str(folder), "--shared=group", store=store, umask=0o022,
            cwd=folder)  # fmt: skip
    mine = _writer("-m", "mlcli", "runs", "create", "-q", store=store, umask=0o022, cwd=folder)
    mine = mine.strip()

    env = {"MLCLI_STORE": str(store)}
    team = (TEAM_GID,)
    logged = peer.run("log", "metric", "loss", "0.5", "--run", mine, env=env, groups=team)
    assert logged.returncode == 0, logged.stderr
    tagged = peer.run("runs", "end", mine, env=env, groups=team)  # replaces run.json
    assert tagged.returncode == 0, tagged.stderr
    created = peer.run("runs", "create", "-q", env=env, groups=team)
    assert created.returncode == 0, created.stderr
    theirs = created.stdout.strip()

    listed = json.loads(
        _writer("-m", "mlcli", "runs", "list", "--json", store=store, umask=0o022, cwd=folder)
    )
    by_id = {run["run_id"]: run for run in listed}
    assert set(by_id) == {mine, theirs}
    assert by_id[mine]["metrics"]["loss"] == 0.5
    assert by_id[mine]["status"] == "FINISHED"
    for path in (store / "runs" / theirs / "run.json", store / "runs" / mine / "run.json"):
        st = path.stat()
        assert (st.st_gid, stat.S_IMODE(st.st_mode)) == (TEAM_GID, 0o664), path
    run_folder = (store / "runs" / theirs).stat()
    assert run_folder.st_gid == TEAM_GID and run_folder.st_mode & stat.S_ISGID


def test_without_sharing_a_member_with_umask_022_cannot_write(
    peer: SecondUser, shared_folder: Path
) -> None:
    folder = _team_folder(shared_folder, "solo-")
    store = folder / ".mlruns"
    _writer("-m", "mlcli", "init", str(folder), store=store, umask=0o022, cwd=folder)
    mine = _writer("-m", "mlcli", "runs", "create", "-q", store=store, umask=0o022, cwd=folder)
    logged = peer.run(
        "log", "metric", "loss", "0.5", "--run", mine.strip(),
        env={"MLCLI_STORE": str(store)}, groups=(TEAM_GID,),
    )  # fmt: skip
    assert logged.returncode == 1
    assert logged.stderr.startswith("mlcli: error: Permission denied: ")
