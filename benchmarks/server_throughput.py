"""Logged points per second through `mlcli server`, next to `mlflow server` (SQLite
backend) on the same machine, in one run.

Run: python3 benchmarks/server_throughput.py [--clients 8] [--points 1000]
         [--mlflow-python /path/to/venv/bin/python] [--workers 1 2] [--rounds 2]

The same MLflow client (this interpreter's `mlflow` package) logs to both servers:
N client processes each create a run and send one request, wait until all are
ready (so that their imports and set-up are not timed), then at one signal call
`MlflowClient.log_metric` M times (one HTTP request per point, as `mlflow.log_metric`
does), or, for a second measure, `log_batch` with 100 points at a time. The figure
is all points divided by the wall time from the signal to the last client's end.
After each measure the points are counted back through the server (`get-history`):
nothing may be lost.

`mlflow server` needs the full `mlflow` package (the dev extra has `mlflow-skinny`,
enough for the client side only). Install it in a separate virtualenv and pass its
interpreter with --mlflow-python; without one, only mlcli is measured. Both servers
are started with the same worker count on 127.0.0.1, their output discarded.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

CLIENT = r"""
import json, sys, time
from mlflow import MlflowClient
from mlflow.entities import Metric

from pathlib import Path

mode, points, barrier, index = sys.argv[1], int(sys.argv[2]), Path(sys.argv[3]), sys.argv[4]
client = MlflowClient()
experiment = client.get_experiment_by_name("bench")
run_id = client.create_run(experiment.experiment_id).info.run_id
key = f"client{index}/loss"
client.log_metric(run_id, "warm-up", 0.0)  # the first request of a connection costs more
now = int(time.time() * 1000)
(barrier / f"ready-{index}").touch()
while not (barrier / "go").exists():
    time.sleep(0.001)
began = time.time()
if mode == "log_metric":
    for step in range(points):
        client.log_metric(run_id, key, step * 0.5, timestamp=now + step, step=step)
else:
    for first in range(0, points, 100):
        steps = range(first, min(first + 100, points))
        batch = [Metric(key, step * 0.5, now + step, step) for step in steps]
        client.log_batch(run_id, metrics=batch)
print(json.dumps({"run_id": run_id, "key": key, "began": began, "ended": time.time()}))
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_healthy(url: str, process: subprocess.Popen[bytes], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the server exited with {process.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as reply:
                if reply.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"{url} was not healthy in {timeout} s")


def start_mlcli(workdir: Path, workers: int) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {**os.environ, "MLCLI_STORE": str(workdir / ".mlruns")}
    command = [sys.executable, "-m", "mlcli", "server", "--port", str(port)]
    command += ["--workers", str(workers)]
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=workdir
    )
    return process, f"http://127.0.0.1:{port}"


def start_mlflow(python: str, workdir: Path, workers: int) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    command = [
        python, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port),
        "--workers", str(workers), "--backend-store-uri", f"sqlite:///{workdir / 'mlflow.db'}",
        "--artifacts-destination", str(workdir / "mlartifacts"),
    ]  # fmt: skip
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=workdir
    )
    return process, f"http://127.0.0.1:{port}"


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def measure(url: str, mode: str, clients: int, points: int) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    env["MLFLOW_TRACKING_URI"] = url
    _request(url, "POST", "experiments/create", {"name": "bench"}, ok_codes=(200, 400))
    barrier = Path(tempfile.mkdtemp(prefix="server-bench-barrier-"))
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", CLIENT, mode, str(points), str(barrier), str(i)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for i in range(clients)
    ]
    # every client has imported mlflow, made its run and sent a request: then all go
    deadline = time.monotonic() + 300
    while len(list(barrier.glob("ready-*"))) < clients:
        failed = [p for p in processes if p.poll() is not None]
        if failed or time.monotonic() > deadline:
            for process in processes:
                process.kill()
            detail = failed[0].communicate()[1].decode()[-3000:] if failed else "timeout"
            raise SystemExit(f"the clients did not get ready: {detail}")
        time.sleep(0.01)
    start_at = time.time()
    (barrier / "go").touch()
    results = []
    for process in processes:
        out, err = process.communicate(timeout=1800)
        if process.returncode != 0:
            raise SystemExit(f"a client failed:\n{err.decode()[-2000:]}")
        results.append(json.loads(out.decode().strip().splitlines()[-1]))
    shutil.rmtree(barrier, ignore_errors=True)
    seconds = max(r["ended"] for r in results) - start_at
    lost = 0
    for result in results:
        history = _request(
            url,
            "GET",
            f"metrics/get-history?run_id={result['run_id']}&metric_key={result['key']}",
        )
        lost += points - len(history.get("metrics", []))
    total = clients * points
    return {"points": total, "seconds": seconds, "points_per_s": total / seconds, "lost": lost}


def _request(
    url: str, method: str, endpoint: str, body: Any = None, ok_codes: tuple[int, ...] = (200,)
) -> Any:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        f"{url}/api/2.0/mlflow/{endpoint}",
        data=data,
        method=method,
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as reply:
            return json.loads(reply.read())
    except urllib.error.HTTPError as exc:
        if exc.code in ok_codes:
            return json.loads(exc.read())
        raise


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--points", type=int, default=1000)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--rounds", type=int, default=2, help="repeat and keep the median")
    parser.add_argument(
        "--mlflow-python",
        default=os.environ.get("MLFLOW_SERVER_PYTHON"),
        help="an interpreter with the full mlflow package, to run `mlflow server`",
    )
    parser.add_argument("--modes", nargs="+", default=["log_metric", "log_batch"])
    args = parser.parse_args()

    servers: list[tuple[str, Any]] = [("mlcli server", start_mlcli)]
    if args.mlflow_python:
        servers.append(
            ("mlflow server (SQLite)", lambda d, w: start_mlflow(args.mlflow_python, d, w))
        )
    else:
        print("no --mlflow-python: measuring mlcli server only", file=sys.stderr)
    rows = []
    for mode in args.modes:
        for workers in args.workers:
            for name, start in servers:
                figures = []
                for _ in range(args.rounds):
                    workdir = Path(tempfile.mkdtemp(prefix="server-bench-"))
                    process, url = start(workdir, workers)
                    try:
                        wait_healthy(url, process)
                        figures.append(measure(url, mode, args.clients, args.points))
                    finally:
                        stop(process)
                        shutil.rmtree(workdir, ignore_errors=True)
                median = statistics.median(f["points_per_s"] for f in figures)
                lost = sum(f["lost"] for f in figures)
                rows.append((mode, workers, name, median, lost))
                print(
                    f"{mode:10} workers={workers} {name:24} {median:9.0f} points/s  lost={lost}",
                    file=sys.stderr,
                )
    print()
    print(f"{args.clients} clients x {args.points} points, median of {args.rounds} rounds")
    print()
    print("| calls | workers | server | points/s | lost |")
    print("|---|---|---|---|---|")
    for mode, workers, name, median, lost in rows:
        call = (
            "`log_metric` (1 point/request)"
            if mode == "log_metric"
            else "`log_batch` (100/request)"
        )
        print(f"| {call} | {workers} | {name} | {median:,.0f} | {lost} |")


if __name__ == "__main__":
    main()
