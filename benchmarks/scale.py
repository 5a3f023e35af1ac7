"""Issue 24: a team's year of runs — mlcli at 10k, 100k and 1M runs, MLflow beside it.

Run: python3 benchmarks/scale.py [--sizes 10000,100000] [--mlflow-up-to 100000]
                                 [--repeat 3] [--dir DIR] [--keep]

For each size N it builds, through a fast path (parallel workers writing files
directly, no index, no fsync), a local store in the documented layout (docs/store.md):
N finished runs in one experiment, each with 5 params, 5 metrics of 5 steps and 4 tags,
the same runs (ids, values, times) as MLflow 3.x rows bulk-inserted into a SQLite
database made by MLflow's own migrations (for N <= --mlflow-up-to). Then, each
command a real process (start-up included), median of --repeat:

- the filtered top 100 (``metrics.acc > 0.9 and params.model = 'rf'``, ordered by
  ``metrics.acc DESC``): ``mlcli compare ... --limit 100 --json`` warm, and with the
  index deleted (the cold build, reported as runs/s too): first on the store as
  built, which reads every run folder, then again, from the runs' summaries that
  the first build left in ``changes.jsonl``; MLflow's
  ``MlflowClient.search_runs`` with the same filter, order and ``max_results=100``;
  both answers are checked against a brute-force reading of the run files (the same
  ids in the same order; above 100,000 runs, against the data the files were written
  from, which the smaller sizes check against the files);
- ``mlcli runs list --json`` of every run: wall time, the first byte's time, the
  process's peak memory;
- ``mlcli runs list -q`` with one run created since the last query (what one new run
  costs the next query);
- the UI's runs table, first page (``GET /api/runs``) of a running ``mlcli ui``.

Figures go to stdout; nothing is asserted. ``--dir DIR --keep`` keeps the stores
(reused when present); 1M runs take ~20 GB and ~6M inodes.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

EXPERIMENT = "bench"
MODELS = ("rf", "svm", "mlp", "gbt")
FILTER = "metrics.acc > 0.9 and params.model = 'rf'"
ORDER_BY = "metrics.acc DESC"
TOP = 100
STEPS = 5
BASE_TIME = 1_700_000_000_000
_WORKER_BATCH = 2_000
BRUTE_FORCE_UP_TO = 100_000  # answers are checked against the files up to this size


@dataclass(frozen=True)
class RunData:
    run_id: str
    name: str
    start: int
    params: dict[str, str]
    metrics: dict[str, float]  # the final value of each metric (its last step's)
    tags: dict[str, str]


def run_data(number: int) -> RunData:
    """Run ``number``'s data, the same wherever it is made (both stores get it)."""
    rng = random.Random(number)
    params = {"model": rng.choice(MODELS), "lr": str(rng.choice([0.1, 0.01, 0.001]))}
    params |= {f"p{i}": str(rng.randint(0, 100)) for i in range(3)}
    metrics = {"acc": rng.random(), "loss": rng.random()}
    metrics |= {f"m{i}": rng.random() for i in range(3)}
    tags = {"team": rng.choice("ABC"), "stage": "bench"}
    run_id = uuid.UUID(int=rng.getrandbits(128), version=4).hex
    return RunData(run_id, f"run-{number}", BASE_TIME + number * 1000, params, metrics, tags)


def points(data: RunData) -> Iterator[tuple[str, float, int, int]]:
    """(key, value, step, timestamp) of every point: each metric rises to its final value."""
    for key, final in data.metrics.items():
        for step in range(STEPS):
            yield key, final * (step + 1) / STEPS, step, data.start + step


# -- the mlcli store, written in its documented layout ------------------------------------


def build_mlcli(root: Path, runs: int, workers: int) -> None:
    from mlcli.store import Store

    store, _ = Store.initialize(root)
    experiment_id = store.experiments.get_or_create(EXPERIMENT).experiment_id
    store.close()
    (root / "runs").mkdir(exist_ok=True)
    jobs = [
        (root, experiment_id, s, min(s + _WORKER_BATCH, runs))
        for s in range(0, runs, _WORKER_BATCH)
    ]
    with ProcessPoolExecutor(workers) as pool:
        for _ in pool.map(_write_runs, jobs):
            pass


