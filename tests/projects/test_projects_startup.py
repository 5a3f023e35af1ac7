"""`mlcli run` stays light: nothing heavy is imported for help or for a local run."""

from __future__ import annotations

import os
from pathlib import Path

HEAVY = {"git", "docker", "virtualenv", "yaml", "requests", "urllib3"}


def _env(cwd: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLCLI_")}
    return {**env, "MLCLI_STORE": str(cwd / ".mlruns")}


def test_help_imports_nothing_heavy(tmp_path: Path, loaded_modules) -> None:
    assert loaded_modules("run", "--help", cwd=tmp_path, env=_env(tmp_path)) & HEAVY == set()


def test_a_local_run_imports_only_yaml(tmp_path: Path, loaded_modules) -> None:
    (tmp_path / "train.py").write_text("print('ok')\n")
    script = ["run", str(tmp_path), "-e", "train.py"]
    assert loaded_modules(*script, cwd=tmp_path, env=_env(tmp_path)) & HEAVY == set()
    (tmp_path / "MLproject").write_text("entry_points: {main: {command: 'python train.py'}}\n")
    project = ["run", str(tmp_path)]
    assert loaded_modules(*project, cwd=tmp_path, env=_env(tmp_path)) & HEAVY == {"yaml"}
