"""Sweep overhead: what a sweep adds, per trial, to running the entry point directly.

Run: python3 benchmarks/sweep_overhead.py [--trials N] [--repeat R]

A project whose entry point is `python work.py {x}` (a script that prints a line),
with the `local` environment. Each repetition, interleaved so that machine noise hits
all alike, times:

- the entry point run directly, N times in a row (`python work.py 1`, ...);
- `mlcli run . -P 'x=[1,...,N]'` (a grid of N trials, --parallel 1);
- the same sweep with one trial (the sweep's fixed cost: its own start-up, the
  parent run, the summary);
- the same N-trial sweep with --parallel 2.

Overhead per trial = (sweep − N × direct) / N, with --parallel 1: everything a trial
costs beyond its entry point, the sweep's fixed cost spread over the trials.
Marginal cost per trial = (sweep of N − sweep of 1) / (N − 1) − direct. Both are
given in wall time (what users wait) and in CPU time (user + system of every process
involved, which neighbours on a shared machine do not inflate). Target: overhead
under 0.3 s per trial.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

MLPROJECT = """
name: bench
entry_points:
  main:
    parameters:
      x: {type: int, default: 0}
    command: "python work.py {x}"
"""


Timing = tuple[float, float]  # (wall, CPU) seconds


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _time(command: list[str], cwd: Path, env: dict[str, str]) -> Timing:
    started, cpu = time.perf_counter(), _cpu()
    subprocess.run(
        command, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True
    )
    return time.perf_counter() - started, _cpu() - cpu


def _direct(trials: int, cwd: Path, env: dict[str, str]) -> Timing:
    started, cpu = time.perf_counter(), _cpu()
    for x in range(1, trials + 1):
        subprocess.run(
            [sys.executable, "work.py", str(x)], cwd=cwd, env=env, stdout=subprocess.DEVNULL
        )
    return time.perf_counter() - started, _cpu() - cpu


def _median(timings: list[Timing], which: int) -> float:
    return statistics.median(t[which] for t in timings)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=20, help="at least 2")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    mlcli = [os.path.join(os.path.dirname(sys.executable), "mlcli")]
    if not os.path.exists(mlcli[0]):
        mlcli = [sys.executable, "-m", "mlcli"]
    n = args.trials
    grid = "x=[" + ",".join(str(x) for x in range(1, n + 1)) + "]"
    with tempfile.TemporaryDirectory() as directory:
        base = Path(directory)
        project = base / "project"
        project.mkdir()
        (project / "MLproject").write_text(MLPROJECT)
        (project / "work.py").write_text("import sys\nprint('working on', sys.argv[1])\n")
        # Bytecode caching on, as users have it (some shells here disable it).
        skip = ("MLCLI_", "PYTHONDONTWRITEBYTECODE")
        env = {k: v for k, v in os.environ.items() if not k.startswith(skip)}
        env.update(MLCLI_STORE=str(base / ".mlruns"), MLCLI_CACHE_DIR=str(base / "cache"))
        subprocess.run([*mlcli, "init", "-q"], cwd=base, env=env, check=True)
        sweep = [*mlcli, "run", ".", "--env-manager", "local", "-q"]
        commands = {
            f"sweep of {n} trials, --parallel 1": [*sweep, "-P", grid],
            "sweep of 1 trial": [*sweep, "-P", "x=[1]"],
            f"sweep of {n} trials, --parallel 2": [*sweep, "-P", grid, "--parallel", "2"],
        }
        _time(commands["sweep of 1 trial"], project, env)  # warm the caches
        direct: list[Timing] = []
        samples: dict[str, list[Timing]] = {name: [] for name in commands}
        for _ in range(args.repeat):
            direct.append(_direct(n, project, env))
            for name, command in commands.items():
                samples[name].append(_time(command, project, env))
    print(f"{'measure':56} {'wall':>9} {'CPU':>9}")
    rows = _figures(n, direct, samples)
    for name, (wall, cpu) in rows.items():
        print(f"{name:56} {wall * 1000:7.0f}ms {cpu * 1000:7.0f}ms")


def _figures(n: int, direct: list[Timing], samples: dict[str, list[Timing]]) -> dict[str, Timing]:
    def figure(which: int) -> dict[str, float]:
        per_direct = _median(direct, which) / n
        sweep_n = _median(samples[f"sweep of {n} trials, --parallel 1"], which)
        sweep_1 = _median(samples["sweep of 1 trial"], which)
        sweep_p2 = _median(samples[f"sweep of {n} trials, --parallel 2"], which)
        return {
            "entry point run directly, per run": per_direct,
            f"sweep of {n} trials, --parallel 1": sweep_n,
            "sweep of 1 trial": sweep_1,
            f"sweep of {n} trials, --parallel 2": sweep_p2,
            "overhead per trial (--parallel 1)": sweep_n / n - per_direct,
            "marginal cost per trial beyond the entry point": (sweep_n - sweep_1) / (n - 1)
            - per_direct,
            "fixed cost of a sweep (1 trial, minus the entry point)": sweep_1 - per_direct,
            "time per trial, --parallel 2": sweep_p2 / n,
        }

    wall, cpu = figure(0), figure(1)
    return {name: (wall[name], cpu[name]) for name in wall}


if __name__ == "__main__":
    main()