def _write_runs(job: tuple[Path, str, int, int]) -> None:
    from mlcli.store.records import key_value_line, metric_line

    root, experiment_id, first, last = job
    runs = root / "runs"
    for number in range(first, last):
        data = run_data(number)
        folder = runs / data.run_id
        folder.mkdir()
        (folder / "artifacts").mkdir()
        doc = {
            "run_id": data.run_id,
            "run_name": data.name,
            "experiment_id": experiment_id,
            "status": "FINISHED",
            "start_time": data.start,
            "end_time": data.start + 500,
            "lifecycle_stage": "active",
            "deleted_time": None,
            "user_id": "bench",
            "parent_run_id": None,
        }
        (folder / "run.json").write_text(json.dumps(doc))
        tags = {"mlcli.runName": data.name, "mlcli.user": "bench", **data.tags}
        (folder / "tags.jsonl").write_text("".join(key_value_line(k, v) for k, v in tags.items()))
        params = "".join(key_value_line(k, v) for k, v in data.params.items())
        (folder / "params.jsonl").write_text(params)
        lines = "".join(metric_line(k, v, s, t) for k, v, s, t in points(data))
        (folder / "metrics.jsonl").write_text(lines)


def generated_top(size: int) -> list[str]:
    """The filtered top 100 from the data the store was built from (``run_data``),
    without reading a file: for a million runs, whose 20 GB of files take half an
    hour to read when they do not fit in the page cache. Smaller stores are checked
    against their files (``brute_force_top``), which the fast path wrote from the
    same data."""
    found = []
    for number in range(size):
        data = run_data(number)
        acc = data.metrics["acc"]
        if data.params["model"] == "rf" and acc > 0.9:
            found.append((acc, data.start, data.run_id))
    found.sort(key=lambda row: (-row[0], -row[1], row[2]))
    return [run_id for _, _, run_id in found[:TOP]]


def brute_force_top(root: Path) -> list[str]:
    """The filtered top 100 from reading every run's files, without the index."""
    found: list[tuple[float, int, str]] = []
    for folder in os.scandir(root / "runs"):
        if folder.name.startswith("."):
            continue
        try:  # a run this script added (and deleted) in an earlier pass has no params
            with open(os.path.join(folder.path, "params.jsonl"), "rb") as handle:
                params = {r["key"]: r["value"] for r in map(json.loads, handle)}
        except FileNotFoundError:
            continue
        latest: dict[str, tuple[int, int, float]] = {}
        with open(os.path.join(folder.path, "metrics.jsonl"), "rb") as handle:
            for record in map(json.loads, handle):
                mark = (record["step"], record["timestamp"], record["value"])
                latest[record["key"]] = max(latest.get(record["key"], mark), mark)
        acc = latest.get("acc")
        if params.get("model") == "rf" and acc is not None and acc[2] > 0.9:
            with open(os.path.join(folder.path, "run.json"), "rb") as handle:
                start = json.load(handle)["start_time"]
            found.append((acc[2], start, folder.name))
    found.sort(key=lambda row: (-row[0], -row[1], row[2]))
    return [run_id for _, _, run_id in found[:TOP]]


# -- MLflow on SQLite, the same runs -------------------------------------------------------


def build_mlflow(folder: Path, runs: int) -> str:
    """A SQLite database made by MLflow's migrations holding the same runs; its URI."""
    database = folder / "mlflow.db"
    uri = f"sqlite:///{database}"
    code = (
        "import sys\n"
        "from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore\n"
        "store = SqlAlchemyStore(sys.argv[1], sys.argv[2])\n"
        "print(store.create_experiment(sys.argv[3]))\n"
    )
    made = subprocess.run(
        [sys.executable, "-c", code, uri, str(folder / "mlartifacts"), EXPERIMENT],
        capture_output=True, text=True, check=True, env=_mlflow_env(),
    )  # fmt: skip
    experiment_id = made.stdout.split()[-1]
    db = sqlite3.connect(database)
    with db:
        for start in range(0, runs, 10_000):
            batch = [run_data(n) for n in range(start, min(start + 10_000, runs))]
            db.executemany(
                "INSERT INTO runs (run_uuid, name, source_type, source_name, entry_point_name, "
                "user_id, status, start_time, end_time, source_version, lifecycle_stage, "
                "artifact_uri, experiment_id, deleted_time) "
                "VALUES (?, ?, 'LOCAL', '', '', 'bench', 'FINISHED', ?, ?, '', 'active', ?, ?, "
                "NULL)",
                [
                    (d.run_id, d.name, d.start, d.start + 500, f"{folder}/mlartifacts/{d.run_id}",
                     int(experiment_id))
                    for d in batch
                ],
            )  # fmt: skip
            db.executemany(
                "INSERT INTO params (key, value, run_uuid) VALUES (?, ?, ?)",
                [(k, v, d.run_id) for d in batch for k, v in d.params.items()],
            )
            db.executemany(
                "INSERT INTO tags (key, value, run_uuid) VALUES (?, ?, ?)",
                [
                    (k, v, d.run_id)
                    for d in batch
                    for k, v in {"mlflow.runName": d.name, "mlflow.user": "bench", **d.tags}.items()
                ],
            )
            db.executemany(
                "INSERT INTO metrics (key, value, timestamp, run_uuid, step, is_nan) "
                "VALUES (?, ?, ?, ?, ?, 0)",
                [(k, v, t, d.run_id, s) for d in batch for k, v, s, t in points(d)],
            )
            db.executemany(
                "INSERT INTO latest_metrics (key, value, timestamp, step, is_nan, run_uuid) "
                "VALUES (?, ?, ?, ?, 0, ?)",
                [
                    (k, v, d.start + STEPS - 1, STEPS - 1, d.run_id)
                    for d in batch
                    for k, v in d.metrics.items()
                ],
            )
    db.close()
    return uri


