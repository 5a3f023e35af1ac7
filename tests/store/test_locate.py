"""Finding the store like git finds .git, and creating it on first write."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from mlcli.errors import StoreError
from mlcli.store import Store, open_store
from mlcli.store.locate import ensure_gitignored, find_store_root


def test_walks_up_to_the_nearest_store(store_root: Path, workdir: Path) -> None:
    deep = workdir / "a" / "b"
    deep.mkdir(parents=True)
    assert find_store_root(cwd=deep) == store_root


def test_explicit_and_environment_override(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLCLI_STORE", str(tmp_path / "env-store"))
    assert find_store_root(cwd=tmp_path) == tmp_path / "env-store"
    assert find_store_root(tmp_path / "explicit", cwd=tmp_path) == tmp_path / "explicit"


def test_a_directory_holding_a_store_names_that_store(store_root: Path, workdir: Path) -> None:
    assert find_store_root(workdir) == store_root


def test_reading_without_a_store_is_a_clear_error(workdir: Path) -> None:
    with pytest.raises(StoreError, match="no mlcli store found"):
        open_store()


def test_first_write_creates_the_store_at_the_git_top_level(workdir: Path) -> None:
    subprocess.run(["git", "init", "-q", str(workdir)], check=True)
    nested = workdir / "src" / "pkg"
    nested.mkdir(parents=True)
    announced: list[Path] = []
    store = open_store(create=True, cwd=nested, announce=announced.append)
    assert store.root == workdir / ".mlruns"
    assert announced == [workdir / ".mlruns"]
    assert ".mlruns/" in (workdir / ".gitignore").read_text().splitlines()
    open_store(create=True, cwd=nested, announce=announced.append)
    assert len(announced) == 1  # said once


def test_gitignore_is_appended_never_rewritten(workdir: Path) -> None:
    subprocess.run(["git", "init", "-q", str(workdir)], check=True)
    (workdir / ".gitignore").write_text("build/")
    assert ensure_gitignored(workdir / ".mlruns")
    assert (workdir / ".gitignore").read_text() == "build/\n.mlruns/\n"
    assert not ensure_gitignored(workdir / ".mlruns")


def test_outside_git_no_gitignore_is_written(workdir: Path) -> None:
    assert not ensure_gitignored(workdir / ".mlruns")
    assert not (workdir / ".gitignore").exists()


def test_a_newer_store_format_is_refused(store_root: Path) -> None:
    (store_root / "VERSION").write_text("99\n")
    with pytest.raises(StoreError, match="newer than this mlcli reads"):
        Store.open(store_root)
