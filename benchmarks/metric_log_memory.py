"""Memory and time of reading a huge metric log: the first index and a history.

Run: python3 benchmarks/metric_log_memory.py [--points N ...] [--keys K] [--dir DIR]

For each size (1,000,000 and 10,000,000 points by default) it writes one finished
run whose ``metrics.jsonl`` holds N points of K keys (steps rising, keys
interleaved, as a training loop logs them; 10M points are about 0.8 GB), in a store
under DIR (/tmp by default), deleted afterwards. Then, each in a fresh Python
process, it measures the peak resident memory (``VmHWM``, Linux) above the
process's own after its imports, and the wall and CPU time, of:

- the first index: ``index.db`` deleted, then a query (``search_runs``), as on
  a new host or after ``mlcli index rebuild``;
- ``TrackingClient.get_metric_history`` of one key (N / K points returned);
- the tracking server's page of that history (``metrics/get-history``, 25,000 points),
  through the handler the server calls.

Target: the first index in under 100 MB, whatever N; time linear in N. A history
returns a list of every point of its key, so its memory is that list's (reported per
point), not the log's.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from mlcli.store import Store
from mlcli.store.records import metric_line

_MEASURE = r"""
import json, sys, time
from pathlib import Path

def peak_kb():  # this process's own peak RSS (ru_maxrss also counts the parent's at exec)
    with open("/proc/self/status") as status:
        return int(next(line for line in status if line.startswith("VmHWM:")).split()[1])

root, run_id, what, key = Path(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
from mlcli.store import Store
from mlcli.tracking import TrackingClient
from mlcli.tracking_server import runs as server_runs  # imported before the baseline is taken
from mlcli.tracking_server.fields import Fields
import mlcli.search
store = Store.open(root)
before = peak_kb()
cpu0 = time.process_time()
wall0 = time.perf_counter()
if what == "index":
    result = len(search_runs(store, None))
elif what == "history":
    result = len(TrackingClient(store=store).get_metric_history(run_id, key))
else:
    class Backend:
        client = TrackingClient(store=store)
    fields = Fields({"run_id": run_id, "metric_key": key})
    result = len(server_runs.get_history(Backend(), fields)["metrics"])
wall = time.perf_counter() - wall0
cpu = time.process_time() - cpu0
after = peak_kb()
print(json.dumps({"baseline_kb": before, "peak_kb": after, "wall": wall, "cpu": cpu,
                  "result": result}))
"""


def write_store(root: Path, points: int, keys: int) -> str:
    """A store with one finished run whose metrics log holds ``points`` points."""
    store, _ = Store.initialize(root)
    info = store.runs.create(experiment_id="0", run_name="huge", user_id="bench", tags={})
    names = [f"metric_{k}" for k in range(keys)]
    start = 1_700_000_000_000
    block = 100_000
    with open(store.layout.metrics_log(info.run_id), "ab") as log:
        for first in range(0, points, block):
            lines = []
            for n in range(first, min(points, first + block)):
                step, k = divmod(n, keys)
                lines.append(metric_line(names[k], 1.0 / (n + 1), step, start + n))
            log.write("".join(lines).encode())
    store.runs.set_status(info.run_id, "FINISHED")
    store.close()
    return info.run_id


def measure(root: Path, run_id: str, what: str, key: str) -> dict[str, float]:
    if what == "index":
        for suffix in ("", "-wal", "-shm"):
            Path(f"{root / 'index.db'}{suffix}").unlink(missing_ok=True)
    out = subprocess.run(
        [sys.executable, "-c", _MEASURE, str(root), run_id, what, key],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return json.loads(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--keys", type=int, default=10)
    parser.add_argument("--dir", type=Path, default=Path(tempfile.gettempdir()))
    args = parser.parse_args()
    need = max(args.points) * 90 * 2
    free = shutil.disk_usage(args.dir).free
    if free < need:
        sys.exit(f"{args.dir} has {free / 1e9:.1f} GB free; {need / 1e9:.1f} GB needed")
    header = f"{'points':>11} {'log':>8} {'measure':<34} {'peak RSS':>9} {'growth':>9} "
    print(header + f"{'wall':>8} {'CPU':>8} {'ns/point':>9} {'result':>9}")
    for points in args.points:
        temporary = tempfile.mkdtemp(prefix="mlcli-metric-log-", dir=args.dir)
        try:
            root = Path(temporary) / ".mlruns"
            run_id = write_store(root, points, args.keys)
            size = Store.open(root).layout.metrics_log(run_id).stat().st_size
            for what, label in (
                ("index", "first index (cold query)"),
                ("history", "get_metric_history of one key"),
                ("page", "server page of that history"),
            ):
                figures = measure(root, run_id, what, "metric_0")
                growth = (figures["peak_kb"] - figures["baseline_kb"]) / 1024
                print(
                    f"{points:>11,} {size / 1e6:>6.0f}MB {label:<34} "
                    f"{figures['peak_kb'] / 1024:>7.0f}MB {growth:>7.0f}MB "
                    f"{figures['wall']:>7.2f}s {figures['cpu']:>7.2f}s "
                    f"{figures['cpu'] / points * 1e9:>9.0f} {figures['result']:>9,}",
                    flush=True,
                )
        finally:
            shutil.rmtree(temporary, ignore_errors=True)


if __name__ == "__main__":
    main()