def _mlflow_env() -> dict[str, str]:
    skipped = ("MLFLOW_", "MLCLI_", "PYTHONDONTWRITEBYTECODE")
    env = {k: v for k, v in os.environ.items() if not k.startswith(skipped)}
    env["MLFLOW_DISABLE_TELEMETRY"] = "true"
    return env


_MLFLOW_QUERY = """\
import json, sys
from mlflow import MlflowClient
client = MlflowClient(tracking_uri=sys.argv[1])
experiment = client.get_experiment_by_name(sys.argv[2])
runs = client.search_runs([experiment.experiment_id], sys.argv[3], order_by=[sys.argv[4]],
                          max_results=int(sys.argv[5]))
print(json.dumps([run.info.run_id for run in runs]))
"""


# -- timing -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Timed:
    wall: float
    first_byte: float
    peak_kib: int
    stdout: str


_WRAPPER = """\
import resource, subprocess, sys, time
started = time.perf_counter()
child = subprocess.Popen(sys.argv[1:], stdout=subprocess.PIPE)
first = child.stdout.read(1)
first_byte = time.perf_counter() - started
rest = child.stdout.read()
child.wait()
wall = time.perf_counter() - started
sys.stderr.write(f"{wall} {first_byte} {resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}\\n")
sys.stdout.buffer.write(first + rest)
sys.exit(child.returncode)
"""


def timed(command: list[str], env: dict[str, str]) -> Timed:
    """Wall time, time to the first byte of stdout and peak memory of one process."""
    done = subprocess.run(
        [sys.executable, "-c", _WRAPPER, *command], env=env, capture_output=True, text=True
    )
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{done.stderr}")
    wall, first, peak = done.stderr.strip().splitlines()[-1].split()
    return Timed(float(wall), float(first), int(peak), done.stdout)


