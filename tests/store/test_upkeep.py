"""Store upkeep as the Python API sees it: each maintenance command is one call."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from mlcli.errors import InvalidInputError
from mlcli.store import Store
from mlcli.store.upkeep import LeftOut, StoreSetup, init_store, left_out, rebuild_index
from mlcli.tracking import TrackingClient


def test_init_store_creates_once_and_keeps_the_store_out_of_git(tmp_path: Path) -> None:
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    root = (tmp_path / ".mlruns").resolve()
    assert init_store(tmp_path) == StoreSetup(root, created=True, group=None, gitignored=True)
    assert init_store(tmp_path) == StoreSetup(root, created=False, group=None, gitignored=False)
    assert (tmp_path / ".gitignore").read_text() == ".mlruns/\n"
    elsewhere = tmp_path / "other"
    assert init_store(tmp_path, root=elsewhere).root == elsewhere.resolve()


def test_init_store_refuses_an_unknown_sharing_before_creating_anything(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError) as raised:
        init_store(tmp_path, shared="world")
    assert raised.value.message == "invalid --shared 'world': expected umask or group"
    assert not (tmp_path / ".mlruns").exists()


def test_rebuild_and_the_runs_left_out(tmp_path: Path) -> None:
    root = init_store(tmp_path).root
    client = TrackingClient(root)
    good, bad = client.create_run().run_id, client.create_run().run_id
    (root / "runs" / bad / "run.json").write_text('{"run_id": "')
    store = Store.open(root)
    rebuilt = rebuild_index(store)
    assert (rebuilt.runs, rebuilt.path) == (1, store.index.path)
    [entry] = left_out(store)
    assert entry == LeftOut("run", bad, root / "runs" / bad / "run.json", entry.problem)
    assert entry.problem and good != bad
