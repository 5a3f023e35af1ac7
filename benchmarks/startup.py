"""CLI start-up: `mlcli --version` and `mlcli log metric` against `python -c "import typer"`.

Run: python3 benchmarks/startup.py [--repeat N]

Each command runs N times interleaved (so machine noise hits all alike); the medians
and their ratio to the typer baseline are printed. Target: `mlcli log metric` median
under 200 ms on the development machine.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time


def _time(command: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True
    )
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        env = {**os.environ, "MLCLI_STORE": os.path.join(directory, ".mlruns")}
        run_id = subprocess.run(
            [sys.executable, "-m", "mlcli", "runs", "create", "-q"],
            env=env,
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
        mlcli = [os.path.join(os.path.dirname(sys.executable), "mlcli")]
        if not os.path.exists(mlcli[0]):
            mlcli = [sys.executable, "-m", "mlcli"]
        commands = {
            'python -c "import typer"': [sys.executable, "-c", "import typer"],
            "mlcli --version": [*mlcli, "--version"],
            "mlcli log metric": [*mlcli, "log", "metric", "loss", "0.5", "--run", run_id],
        }
        samples: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(args.repeat):
            for name, command in commands.items():
                samples[name].append(_time(command, env))
    baseline = statistics.median(samples['python -c "import typer"'])
    print(f"{'command':<28} {'median':>9} {'p90':>9} {'vs typer':>9}")
    for name, values in samples.items():
        median = statistics.median(values)
        p90 = statistics.quantiles(values, n=10)[-1]
        print(f"{name:<28} {median * 1000:>7.0f}ms {p90 * 1000:>7.0f}ms {median / baseline:>8.2f}x")


if __name__ == "__main__":
    main()
