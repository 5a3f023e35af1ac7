"""`mlcli serve` latency and throughput, against the floor: a bare ASGI app that calls the
same model's `predict` directly.

Run: python3 benchmarks/serving_latency.py [--duration 4] [--rounds 3] [--quick]

A scikit-learn pipeline (StandardScaler + LogisticRegression on iris, with a signature)
is saved once. Each server runs on uvicorn (same settings) in its own process on
127.0.0.1, and a load generator in another process sends `dataframe_split` requests of
1 row and of 1,000 rows over keep-alive connections, at concurrency 1 and 32:

- floor: a raw ASGI callable: json.loads, DataFrame, estimator.predict, json.dumps,
  in the event loop. No routing, no validation, no signature, no log, no timeout;
- mlcli: `mlcli serve -m MODEL` (Starlette; access log on, to a file);
- with 1 and with 2 workers (`--workers 2`; the floor likewise).

It also compares the two frameworks the issue allowed, on one handler (the protocol
module's content-type check, body read, and parse + predict in the thread pool with a
timeout), 1 row, 1 worker: Starlette (what mlcli uses) and FastAPI.

The load generator is wrk (Debian's `wrk` package) when installed, else a Python
asyncio generator with raw sockets (bounded in time). Targets: single-row p50 under
5 ms at concurrency 1; throughput within 2x of the floor.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
MODEL_ENV = "MLCLI_BENCH_MODEL"

# -- the servers under test (run in their own processes by uvicorn) -------------------------------


def make_floor_app() -> Any:
    """The floor: the least an ASGI server can do to answer with the model's predict."""
    import pandas as pd

    import mlcli.sklearn

    model = mlcli.sklearn.load_model(os.environ[MODEL_ENV])

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        body = b""
        more = True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        split = json.loads(body)["dataframe_split"]
        predictions = model.predict(pd.DataFrame(split["data"], columns=split["columns"]))
        payload = json.dumps({"predictions": predictions.tolist()}).encode()
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(payload)).encode()),
        ]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": payload})

    return app


def _handler() -> Any:
    """The same /invocations handler for both frameworks."""
    from concurrent.futures import ThreadPoolExecutor

    from mlcli.models.pyfunc_model import load_model
    from mlcli.scoring.protocol import content_kind, score

    model = load_model(os.environ[MODEL_ENV])
    pool = ThreadPoolExecutor()

    async def handle(request: Any) -> bytes:
        kind = content_kind(request.headers.get("content-type"))
        body = await request.body()
        work = asyncio.get_running_loop().run_in_executor(pool, score, model, body, kind)
        return await asyncio.wait_for(work, 60)

    return handle


def make_starlette_app() -> Any:
    from starlette.applications import Starlette
    from starlette.responses import Response
    from starlette.routing import Route

    handle = _handler()

    async def invocations(request: Any) -> Response:
        return Response(await handle(request), media_type="application/json")

    return Starlette(routes=[Route("/invocations", invocations, methods=["POST"])])


def make_fastapi_app() -> Any:
    from fastapi import FastAPI, Request
    from fastapi.responses import Response

    handle = _handler()
    app = FastAPI()

    async def invocations(request: Request) -> Response:
        return Response(await handle(request), media_type="application/json")

    # FastAPI reads the annotations to inject the request; this module's are strings
    # (``from __future__ import annotations``) naming a local import, so give the types.
    invocations.__annotations__ = {"request": Request, "return": Response}
    app.add_api_route("/invocations", invocations, methods=["POST"])
    return app


# -- running servers -------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start(kind: str, model: Path, workers: int, log: Path) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    env = {**os.environ, MODEL_ENV: str(model)}
    if kind == "mlcli":
        argv = [sys.executable, "-m", "mlcli", "serve", "-m", str(model), "--port", str(port)]
        argv += ["--workers", str(workers)]
    else:
        argv = [sys.executable, __file__, "--serve", kind, "--port", str(port)]
        argv += ["--workers", str(workers)]
    process = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=log.open("ab"))
    wait_serving(process, port, ROWS[1], f"{kind} did not start; see {log}")
    return process, port


