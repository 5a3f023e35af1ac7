"""What a SIGKILL loses of the fluent API's buffered metrics.

Run: python3 benchmarks/metric_loss.py [--trials N] [--interval SECONDS] [--busy N]

Each trial starts a Python process that logs a point every ``--interval`` seconds
(default 1 ms, a training loop), SIGKILLs it after a random 1-3 s, and reads the run's
``metrics.jsonl``: the points lost are those logged after the newest one on disk, so
the loss window is the kill time minus that point's timestamp (one interval more at
most). ``--busy N`` keeps N other processes spinning meanwhile, as a loaded machine.
The promise (docs/tracking.md): at most the last second; the deadline is 0.75 s.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

WRITER = """
import sys, time, mlcli
interval = float(sys.argv[1])
run = mlcli.start_run()
print(run.run_id, flush=True)
step = 0
while True:
    mlcli.log_metric("loss", 1.0 / (step + 1), step=step)
    step += 1
    time.sleep(interval)
"""

SPIN = "while True: pass"


def trial(store: Path, interval: float, rng: random.Random) -> tuple[float, int]:
    """(seconds of points lost, points on disk) for one SIGKILLed writer."""
    writer = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(WRITER), str(interval)],
        env={**os.environ, "MLCLI_STORE": str(store)},
        stdout=subprocess.PIPE,
        text=True,
    )
    assert writer.stdout is not None
    run_id = writer.stdout.readline().strip()
    time.sleep(rng.uniform(1.0, 3.0))
    killed_at = time.time()
    writer.send_signal(signal.SIGKILL)
    writer.wait()
    log = store / "runs" / run_id / "metrics.jsonl"
    lines = log.read_bytes().split(b"\n")[:-1] if log.exists() else []
    newest = max((json.loads(line)["timestamp"] for line in lines), default=None)
    if newest is None:
        return float("nan"), 0
    return killed_at - newest / 1000, len(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--interval", type=float, default=0.001)
    parser.add_argument("--busy", type=int, default=0)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    spinners = [subprocess.Popen([sys.executable, "-c", SPIN]) for _ in range(args.busy)]
    losses = []
    try:
        with tempfile.TemporaryDirectory() as directory:
            store = Path(directory) / ".mlruns"
            for number in range(1, args.trials + 1):
                lost, points = trial(store, args.interval, rng)
                losses.append(lost)
                print(f"trial {number:>3}: {lost:.3f} s of points lost ({points:,} on disk)")
    finally:
        for spinner in spinners:
            spinner.kill()
            spinner.wait()
    print(
        f"loss window over {len(losses)} SIGKILLs: median {statistics.median(losses):.3f} s, "
        f"max {max(losses):.3f} s (load: {args.busy} busy process(es), "
        f"a point every {args.interval * 1000:g} ms)"
    )


if __name__ == "__main__":
    main()
