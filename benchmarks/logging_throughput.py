"""Python API throughput: `log_metric` per point against a plain append per point, in
each `MLCLI_SYNC` mode, and runs created per second.

Run: python3 benchmarks/logging_throughput.py [--points N] [--runs N]

Measured in the same run, on the same filesystem (a temporary folder):

- the floor: one `os.write` per point on a file opened once with `O_APPEND` (of a
  fixed line; and of the line `log_metric` writes, built per point: "the built
  floor"), and one `os.open` + `os.write` + `os.close` per point (what an append that
  keeps no file open costs);
- `mlcli.log_metric` (buffered; the final flush counted) and `TrackingClient.log_metric`
  (unbuffered: one checked append per point), each as points/s and as a share of the
  floor, under `MLCLI_SYNC=none`, `batch` (the default) and `always`;
- `TrackingClient.log_batch` of 100 points, and runs created per second
  (`TrackingClient.create_run`), in each mode.

Targets (issue 24): per-point `log_metric` at >= 50% of a plain append per point;
runs created >= 500/s; at least 100,000 points/s through `mlcli.log_metric`.
fsync costs what the disk costs: `always` is bounded by it, so it logs fewer points.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

LINE = b'{"key":"loss","value":0.123456789,"step":123456,"timestamp":1700000000000}\n'
MODES = ("none", "batch", "always")


def plain_appends(directory: str, points: int) -> tuple[float, float, float]:
    """Points/s of an `os.write` per point on one open O_APPEND descriptor (of a fixed
    line; and of the line `log_metric` writes, built per point as a hand-written
    logger would: the same values, `repr` and a clock read), and of an open + write +
    close per point."""
    path = os.path.join(directory, "plain.jsonl")
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
    started = time.perf_counter()
    for _ in range(points):
        os.write(fd, LINE)
    held = points / (time.perf_counter() - started)
    started = time.perf_counter()
    for step in range(points):
        value, stamp = 1.0 / (step + 1), time.time_ns() // 1_000_000
        os.write(
            fd, f'{{"key":"loss","value":{value!r},"step":{step},"timestamp":{stamp}}}\n'.encode()
        )
    built = points / (time.perf_counter() - started)
    os.close(fd)
    count = max(1, points // 10)
    started = time.perf_counter()
    for _ in range(count):
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
        os.write(fd, LINE)
        os.close(fd)
    each = count / (time.perf_counter() - started)
    os.unlink(path)
    return held, built, each


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=500)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        os.environ["MLCLI_STORE"] = os.path.join(directory, ".mlruns")
        import mlcli
        from mlcli.tracking import TrackingClient

        held, built, each = plain_appends(directory, args.points)
        client = TrackingClient()
        results = {}
        for mode in MODES:
            os.environ["MLCLI_SYNC"] = mode
            # fsync per point under `always`: fewer points, or it takes minutes.
            direct_points = args.points // (1000 if mode == "always" else 10)
            with mlcli.start_run() as run:
                started = time.perf_counter()
                for step in range(args.points):
                    mlcli.log_metric("loss", 1.0 / (step + 1), step=step)
                calls = time.perf_counter() - started
                mlcli.flush()
                fluent = time.perf_counter() - started
                client.log_metric(run.run_id, "direct", 0.0, step=0)  # the run.json read
                started = time.perf_counter()
                for step in range(1, direct_points + 1):
                    client.log_metric(run.run_id, "direct", float(step), step=step)
                direct = time.perf_counter() - started
                batches = max(1, args.points // 500)
                started = time.perf_counter()
                for index in range(batches):
                    points = [("batched", float(j), index * 100 + j) for j in range(100)]
                    client.log_batch(run.run_id, metrics=points)
                batching = time.perf_counter() - started
            stored = len(client.get_metric_history(run.run_id, "loss"))
            assert stored == args.points, f"{stored} of {args.points} points stored"
            stored = len(client.get_metric_history(run.run_id, "direct"))
            assert stored == direct_points + 1, f"{stored} of {direct_points + 1} points stored"
            started = time.perf_counter()
            for index in range(args.runs):
                client.create_run(run_name=f"{mode}{index}")
            creating = time.perf_counter() - started
            results[mode] = (
                args.points / calls,
                args.points / fluent,
                direct_points / direct,
                batches / batching,
                args.runs / creating,
            )
        os.environ.pop("MLCLI_SYNC")

    print(f"plain os.write per point, O_APPEND fd held: {held:>12,.0f} points/s (the floor)")
    print(
        f"  the same, each line built as log_metric's: {built:>12,.0f} points/s (the built floor)"
    )
    print(f"plain os.open+write+close per point:        {each:>12,.0f} points/s")
    for mode, (calls, fluent, direct, batched, runs) in results.items():
        print(f"MLCLI_SYNC={mode}{' (default)' if mode == 'none' else ''}:")
        print(
            f"  mlcli.log_metric calls:        {calls:>12,.0f} points/s "
            f"({calls / held:6.1%} of the floor; {1e6 / calls:.2f} µs per call)"
        )
        print(
            f"  mlcli.log_metric, flushed:     {fluent:>12,.0f} points/s "
            f"({fluent / held:6.1%} of the floor, {fluent / built:6.1%} of the built floor)"
        )
        print(
            f"  TrackingClient.log_metric:     {direct:>12,.0f} points/s "
            f"({direct / held:6.1%} of the floor, {direct / each:6.1%} of open+write+close; "
            "unbuffered, one checked append each)"
        )
        print(
            f"  TrackingClient.log_batch:      {batched:>12,.0f} batches/s of 100 points "
            f"({batched * 100:,.0f} points/s)"
        )
        print(f"  runs created:                  {runs:>12,.0f} runs/s")


if __name__ == "__main__":
    main()
