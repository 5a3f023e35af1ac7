"""`mlcli diff` of two runs on a team server reads what the runs recorded (their
packages, their uncommitted changes) from the server, as it does from a local store."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from trackingserver import TrackingServer

RECORD = r"""
import pathlib, sys, tempfile, mlcli
from mlcli.tracking import TrackingClient
client = TrackingClient()
ids = []
for version, change in (("1.0", "a"), ("2.0", "b")):
    run = client.create_run()
    folder = pathlib.Path(tempfile.mkdtemp())
    (folder / "environment").mkdir()
    (folder / "environment" / "requirements.txt").write_text(f"numpy=={version}\nrich==13.0\n")
    (folder / "source").mkdir()
    (folder / "source" / "uncommitted.diff").write_text(
        f"diff --git a/{change}.py b/{change}.py\n--- a/{change}.py\n+++ b/{change}.py\n"
    )
    client.log_artifacts(run.info.run_id, folder)
    client.set_terminated(run.info.run_id)
    ids.append(run.info.run_id)
print(" ".join(ids))
"""


def run_mlcli(store: str, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("MLCLI_", "MLFLOW_"))}
    environ.update(MLCLI_STORE=store, XDG_CACHE_HOME=str(tmp_path / "cache"))
    return subprocess.run(
        [sys.executable, *args], env=environ, capture_output=True, text=True, cwd=tmp_path
    )


def test_diff_reads_the_runs_recorded_files_from_the_server(
    served_store: TrackingServer, tmp_path: Path
) -> None:
    outputs = {}
    for label, store in (("server", served_store.url), ("local", str(tmp_path / "local"))):
        recorded = run_mlcli(store, tmp_path, "-c", RECORD)
        assert recorded.returncode == 0, recorded.stderr
        run_a, run_b = recorded.stdout.split()
        diff = run_mlcli(store, tmp_path, "-m", "mlcli", "diff", run_a, run_b, "--json")
        assert diff.returncode == 0, diff.stderr
        outputs[label] = json.loads(diff.stdout)
    packages = outputs["server"]["packages"]
    assert packages is not None
    assert packages == outputs["local"]["packages"]
    assert "numpy" in json.dumps(packages)
    for side in ("uncommitted_a", "uncommitted_b"):
        on_server, local = outputs["server"]["code"][side], outputs["local"]["code"][side]
        assert on_server is not None
        del on_server["artifact"], local["artifact"]  # where each copy is: cache or store
        assert on_server == local
