"""``mlcli serve`` loads a pickle only when mlcli wrote it or the user passes
--allow-pickle (issue 15, finding 1); the opt-in reaches every worker process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("uvicorn")
pytest.importorskip("cloudpickle")

BODY = {"dataframe_split": {"columns": ["x"], "data": [[1.0], [2.0]]}}


def test_serve_refuses_a_pickle_mlcli_did_not_write_unless_allowed(
    serving_store: Path, serve: Any, tmp_path: Path
) -> None:
    """The scale model is a cloudpickle; a user without its trust record (another data
    folder) is refused, before anything listens, and --allow-pickle serves it."""
    stranger = str(tmp_path / "another-user")
    environ = {k: v for k, v in os.environ.items() if not k.startswith("MLCLI_")}
    environ.update(MLCLI_STORE=str(serving_store), MLCLI_DATA_DIR=stranger)
    refused = subprocess.run(
        [sys.executable, "-m", "mlcli", "serve", "-m", "models:/scale/1", "--port", "0"],
        capture_output=True,
        text=True,
        env=environ,
        timeout=120,
    )
    assert refused.returncode == 2, refused.stderr
    assert refused.stderr.count("\n") == 1
    assert refused.stderr.startswith("mlcli: error: refusing to load ")
    assert "python_model.pkl" in refused.stderr and "--allow-pickle" in refused.stderr
    server = serve("-m", "models:/scale/1", "--allow-pickle", "--workers", "2",
                   store=serving_store, MLCLI_DATA_DIR=stranger)  # fmt: skip
    for _ in range(4):  # answered by either worker
        reply = server.post(BODY)
        assert reply.status == 200, reply.body
        assert reply.json() == {"predictions": [1.0, 2.0]}


def test_serve_loads_what_mlcli_wrote_without_ceremony(serving_store: Path, serve: Any) -> None:
    server = serve("-m", "models:/scale/1", store=serving_store)
    assert server.post(BODY).json() == {"predictions": [1.0, 2.0]}
