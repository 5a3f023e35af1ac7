"""mlcli's client of a team server next to MLflow's client, both talking to the same
`mlcli server` on 127.0.0.1, in one run.

Run: python3 benchmarks/server_client.py [--points 5000] [--runs 1000] [--rounds 3]
         [--artifact-mb 200]

Each measure runs in a fresh interpreter (imports and set-up not timed), the two
clients interleaved round by round; the figure is the median over the rounds.

- training loop: a run that logs N points of one metric in a loop, then ends. Timed:
  the loop, and loop + end (when the run has ended every point is on the server).
  mlcli: `mlcli.log_metric` (buffered, sent 1,000 to a request by a background
  thread). MLflow: `mlflow.log_metric` (one request per point) and
  `mlflow.log_metric(..., synchronous=False)` (MLflow's async logging).
  Every point is counted back through the server afterwards.
- search: `search_runs` over R runs (10 params, 5 metrics), a filter, an order and a
  limit of 100, 20 times in one process: `mlcli.search_runs` and
  `MlflowClient.search_runs` (same server, same filter; both must return the same ids).
- artifact: one file of M MB, `log_artifact` by each client, then downloaded back.
- command: `mlcli --store URL runs list --limit 20` against `mlflow runs list`.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))
sys.path.insert(0, str(HERE.parent / "tests" / "tracking_server"))

LOOP_MLCLI = r"""
import json, sys, time, mlcli
n = int(sys.argv[1])
mlcli.set_experiment("loop")
run = mlcli.start_run()
t0 = time.perf_counter()
for i in range(n):
    mlcli.log_metric("loss", 1.0 / (i + 1), step=i)
t1 = time.perf_counter()
mlcli.end_run()
t2 = time.perf_counter()
print(json.dumps({"loop": t1 - t0, "total": t2 - t0, "run_id": run.info.run_id}))
"""

LOOP_MLFLOW = r"""
import json, sys, time, mlflow
n, synchronous = int(sys.argv[1]), sys.argv[2] == "sync"
mlflow.set_experiment("loop")
run = mlflow.start_run()
t0 = time.perf_counter()
for i in range(n):
    if synchronous:
        mlflow.log_metric("loss", 1.0 / (i + 1), step=i)
    else:
        mlflow.log_metric("loss", 1.0 / (i + 1), step=i, synchronous=False)
t1 = time.perf_counter()
mlflow.end_run()
t2 = time.perf_counter()
print(json.dumps({"loop": t1 - t0, "total": t2 - t0, "run_id": run.info.run_id}))
"""

SEARCH_MLCLI = r"""
import json, time, mlcli
def once():
    return [r.info.run_id for r in mlcli.search_runs(
        experiment_names=["many"], filter_string="metrics.m0 > 0.5 AND params.p0 != 'x'",
        order_by=["metrics.m1 DESC"], max_results=100, output_format="list")]
once()
t0 = time.perf_counter()
for _ in range(20):
    ids = once()
print(json.dumps({"each": (time.perf_counter() - t0) / 20, "ids": ids}))
"""

SEARCH_MLFLOW = r"""
import json, time
from mlflow import MlflowClient
client = MlflowClient()
exp = client.get_experiment_by_name("many").experiment_id
def once():
    return [r.info.run_id for r in client.search_runs(
        [exp], "metrics.m0 > 0.5 AND params.p0 != 'x'", order_by=["metrics.m1 DESC"],
        max_results=100)]
once()
t0 = time.perf_counter()
for _ in range(20):
    ids = once()
print(json.dumps({"each": (time.perf_counter() - t0) / 20, "ids": ids}))
"""

ARTIFACT_MLCLI = r"""
import json, sys, time, tempfile, mlcli
from mlcli.tracking import TrackingClient
path = sys.argv[1]
with mlcli.start_run() as run:
    t0 = time.perf_counter()
    mlcli.log_artifact(path)
    t1 = time.perf_counter()
out = tempfile.mkdtemp()
t2 = time.perf_counter()
TrackingClient().download_artifacts(run.info.run_id, "blob.bin", out)
t3 = time.perf_counter()
print(json.dumps({"upload": t1 - t0, "download": t3 - t2}))
"""

ARTIFACT_MLFLOW = r"""
import json, sys, time, tempfile, mlflow
path = sys.argv[1]
with mlflow.start_run() as run:
    t0 = time.perf_counter()
    mlflow.log_artifact(path)
    t1 = time.perf_counter()
out = tempfile.mkdtemp()
t2 = time.perf_counter()
mlflow.artifacts.download_artifacts(run_id=run.info.run_id, artifact_path="blob.bin", dst_path=out)
t3 = time.perf_counter()
print(json.dumps({"upload": t1 - t0, "download": t3 - t2}))
"""

SEED = r"""
import random, sys, mlcli
from mlcli.tracking import TrackingClient
n = int(sys.argv[1])
client = TrackingClient()
exp = client.get_or_create_experiment("many").experiment_id
rng = random.Random(7)
for i in range(n):
    run = client.create_run(exp, run_name=f"r{i}")
    client.log_batch(
        run.info.run_id,
        metrics=[(f"m{k}", rng.random(), 0) for k in range(5)],
        params={f"p{k}": str(rng.randint(0, 9)) for k in range(10)},
    )
    client.set_terminated(run.info.run_id)
