"""The dashboard at scale: API latency of the runs table over 10,000 runs.

Run: python3 benchmarks/ui_latency.py [--runs N] [--repeat N] [--store DIR]

Populates a store as ``search_scale.py`` does (N runs, each with 10 params, 10 metrics
of 20 steps and 3 tags, written through the store API by parallel workers), starts a
real ``mlcli ui --port 0`` on it, and times HTTP requests from this process (server
work and loopback included, the browser's drawing not). The first request, which
builds the index, is timed once on its own; then each request is made --repeat times,
interleaved, and the median, p90 and worst wall times are printed. Last, the first
request on the same store with its index deleted (the index is rebuilt first).

Targets: the runs table's first page under 300 ms; a filtered page under 500 ms.
``--store DIR`` reuses (or creates, then keeps) a populated store in DIR.
"""

from __future__ import annotations

import argparse
import http.client
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "ui"))

from search_scale import EXPERIMENT, populate
from uihelpers import start_ui

from mlcli.store import Store

FILTER = "metrics.acc > 0.9 and params.model = 'rf'"


def requests_to_time(experiment_id: str) -> list[tuple[str, str]]:
    runs = {"experiment": experiment_id}
    return [
        ("experiments list", "/api/experiments?"),
        ("runs table, first page (50, newest first)", f"/api/runs?{urlencode(runs)}"),
        (
            "first page sorted by a metric",
            f"/api/runs?{urlencode({**runs, 'sort': '-metrics.acc'})}",
        ),
        ("filtered page", f"/api/runs?{urlencode({**runs, 'filter': FILTER})}"),
        (
            "filtered page sorted by a metric",
            f"/api/runs?{urlencode({**runs, 'filter': FILTER, 'sort': '-metrics.acc'})}",
        ),
        (
            "last page (offset 9,950) sorted by a metric",
            f"/api/runs?{urlencode({**runs, 'sort': '-metrics.acc', 'offset': 9950})}",
        ),
        (
            "200 rows, 12 chosen columns",
            "/api/runs?"
            + urlencode(
                {
                    **runs,
                    "limit": 200,
                    "columns": "status,start_time,duration,git_commit,"
                    + ",".join(f"params.p{i}" for i in range(4))
                    + ",metrics.acc,metrics.loss,metrics.m0,tags.team",
                }
            ),
        ),
        ("column keys of the experiment", f"/api/experiments/{experiment_id}/keys"),
    ]


def timed_get(port: int, path: str) -> float:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        started = time.perf_counter()
        connection.request("GET", path)
        response = connection.getresponse()
        response.read()
        elapsed = time.perf_counter() - started
    finally:
        connection.close()
    if response.status != 200:
        raise SystemExit(f"GET {path} answered {response.status}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--store", type=Path, help="reuse or create a populated store here")
    args = parser.parse_args()
    temporary = tempfile.mkdtemp(prefix="mlcli-ui-bench-")
    root = args.store.resolve() if args.store else Path(temporary) / ".mlruns"
    try:
        if not (root / "VERSION").is_file():
            started = time.perf_counter()
            populate(root, args.runs, args.workers)
            elapsed = time.perf_counter() - started
            print(f"populated {args.runs} runs in {elapsed:.1f} s")
        store = Store.open(root)
        experiment_id = store.experiments.get_or_create(EXPERIMENT).experiment_id
        store.close()
        server = start_ui(root, Path(temporary) / "ui.log")
        try:
            requests = requests_to_time(experiment_id)
            first = timed_get(server.port, requests[1][1])
            print(f"first request after start (index brought up to date): {first * 1000:.0f} ms")
            times: dict[str, list[float]] = {name: [] for name, _ in requests}
            for _ in range(args.repeat):
                for name, path in requests:
                    times[name].append(timed_get(server.port, path))
        finally:
            server.stop()
        for suffix in ("", "-wal", "-shm"):  # once more on a store whose index was deleted
            Path(f"{root / 'index.db'}{suffix}").unlink(missing_ok=True)
        server = start_ui(root, Path(temporary) / "ui-cold.log")
        try:
            cold = timed_get(server.port, requests[1][1])
            print(f"first request, index deleted (rebuilt from {args.runs} runs): {cold:.1f} s")
        finally:
            server.stop()
        print(f"load average: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
        print(f"{'request':<46} {'median':>8} {'p90':>8} {'max':>8}")
        for name, values in times.items():
            ordered = sorted(values)
            p90 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.9))]
            print(
                f"{name:<46} {statistics.median(values) * 1000:>6.0f}ms "
                f"{p90 * 1000:>6.0f}ms {max(values) * 1000:>6.0f}ms"
            )
    finally:
        shutil.rmtree(temporary, ignore_errors=True)


if __name__ == "__main__":
    main()