def median(command: list[str], env: dict[str, str], repeat: int, before: object = None) -> Timed:
    results = []
    for _ in range(repeat):
        if callable(before):
            before()
        results.append(timed(command, env))
    results.sort(key=lambda t: t.wall)
    return results[len(results) // 2]


def mlcli_command() -> list[str]:
    script = os.path.join(os.path.dirname(sys.executable), "mlcli")
    return [script] if os.path.exists(script) else [sys.executable, "-m", "mlcli"]


def _summarised(root: Path) -> bool:
    """Whether the store's journal holds run summaries (docs/store.md, "The index")."""
    try:
        with open(root / "changes.jsonl", "rb") as journal:
            return b'{"summary":' in journal.read(1 << 20)
    except FileNotFoundError:
        return False


def drop_index(root: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{root / 'index.db'}{suffix}").unlink(missing_ok=True)


def ui_first_page(root: Path, folder: Path, repeat: int) -> float:
    """Median wall time of the runs table's first page, warm, from a running mlcli ui."""
    tests = Path(__file__).resolve().parent.parent / "tests"
    sys.path[:0] = [str(tests), str(tests / "ui")]
    from uihelpers import start_ui  # type: ignore[import-not-found]

    from mlcli.store import Store

    store = Store.open(root)
    experiment = store.experiments.find_by_name(EXPERIMENT)
    store.close()
    assert experiment is not None
    server = start_ui(root, folder / "ui.log")
    try:
        times = []
        for attempt in range(repeat + 1):
            started = time.perf_counter()
            server.api("runs", experiment=experiment.experiment_id)
            if attempt:  # the first one is the server's first query
                times.append(time.perf_counter() - started)
    finally:
        server.stop()
    return statistics.median(times)


def measure(size: int, folder: Path, args: argparse.Namespace) -> Iterator[tuple[str, str]]:
    """Each figure for ``size`` runs as it is measured: (what, figure)."""
    root = folder / ".mlruns"
    if not (root / "VERSION").is_file():
        started = time.perf_counter()
        build_mlcli(root, size, args.workers)
        yield ("store built (fast path)", f"{time.perf_counter() - started:.1f} s")
    if size <= BRUTE_FORCE_UP_TO:
        expected = brute_force_top(root)
        assert expected == generated_top(size), "the files differ from the data they hold"
    else:
        expected = generated_top(size)
    env = _mlflow_env()  # and, as a user's shell, with compiled bytecode kept
    del env["MLFLOW_DISABLE_TELEMETRY"]
    env["MLCLI_STORE"] = str(root)
    mlcli = mlcli_command()
    compare = [*mlcli, "compare", "--experiment", EXPERIMENT, "--filter", FILTER]
    compare += ["--order-by", ORDER_BY, "--limit", str(TOP), "--json"]

    if not _summarised(root):  # a store never indexed: its first index reads every folder
        drop_index(root)
        first = timed(compare, env)
        _check(first.stdout, expected, "mlcli compare (first index)")
        figure = f"{first.wall:.2f} s ({size / first.wall:,.0f} runs/s)"
        yield ("top 100, first index (every run folder read)", figure)
    cold = median(compare, env, 1 if size >= 1_000_000 else args.repeat, lambda: drop_index(root))
    _check(cold.stdout, expected, "mlcli compare (index deleted)")
    figure = f"{cold.wall:.2f} s ({size / cold.wall:,.0f} runs/s)"
    yield ("top 100, index deleted (built from summaries)", figure)
    warm = median(compare, env, args.repeat)
    _check(warm.stdout, expected, "mlcli compare (warm)")
    yield ("top 100, warm (mlcli compare --json)", f"{warm.wall * 1000:.0f} ms")
    if size <= args.mlflow_up_to:
        uri = build_mlflow(folder, size) if not (folder / "mlflow.db").exists() else ""
        uri = uri or f"sqlite:///{folder / 'mlflow.db'}"
        query = [sys.executable, "-c", _MLFLOW_QUERY, uri, EXPERIMENT, FILTER, ORDER_BY, str(TOP)]
        reps = 1 if size >= 100_000 else args.repeat
        flow = median(query, _mlflow_env(), reps)
        if json.loads(flow.stdout) != expected:
            raise SystemExit("MLflow's top 100 differs from the files' (a bug in this script?)")
        ratio = flow.wall / warm.wall
        figure = f"{flow.wall * 1000:.0f} ms ({ratio:.0f}x mlcli)"
        yield ("top 100, warm (MLflow search_runs)", figure)
    listing = median([*mlcli, "runs", "list", "--json"], env, args.repeat)
    count = listing.stdout.count('"run_id"')
    if count != size:
        raise SystemExit(f"runs list --json listed {count} runs of {size}")
    yield (
        "runs list --json (every run)",
        f"{listing.wall:.2f} s, first byte {listing.first_byte * 1000:.0f} ms, "
        f"peak {listing.peak_kib / 1024:.0f} MB",
    )
    added = subprocess.run(
        [*mlcli, "runs", "create", "--experiment", EXPERIMENT, "-q"],
        env=env, capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    after = timed([*mlcli, "runs", "list", "-q", "--limit", "1"], env)
    if after.stdout.strip() != added:
        raise SystemExit(f"the newest run is not the one just created ({added})")
    yield ("runs list --limit 1 after one new run", f"{after.wall * 1000:.0f} ms")
    subprocess.run([*mlcli, "runs", "delete", added, "-q"], env=env, check=True)
    page = ui_first_page(root, folder, args.repeat)
    yield ("UI runs table, first page (warm)", f"{page * 1000:.0f} ms")


def _check(output: str, expected: list[str], what: str) -> None:
    found = [row["run_id"] for row in json.loads(output)]
    if found != expected:
        raise SystemExit(f"{what}: its top {TOP} differs from the files' ({len(found)} runs)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--mlflow-up-to", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--dir", type=Path, help="where the stores are built (and reused)")
    parser.add_argument("--keep", action="store_true", help="keep the stores")
    args = parser.parse_args()
    base = args.dir.resolve() if args.dir else Path(tempfile.mkdtemp(prefix="mlcli-scale-"))
    try:
        print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}")
        for size in [int(s) for s in args.sizes.split(",")]:
            folder = base / f"runs-{size}"
            folder.mkdir(parents=True, exist_ok=True)
            print(f"\n{size:,} runs")
            for name, figure in measure(size, folder, args):
                print(f"  {name:<42} {figure}", flush=True)
        print(f"\nload average after: {os.getloadavg()[0]:.2f}")
    finally:
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
