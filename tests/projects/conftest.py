"""Fixtures for project runs: real project folders, real git repositories, a real store."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from projecthelpers import MakeProject


@pytest.fixture(autouse=True)
def _isolated_caches(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLCLI_CACHE_DIR", str(tmp_path / "mlcli-cache"))
    monkeypatch.setenv("MLCLI_ENV_ROOT", str(tmp_path / "mlcli-envs"))
    monkeypatch.setenv("MLCLI_KILL_GRACE", "5")


@pytest.fixture
def make_project(tmp_path: Path) -> MakeProject:
    """``make_project({"MLproject": "...", "train.py": "..."}, name="proj")``: a folder
    of files (dedented), returned as its path."""

    def make(files: dict[str, str], name: str = "proj") -> Path:
        root = tmp_path / name
        root.mkdir(parents=True, exist_ok=True)
        for relative, text in files.items():
            path = root / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(textwrap.dedent(text).lstrip("\n"))
        return root

    return make
