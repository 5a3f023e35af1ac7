"""Fixtures for sweeps: the real example project copied into tmp_path, and small
projects whose trials fail or wait to be interrupted."""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _isolated_caches(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLCLI_CACHE_DIR", str(tmp_path / "mlcli-cache"))
    monkeypatch.setenv("MLCLI_ENV_ROOT", str(tmp_path / "mlcli-envs"))
    monkeypatch.setenv("MLCLI_KILL_GRACE", "5")


@pytest.fixture
def example(tmp_path: Path) -> Path:
    """``examples/`` and ``MLproject.example`` copied into tmp_path (the quickstart's
    MLproject is a link to the example file); the quickstart project's path."""
    shutil.copytree(ROOT / "examples", tmp_path / "examples", symlinks=True)
    shutil.copy(ROOT / "MLproject.example", tmp_path / "MLproject.example")
    project = tmp_path / "examples" / "quickstart"
    assert (project / "MLproject").resolve() == (tmp_path / "MLproject.example").resolve()
    return project


@pytest.fixture
def trials_project(tmp_path: Path) -> Path:
    """A project whose ``main`` logs ``score`` = x (exits 3 for x = 2, sleeps for x ≥ 10), and whose
    ``sleep`` writes its pid and a child's to ``pids-<x>``, then sleeps."""
    root = tmp_path / "trials"
    files = {
        "MLproject": """
            name: trials
            entry_points:
              main:
                parameters:
                  x: {type: int, default: 0}
                  note: {type: string, default: none}
                command: "python work.py {x} {note}"
              sleep:
                parameters:
                  x: {type: int, default: 0}
                command: "python sleeper.py {x}"
        """,
        "work.py": """
            import sys, time
            import mlcli
            x = int(sys.argv[1])
            with mlcli.start_run():
                mlcli.log_metric("score", x)
            print("note:", sys.argv[2], flush=True)
            if x >= 10:
                time.sleep(60)
            sys.exit(3 if x == 2 else 0)
        """,
        "sleeper.py": """
            import os, subprocess, sys, time
            child = subprocess.Popen(["sleep", "60"])
            with open(f"pids-{sys.argv[1]}.tmp", "w") as handle:
                handle.write(f"{os.getpid()} {child.pid}")
            os.rename(f"pids-{sys.argv[1]}.tmp", f"pids-{sys.argv[1]}")
            time.sleep(60)
        """,
    }
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"))
    return root
