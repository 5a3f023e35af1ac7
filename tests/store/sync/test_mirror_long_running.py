"""A long-running process on a remote store (``mlcli ui --store s3://...``) keeps
up with the team: what others push appears in its queries, and what it writes is
pushed without waiting for it to exit."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mlcli.search.runs import search_runs
from mlcli.store.mirror import MirrorStore, close_mirrors
from mlcli.tracking import TrackingClient

DEADLINE_SECONDS = 60  # how long to keep looking on a loaded machine; never a figure


def mlcli(*args: str, cache: Path, remote: str) -> str:
    env = {**os.environ, "XDG_CACHE_HOME": str(cache), "MLCLI_STORE": remote}
    result = subprocess.run(
        [sys.executable, "-m", "mlcli", *args], capture_output=True, text=True, env=env
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def eventually(check) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + DEADLINE_SECONDS
    while not check():
        assert time.monotonic() < deadline, "not seen within the deadline"
        time.sleep(0.5)


@pytest.fixture
def remote(tmp_path: Path) -> str:
    return (tmp_path / "remote").as_uri()  # file://: a folder in the remote layout


def test_a_long_running_mirror_sees_pushes_and_pushes_its_own_writes(
    tmp_path: Path, remote: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = mlcli("runs", "create", "-x", "team", "-q", cache=tmp_path / "a", remote=remote)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "ui"))
    mirror = MirrorStore.open_url(remote)
    try:
        assert [r.info.run_id for r in search_runs(mirror)] == [first.strip()]
        second = mlcli("runs", "create", "-x", "team", "-q", cache=tmp_path / "b", remote=remote)
        eventually(lambda: second.strip() in {r.info.run_id for r in search_runs(mirror)})
        TrackingClient(mirror).set_tag(first.strip(), "seen-by", "ui")

        def seen_by_another_user() -> bool:
            search_runs(mirror)  # the next query the UI makes, which pushes what it wrote
            return _tag_seen(tmp_path, remote, first)

        eventually(seen_by_another_user)
    finally:
        close_mirrors()


def _tag_seen(tmp_path: Path, remote: str, run_id: str) -> bool:
    shown = mlcli("runs", "show", run_id.strip(), "--json", cache=tmp_path / "c", remote=remote)
    return '"seen-by": "ui"' in shown
