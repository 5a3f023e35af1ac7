"""Python API throughput: 100,000 `log_metric` calls in one run, and runs created per second.

Run: python3 benchmarks/logging_throughput.py [--points N] [--runs N]

Target: at least 100,000 metric points per second through `mlcli.log_metric`, counting
the time to write every point to the store (the final flush included).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=500)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        os.environ["MLCLI_STORE"] = os.path.join(directory, ".mlruns")
        import mlcli
        from mlcli.tracking import TrackingClient

        with mlcli.start_run() as run:
            started = time.perf_counter()
            for step in range(args.points):
                mlcli.log_metric("loss", 1.0 / (step + 1), step=step)
            calls = time.perf_counter() - started
            mlcli.flush()
            total = time.perf_counter() - started
        client = TrackingClient()
        stored = len(client.get_metric_history(run.run_id, "loss"))
        assert stored == args.points, f"{stored} of {args.points} points stored"

        started = time.perf_counter()
        for step in range(args.points // 10):
            client.log_metric(run.run_id, "direct", float(step), step=step)
        direct = time.perf_counter() - started

        started = time.perf_counter()
        for index in range(args.runs):
            client.create_run(run_name=f"r{index}")
        creating = time.perf_counter() - started

    print(
        f"log_metric calls:          {args.points / calls:>12,.0f} points/s "
        f"({calls * 1e6 / args.points:.2f} µs per call)"
    )
    print(
        f"log_metric, flushed:       {args.points / total:>12,.0f} points/s "
        f"(all {args.points:,} in the store after {total:.3f} s)"
    )
    print(
        f"TrackingClient.log_metric: {args.points // 10 / direct:>12,.0f} points/s "
        "(unbuffered, one append each)"
    )
    print(f"runs created:              {args.runs / creating:>12,.0f} runs/s")


if __name__ == "__main__":
    main()