"""


def python(code: str, *args: str, env: dict[str, str]) -> dict[str, Any]:
    result = subprocess.run(
        [sys.executable, "-c", code, *args], env=env, capture_output=True, text=True
    )
    if result.returncode != 0:
        raise SystemExit(f"benchmark client failed:\n{result.stderr[-3000:]}")
    lines = [line for line in result.stdout.splitlines() if line.startswith("{")]
    return json.loads(lines[-1]) if lines else {}


def timed(command: list[str], env: dict[str, str]) -> float:
    t0 = time.perf_counter()
    result = subprocess.run(command, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - t0
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{result.stderr[-2000:]}")
    return elapsed


def count_points(url: str, run_id: str) -> int:
    import urllib.request

    total, token = 0, None
    while True:
        query = f"run_id={run_id}&metric_key=loss&max_results=25000"
        if token:
            query += f"&page_token={token}"
        with urllib.request.urlopen(f"{url}/api/2.0/mlflow/metrics/get-history?{query}") as r:
            page = json.load(r)
        total += len(page.get("metrics", []))
        token = page.get("next_page_token")
        if not token:
            return total


def median(values: list[float]) -> float:
    return statistics.median(values)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--points", type=int, default=5000)
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--artifact-mb", type=int, default=200)
    options = parser.parse_args()

    from trackingserver import start_tracking_server

    work = Path(tempfile.mkdtemp(prefix="mlcli-bench-client-"))
    server = start_tracking_server(work / ".mlruns", work / "server.log")
    base = {k: v for k, v in os.environ.items() if not k.startswith(("MLCLI_", "MLFLOW_"))}
    env_mlcli = {**base, "MLCLI_STORE": server.url, "XDG_CACHE_HOME": str(work / "cache")}
    env_mlflow = {**base, "MLFLOW_TRACKING_URI": server.url, "GIT_PYTHON_REFRESH": "quiet"}
    try:
        n = options.points
        loops: dict[str, list[dict[str, Any]]] = {
            "mlcli": [],
            "mlflow sync": [],
            "mlflow async": [],
        }
        for _ in range(options.rounds):
            loops["mlcli"].append(python(LOOP_MLCLI, str(n), env=env_mlcli))
            loops["mlflow sync"].append(python(LOOP_MLFLOW, str(n), "sync", env=env_mlflow))
            loops["mlflow async"].append(python(LOOP_MLFLOW, str(n), "async", env=env_mlflow))
        print(f"training loop, {n:,} points of one metric (median of {options.rounds})")
        print("| client | loop | loop + end_run | points/s to the server | counted back |")
        print("|---|---|---|---|---|")
        for name, found in loops.items():
            counted = {count_points(server.url, r["run_id"]) for r in found}
            loop, total = median([r["loop"] for r in found]), median([r["total"] for r in found])
            print(
                f"| {name} | {loop:.3f} s | {total:.3f} s | {n / total:,.0f} | "
                f"{'/'.join(str(c) for c in sorted(counted))} |"
            )

        python(SEED, str(options.runs), env=env_mlcli)
        search = {"mlcli": [], "mlflow": []}  # type: dict[str, list[dict[str, Any]]]
        for _ in range(options.rounds):
            search["mlcli"].append(python(SEARCH_MLCLI, env=env_mlcli))
            search["mlflow"].append(python(SEARCH_MLFLOW, env=env_mlflow))
        same = search["mlcli"][-1]["ids"] == search["mlflow"][-1]["ids"]
        print(f"\nsearch over {options.runs:,} runs, top 100 (same ids: {same})")
        for name, found in search.items():
            print(f"| {name} | {median([r['each'] for r in found]) * 1000:.1f} ms per search |")

        blob = work / "blob.bin"
        with blob.open("wb") as handle:
            for _ in range(options.artifact_mb):
                handle.write(os.urandom(1 << 20))
        artifacts = {"mlcli": [], "mlflow": []}  # type: dict[str, list[dict[str, Any]]]
        for _ in range(options.rounds):
            artifacts["mlcli"].append(python(ARTIFACT_MLCLI, str(blob), env=env_mlcli))
            artifacts["mlflow"].append(python(ARTIFACT_MLFLOW, str(blob), env=env_mlflow))
        print(f"\none {options.artifact_mb} MB artifact")
        for name, found in artifacts.items():
            up = median([r["upload"] for r in found])
            down = median([r["download"] for r in found])
            mb = options.artifact_mb
            print(f"| {name} | upload {up:.2f} s ({mb / up:.0f} MB/s) | download {down:.2f} s |")

        exp = "2"
        commands = {
            "mlcli --store URL runs list --limit 20": (
                [sys.executable, "-m", "mlcli", "runs", "list", "--limit", "20"],
                env_mlcli,
            ),
            "mlflow runs list --experiment-id 2": (
                [sys.executable, "-m", "mlflow", "runs", "list", "--experiment-id", exp],
                env_mlflow,
            ),
        }
        times: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(max(5, options.rounds)):
            for name, (command, env) in commands.items():
                times[name].append(timed(command, env))
        print("\nlisting runs from the command line (median wall time)")
        for name, found in times.items():
            print(f"| `{name}` | {median(found) * 1000:.0f} ms |")
    finally:
        server.stop()


if __name__ == "__main__":
    main()
