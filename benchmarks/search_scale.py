"""Search and compare at scale: 10,000 runs, timed through the real command.

Run: python3 benchmarks/search_scale.py [--runs N] [--repeat N] [--store DIR] [--keep]

Populates a store through the store API (not through CLI calls): N runs, each with
10 params, 10 metrics of 20 steps and 3 tags, in parallel worker processes. Then
times, as real subprocesses (process start included):

- ``mlcli compare`` with a filter, an order-by and ``--limit 10``: on a store whose
  index was just deleted (cold), then with the index warm;
- ``mlcli runs list --json`` of every run;
- ``mlcli diff`` of two runs (text and --json).

Each is run --repeat times; the median and worst wall time and the median CPU time
(user + system, which neighbours on a shared machine disturb far less) are printed.
Targets: the filtered compare under 0.5 s warm and under 5 s cold.
``--store DIR`` reuses (or creates, then keeps) a populated store in DIR.
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from mlcli.store import Metric, Store

EXPERIMENT = "bench"
MODELS = ("rf", "svm", "mlp", "gbt")
FILTER = "metrics.acc > 0.9 and params.model = 'rf'"
ORDER_BY = "metrics.acc DESC"


def populate(root: Path, runs: int, workers: int) -> None:
    store, _ = Store.initialize(root)
    experiment_id = store.experiments.get_or_create(EXPERIMENT).experiment_id
    store.close()
    shares = [runs // workers + (1 if i < runs % workers else 0) for i in range(workers)]
    with ProcessPoolExecutor(workers) as pool:
        list(pool.map(_populate_share, [(root, experiment_id, n, i) for i, n in enumerate(shares)]))


def _populate_share(job: tuple[Path, str, int, int]) -> None:
    root, experiment_id, count, seed = job
    store = Store.open(root)
    rng = random.Random(seed)
    start = 1_700_000_000_000 + seed * 10_000_000
    for number in range(count):
        started = start + number * 1000
        info = store.runs.create(
            experiment_id=experiment_id,
            run_name=f"run-{seed}-{number}",
            user_id="bench",
            tags={},
            start_time=started,
        )
        run_id = info.run_id
        params = {"model": rng.choice(MODELS), "lr": f"{rng.choice([0.1, 0.01, 0.001])}"}
        params |= {f"p{i}": str(rng.randint(0, 100)) for i in range(8)}
        store.runs.log_params(run_id, params)
        final = {"acc": rng.random(), "loss": rng.random()}
        final |= {f"m{i}": rng.random() for i in range(8)}
        points = [
            Metric(key, value * (step + 1) / 20, step, started + step)
            for key, value in final.items()
            for step in range(20)
        ]
        store.runs.append_metrics(run_id, points)
        store.runs.set_tags(
            run_id,
            {"team": rng.choice("ABC"), "stage": "bench", "mlcli.source.git.commit": "0" * 40},
        )
        store.runs.set_status(run_id, "FINISHED", end_time=started + 500)
    store.close()


def _timed(command: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    """Wall time, CPU time (user + system) of the process, and its stdout."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    result = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, result.stdout


def _drop_index(root: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{root / 'index.db'}{suffix}").unlink(missing_ok=True)


def measure(root: Path, repeat: int) -> list[tuple[str, float, float, float]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLCLI_")}
    env["MLCLI_STORE"] = str(root)
    mlcli = [os.path.join(os.path.dirname(sys.executable), "mlcli")]
    if not os.path.exists(mlcli[0]):
        mlcli = [sys.executable, "-m", "mlcli"]
    compare = [*mlcli, "compare", "--experiment", EXPERIMENT, "--filter", FILTER]
    compare += ["--order-by", ORDER_BY, "--limit", "10", "--json"]
    figures: list[tuple[str, float, float, float]] = []

    def series(name: str, command: list[str], cold: bool = False) -> str:
        walls, cpus, out = [], [], ""
        for _ in range(repeat):
            if cold:
                _drop_index(root)
            wall, cpu, out = _timed(command, env)
            walls.append(wall)
            cpus.append(cpu)
        figures.append((name, statistics.median(walls), max(walls), statistics.median(cpus)))
        return out

    series("compare --filter --order-by --limit 10 (index deleted)", compare, cold=True)

    series("compare --filter --order-by --limit 10 (warm)", compare)
    listing = series("runs list --json (all runs)", [*mlcli, "runs", "list", "--json"])
    ids = [line.split('"')[3] for line in listing.splitlines() if '"run_id"' in line][:2]
    series("diff RUN_A RUN_B", [*mlcli, "diff", *ids])
    series("diff RUN_A RUN_B --json", [*mlcli, "diff", *ids, "--json"])
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--store", type=Path, help="reuse or create a populated store here")
    args = parser.parse_args()
    temporary = None
    if args.store is None:
        temporary = tempfile.mkdtemp(prefix="mlcli-bench-")
        root = Path(temporary) / ".mlruns"
    else:
        root = args.store.resolve()
    try:
        if not (root / "VERSION").is_file():
            started = time.perf_counter()
            populate(root, args.runs, args.workers)
            elapsed = time.perf_counter() - started
            print(f"populated {args.runs} runs in {elapsed:.1f} s ({args.runs / elapsed:.0f}/s)")
        print(f"load average before: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
        print(f"{'command':<58} {'median':>9} {'max':>9} {'CPU':>9}")
        for name, median, worst, cpu in measure(root, args.repeat):
            print(f"{name:<58} {median * 1000:>7.0f}ms {worst * 1000:>7.0f}ms {cpu * 1000:>7.0f}ms")
        print(f"load average after: {os.getloadavg()[0]:.2f}")
    finally:
        if temporary is not None:
            shutil.rmtree(temporary, ignore_errors=True)


if __name__ == "__main__":
    main()
