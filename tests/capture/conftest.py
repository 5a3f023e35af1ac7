"""Fixtures for the capture tests: isolated caches, project folders in tmp_path."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def _isolated_caches(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLCLI_CACHE_DIR", str(tmp_path / "mlcli-cache"))
    monkeypatch.setenv("MLCLI_ENV_ROOT", str(tmp_path / "mlcli-envs"))
    monkeypatch.delenv("MLCLI_ENABLE_SYSTEM_METRICS_LOGGING", raising=False)
    monkeypatch.delenv("MLCLI_SYSTEM_METRICS_INTERVAL", raising=False)


@pytest.fixture
def make_project(tmp_path: Path) -> Callable[..., Path]:
    """``make_project({"MLproject": "...", "train.py": "..."})``: a folder of files."""

    def make(files: dict[str, str], name: str = "proj") -> Path:
        root = tmp_path / name
        root.mkdir(parents=True, exist_ok=True)
        for relative, text in files.items():
            path = root / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(textwrap.dedent(text).lstrip("\n"))
        return root

    return make