def wait_serving(
    process: subprocess.Popen[bytes], port: int, body: bytes, failure: str, timeout: float = 60
) -> None:
    """Wait until the server on ``port`` answers ``body`` with 200; SystemExit(failure)
    (the process killed) if it does not within ``timeout`` seconds or exits."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        try:
            status, _ = asyncio.run(one_request(port, request_bytes(port, body)))
            if status == 200:
                return
        except (OSError, asyncio.IncompleteReadError):
            pass
        time.sleep(0.1)
    process.kill()
    raise SystemExit(failure)


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(30)
    except subprocess.TimeoutExpired:
        process.kill()


def serve(kind: str, port: int, workers: int) -> None:
    """Run one of the apps above as mlcli serve runs its own: the same uvicorn settings
    and the same socket (TCP_NODELAY), one process or a supervisor with workers."""
    import uvicorn
    from uvicorn.supervisors import Multiprocess

    from mlcli.web.uvicorn_runner import bind_socket

    sys.path.insert(0, str(HERE))
    config = uvicorn.Config(
        f"serving_latency:make_{kind}_app",
        factory=True,
        workers=workers,
        log_level="warning",
        access_log=False,
        timeout_keep_alive=30,
    )
    sock = bind_socket("127.0.0.1", port)
    if workers == 1:
        uvicorn.Server(config).run(sockets=[sock])
    else:
        Multiprocess(config, sockets=[sock]).run()


# -- load generation -------------------------------------------------------------------------------

COLUMNS = ["sepal length (cm)", "sepal width (cm)", "petal length (cm)", "petal width (cm)"]
ROWS: dict[int, bytes] = {}


def make_bodies() -> None:
    from sklearn.datasets import load_iris

    features, _ = load_iris(return_X_y=True, as_frame=True)
    for n in (1, 1000):
        rows = features.sample(n, replace=True, random_state=0).values.tolist()
        ROWS[n] = json.dumps({"dataframe_split": {"columns": COLUMNS, "data": rows}}).encode()


def request_bytes(port: int, body: bytes) -> bytes:
    head = (
        f"POST /invocations HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


async def one_request(port: int, data: bytes) -> tuple[int, bytes]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(data)
        return await read_response(reader)
    finally:
        writer.close()


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = int(re.search(rb"(?i)content-length: *(\d+)", head)[1])  # type: ignore[index]
    return status, await reader.readexactly(length)


async def python_load(port: int, body: bytes, connections: int, seconds: float) -> dict[str, Any]:
    """Closed-loop load on keep-alive connections; latency of every request."""
    data = request_bytes(port, body)
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds

    async def client() -> None:
        nonlocal errors
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            writer.write(data)
            status, _ = await read_response(reader)
            latencies.append(time.perf_counter() - started)
            errors += status != 200
        writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(connections)))
    elapsed = time.perf_counter() - started
    latencies.sort()
    return {
        "rps": len(latencies) / elapsed,
        "p50": latencies[len(latencies) // 2] * 1000,
        "p99": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000,
        "errors": errors,
    }


WRK_SCRIPT = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = io.open("{body}", "rb"):read()
done = function(summary, latency, requests)
  io.write(string.format("RESULT %f %f %f %d\\n", summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    summary.errors.status + summary.errors.connect + summary.errors.read
    + summary.errors.write + summary.errors.timeout))
end
"""


