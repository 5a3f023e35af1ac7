"""The README's shell session, typed as a new user would, against the real command."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path


def test_new_user_session_in_a_git_repository(tmp_path: Path, mlcli_process) -> None:
    project = tmp_path / "project"
    project.mkdir()
    subprocess.run(["git", "init", "-q", str(project)], check=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLCLI_")}

    def mlcli(*args: str) -> subprocess.CompletedProcess[str]:
        return mlcli_process(*args, cwd=project, env=env)

    init = mlcli("init")
    assert "Created an mlcli store" in init.stderr
    assert (project / ".gitignore").read_text() == ".mlruns/\n"
    run_id = mlcli("runs", "create", "--experiment", "demo", "-q").stdout.strip()
    assert len(run_id) == 32
    mlcli("log", "param", "lr", "0.1", "--run", run_id)
    mlcli("log", "metric", "loss", "0.5", "--step", "1", "--run", run_id)
    mlcli("runs", "end", run_id)
    shown = json.loads(mlcli("runs", "show", run_id, "--json").stdout)
    assert shown["run_id"] == run_id
    assert shown["experiment_name"] == "demo"
    assert shown["status"] == "FINISHED"
    assert shown["params"] == {"lr": "0.1"}
    assert shown["metrics"] == {"loss": 0.5}
    assert shown["end_time"] >= shown["start_time"]
    listed = mlcli("runs", "list").stdout.splitlines()
    assert listed[0].split() == ["RUN", "NAME", "EXPERIMENT", "STATUS", "STARTED", "DURATION"]
    assert listed[1].startswith(run_id[:8])


def test_first_write_without_init_creates_the_store_and_says_so_once(
    tmp_path: Path, mlcli_process
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLCLI_")}
    first = mlcli_process("runs", "create", "-q", cwd=tmp_path, env=env)
    assert first.stderr == f"mlcli: created a new store at {tmp_path / '.mlruns'}\n"
    second = mlcli_process("runs", "create", "-q", cwd=tmp_path, env=env)
    assert second.stderr == ""


def test_reading_commands_without_a_store_fail_clearly(tmp_path: Path, mlcli_process) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLCLI_")}
    result = mlcli_process("runs", "list", cwd=tmp_path, env=env, check=False)
    assert result.returncode == 1
    assert result.stderr.startswith("mlcli: error: no mlcli store found at")
    assert result.stderr.count("\n") == 1
