"""A writer killed with SIGKILL mid-logging leaves a store every command still reads."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from mlcli.tracking import TrackingClient

HAMMER = """
import sys
from mlcli.tracking import TrackingClient
client = TrackingClient()
run_id = sys.argv[1]
print("started", flush=True)
step = 0
while True:
    client.log_batch(run_id, metrics=[("loss", 1.0 / (step + 1), step), ("acc", 0.5, step)])
    if step % 50 == 0:
        client.set_tag(run_id, "progress", str(step))
    step += 1
"""


@pytest.mark.slow
def test_sigkill_mid_logging_then_every_command_reads(
    store_root: Path, tmp_path: Path, mlcli_process
) -> None:
    client = TrackingClient(store_root)
    run_id = client.create_run(run_name="victim").run_id
    env = {**os.environ, "MLCLI_STORE": str(store_root)}
    script = tmp_path / "hammer.py"
    script.write_text(textwrap.dedent(HAMMER))
    process = subprocess.Popen(
        [sys.executable, str(script), run_id], env=env, stdout=subprocess.PIPE, text=True
    )
    assert process.stdout.readline().strip() == "started"
    time.sleep(1.0)
    os.kill(process.pid, signal.SIGKILL)
    process.communicate()

    metrics_log = store_root / "runs" / run_id / "metrics.jsonl"
    # Make the kill land mid-line for certain: cut the last line in half.
    data = metrics_log.read_bytes()
    metrics_log.write_bytes(data[: len(data) - 20])
    # Readers see every whole line of a batch that committed, and only those (the
    # hammer's last batch may have been killed before its commit line: see batches.py).
    committed = set()
    for line in (metrics_log.parent / "batches.jsonl").read_bytes().split(b"\n"):
        with contextlib.suppress(ValueError):  # a commit line cut by the kill
            committed.add(json.loads(line)["batch"])
    whole = data[: len(data) - 20].rsplit(b"\n", 1)[0].split(b"\n")
    complete = sum(json.loads(line).get("batch") in committed for line in whole)

    for args in (
        ["runs", "show", run_id, "--json"],
        ["runs", "list", "--json"],
        ["index", "rebuild"],
        ["runs", "show", run_id[:8]],
    ):
        result = mlcli_process(*args, env=env)
        assert result.returncode == 0, result.stderr
    shown = json.loads(mlcli_process("runs", "show", run_id, "--json", env=env).stdout)
    assert shown["status"] == "RUNNING" and set(shown["metrics"]) == {"loss", "acc"}
    history = client.get_metric_history(run_id, "loss") + client.get_metric_history(run_id, "acc")
    assert len(history) == complete

    # The next write starts on a fresh line; the torn one stays ignored.
    mlcli_process("log", "metric", "loss", "0.001", "--step", "999999", "--run", run_id, env=env)
    lines = metrics_log.read_bytes().split(b"\n")
    assert json.loads(lines[-2])["step"] == 999999
    assert client.get_run(run_id).data.metrics["loss"] == 0.001
    mlcli_process("runs", "end", run_id, "--status", "KILLED", env=env)
    assert client.get_run(run_id).info.status == "KILLED"