def wrk_load(port: int, body: bytes, connections: int, seconds: float, tmp: Path) -> dict[str, Any]:
    body_file = tmp / f"body-{len(body)}.json"
    body_file.write_bytes(body)
    script = tmp / "post.lua"
    script.write_text(WRK_SCRIPT.replace("{body}", str(body_file)))
    threads = min(connections, 2)
    result = subprocess.run(
        [
            "wrk",
            f"-t{threads}",
            f"-c{connections}",
            f"-d{seconds:g}s",
            "-s",
            str(script),
            f"http://127.0.0.1:{port}/invocations",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    rps, p50, p99, errors = result.stdout.rsplit("RESULT ", 1)[1].split()
    return {"rps": float(rps), "p50": float(p50), "p99": float(p99), "errors": int(errors)}


def measure(port: int, rows: int, connections: int, seconds: float, tmp: Path) -> dict[str, Any]:
    return measure_body(port, ROWS[rows], connections, seconds, tmp)


def measure_body(
    port: int, body: bytes, connections: int, seconds: float, tmp: Path
) -> dict[str, Any]:
    """req/s, p50 and p99 (ms) and errors of ``seconds`` of closed-loop load of ``body``,
    after a second of warm-up: wrk when installed, else the Python generator."""
    if shutil.which("wrk"):
        wrk_load(port, body, connections, 1, tmp)  # warm-up
        return wrk_load(port, body, connections, seconds, tmp)
    asyncio.run(python_load(port, body, connections, 1))
    return asyncio.run(python_load(port, body, connections, seconds))


# -- the report ------------------------------------------------------------------------------------


def compare(
    kinds: tuple[str, str], workers: int, cases: list[tuple[int, int]], args: Any, tmp: Path
) -> dict[tuple[int, int], dict[str, dict[str, float]]]:
    """Both servers up at once; for each case, ``--rounds`` measurements of each,
    alternating, so that the machine's noise hits both alike; medians."""
    servers = {kind: start(kind, tmp / "model", workers, tmp / f"{kind}.log") for kind in kinds}
    results: dict[tuple[int, int], dict[str, dict[str, float]]] = {}
    try:
        for rows, connections in cases:
            runs: dict[str, list[dict[str, Any]]] = {kind: [] for kind in kinds}
            for kind in kinds:  # warm-up
                measure(servers[kind][1], rows, connections, 1, tmp)
            for _ in range(args.rounds):
                for kind in kinds:
                    runs[kind].append(
                        measure(servers[kind][1], rows, connections, args.duration, tmp)
                    )
            assert all(r["errors"] == 0 for found in runs.values() for r in found), runs
            results[rows, connections] = {
                kind: {k: statistics.median(r[k] for r in found) for k in ("rps", "p50", "p99")}
                for kind, found in runs.items()
            }
    finally:
        for process, _ in servers.values():
            stop(process)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=4.0, help="seconds per measurement")
    parser.add_argument("--rounds", type=int, default=3, help="measurements per case (median)")
    parser.add_argument("--quick", action="store_true", help="1 worker only; no frameworks")
    parser.add_argument("--serve", help=argparse.SUPPRESS)  # internal: run one server
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--workers", type=int, default=1, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.port, args.workers)
        return
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    import mlcli.sklearn

    make_bodies()
    tmp = Path(tempfile.mkdtemp(prefix="mlcli-bench-serve-"))
    features, target = load_iris(return_X_y=True, as_frame=True)
    estimator = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    mlcli.sklearn.save_model(
        estimator.fit(features, target), tmp / "model", input_example=features.head(2)
    )
    generator = "wrk" if shutil.which("wrk") else "python asyncio"
    print(
        f"load generator: {generator}; median of {args.rounds} x {args.duration:g} s, "
        f"alternating; {os.cpu_count()} CPUs"
    )
    print()
    print(
        "| workers | rows | concurrency | floor req/s | mlcli req/s | floor/mlcli | "
        "floor p50 | mlcli p50 | floor p99 | mlcli p99 |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    cases = [(rows, connections) for rows in (1, 1000) for connections in (1, 32)]
    for workers in (1,) if args.quick else (1, 2):
        results = compare(("floor", "mlcli"), workers, cases, args, tmp)
        for (rows, connections), found in results.items():
            floor, ours = found["floor"], found["mlcli"]
            print(
                f"| {workers} | {rows} | {connections} | {floor['rps']:,.0f} | "
                f"{ours['rps']:,.0f} | {floor['rps'] / ours['rps']:.2f}x | "
                f"{floor['p50']:.2f} ms | {ours['p50']:.2f} ms | "
                f"{floor['p99']:.2f} ms | {ours['p99']:.2f} ms |",
                flush=True,
            )
    if not args.quick:
        print()
        print("| framework (same handler, 1 row, 1 worker) | concurrency | req/s | p50 | p99 |")
        print("|---|---|---|---|---|")
        results = compare(("starlette", "fastapi"), 1, [(1, 1), (1, 32)], args, tmp)
        for (_, connections), found in results.items():
            for kind, result in found.items():
                print(
                    f"| {kind} | {connections} | {result['rps']:,.0f} | "
                    f"{result['p50']:.2f} ms | {result['p99']:.2f} ms |",
                    flush=True,
                )
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
