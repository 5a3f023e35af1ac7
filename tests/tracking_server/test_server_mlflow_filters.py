"""The real ``mlflow`` client's searches answer against ``mlcli server`` what they answer
against MLflow's own store (SQLite, its default since 3.7): registry searches leave
prompts out unless asked for them (MLflow >= 2.21 clients add ``tags.`mlflow.prompt
.is_prompt` != 'true'`` to every registered-model search), and a missing tag never
matches ``!=`` otherwise, the prompt marker on runs included."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from trackingserver import HERE, mlflow_environment

pytestmark = [pytest.mark.slow, pytest.mark.mlflow]
pytest.importorskip("mlflow")

SCRIPT = HERE / "mlflow_registry_searches.py"


def _answers(environ: dict[str, str], cwd: Path) -> Any:
    result = subprocess.run(
        [sys.executable, str(SCRIPT)],
        cwd=cwd,
        env=environ,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, f"{result.stdout}\n{result.stderr}"
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_searches_answer_as_mlflows_own_store(start_server: Any, tmp_path: Path) -> None:
    server = start_server()
    (tmp_path / "mlcli").mkdir()
    ours = _answers(mlflow_environment(server), tmp_path / "mlcli")
    assert " 500 " not in server.log()
    assert ours == {
        "models": ["m1", "m2", "m3"],  # was []: the client's prompt filter matched nothing
        "models k != a": ["m2"],  # not m3 (no tag k), not the prompt p1 (k = b)
        "models k = b": ["m2"],
        "models prompts": ["p1"],
        "models not false": ["p1"],
        "versions": ["m1/1", "m2/1", "m3/1"],
        "versions k != a": ["m2/1"],
        "versions not prompts": ["m1/1", "m2/1", "m3/1"],
        "versions prompts": ["p1/1"],
        "runs k != a": ["m2", "p1"],  # not m3, which has no tag k
        "runs not prompts": [],  # runs have no prompt marker: != never matches a missing tag
        "runs false": [],
        "prompts": ["p1"],
    }
    (tmp_path / "mlflow").mkdir()
    database = tmp_path / "mlflow" / "mlflow.db"
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("MLCLI_", "MLFLOW_"))}
    environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{database}"
    assert _answers(environ, tmp_path / "mlflow") == ours
