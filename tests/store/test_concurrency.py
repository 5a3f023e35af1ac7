"""Many processes writing into one store at once lose nothing and corrupt nothing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from mlcli.tracking import TrackingClient

WRITERS = 8
POINTS = 2000
PARAMS = 50

WRITER = """
import sys
import mlcli
from mlcli.tracking import TrackingClient

worker, shared_run = int(sys.argv[1]), sys.argv[2]
client = TrackingClient()
with mlcli.start_run(experiment="concurrent", run_name=f"worker-{{worker}}") as own:
    for i in range({params}):
        mlcli.log_param(f"p{{i}}", f"{{worker}}-{{i}}")
        client.log_param(shared_run, f"w{{worker}}_p{{i}}", str(i))
    client.log_param(shared_run, "common", "same-value")
    for step in range({points}):
        mlcli.log_metric("loss", worker + step / {points}, step=step)
        client.log_metric(shared_run, f"w{{worker}}", float(step), step=step)
print(own.run_id)
"""

READER = """
import sys, time
from mlcli.tracking import TrackingClient
deadline = time.monotonic() + 60
while time.monotonic() < deadline:
    TrackingClient().search_runs()
    if sys.stdin.closed:
        break
    time.sleep(0.05)
"""


@pytest.mark.slow
def test_eight_writers_into_one_run_and_their_own(store_root: Path, tmp_path: Path) -> None:
    client = TrackingClient(store_root)
    shared = client.create_run(run_name="shared").run_id
    env = {**os.environ, "MLCLI_STORE": str(store_root)}
    script = tmp_path / "writer.py"
    script.write_text(textwrap.dedent(WRITER.format(points=POINTS, params=PARAMS)))
    readers = [
        subprocess.Popen([sys.executable, "-c", READER], env=env, stdin=subprocess.DEVNULL)
        for _ in range(2)
    ]
    writers = [
        subprocess.Popen(
            [sys.executable, str(script), str(w), shared],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for w in range(WRITERS)
    ]
    own_runs = []
    for process in writers:
        out, err = process.communicate(timeout=300)
        assert process.returncode == 0, err
        own_runs.append(out.strip())
    for reader in readers:
        reader.kill()
        reader.wait()

    # The files: every line of the shared metric log is whole, every point is there.
    lines = (store_root / "runs" / shared / "metrics.jsonl").read_text().splitlines()
    points = {(r["key"], r["step"]) for r in map(json.loads, lines)}
    assert len(lines) == WRITERS * POINTS
    assert points == {(f"w{w}", s) for w in range(WRITERS) for s in range(POINTS)}

    # The index agrees with the files.
    run = client.get_run(shared)
    assert len(run.data.params) == WRITERS * PARAMS + 1
    assert run.data.metrics == {f"w{w}": float(POINTS - 1) for w in range(WRITERS)}
    for worker, run_id in enumerate(own_runs):
        own = client.get_run(run_id)
        assert own.info.status == "FINISHED"
        assert own.data.params == {f"p{i}": f"{worker}-{i}" for i in range(PARAMS)}
        assert len(client.get_metric_history(run_id, "loss")) == POINTS
    searched = client.search_runs([client.resolve_experiment("concurrent").experiment_id])
    assert sorted(r.run_id for r in searched) == sorted(own_runs)
