"""Zero-code capture overhead: scikit-learn autologging on ``fit``, and the system-metrics
sampler beside a busy process.

Run: python3 benchmarks/capture_overhead.py [--repeat N]

Autologging: each model is fitted (5,000 rows x 20 features) N times without and with
``mlcli.sklearn.autolog()`` (interleaved, so that machine noise hits both alike), in a
fresh store; the overhead is the difference of medians: with the model logged in skops
(the default), in cloudpickle, and not logged (``log_models=False``). The "small
model" is the forest, trained in about a second; the pipeline's tiny fit shows the
fixed cost.

Sampler: a child process spins through a fixed amount of work (about 2 s of one
core); its wall time is measured alone, and with ``mlcli run``'s sampler reading its
process tree every 10 s (the default), every 1 s and every 0.1 s. The sampler's own
CPU per sample is reported as well. Target: under 5% each.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

SPIN = "n = 0\nfor i in range({count}):\n    n += i * i\n"


def _median_pair(
    plain: Callable[[], Any], logged: Callable[[], Any], repeat: int
) -> tuple[float, float]:
    times: dict[str, list[float]] = {"plain": [], "logged": []}
    for _ in range(repeat):
        for name, action in (("plain", plain), ("logged", logged)):
            started = time.perf_counter()
            action()
            times[name].append(time.perf_counter() - started)
    return statistics.median(times["plain"]), statistics.median(times["logged"])


def autolog_rows(repeat: int) -> list[tuple[str, float, float, float]]:
    from sklearn.datasets import make_classification
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    import mlcli.sklearn

    X, y = make_classification(n_samples=5_000, n_features=20, random_state=0)
    models: dict[str, Callable[[], Any]] = {
        "Pipeline(StandardScaler, LogisticRegression)": lambda: Pipeline(
            [("s", StandardScaler()), ("c", LogisticRegression())]
        ).fit(X, y),
        "RandomForestClassifier(50 trees)": lambda: RandomForestClassifier(
            n_estimators=50, random_state=0
        ).fit(X, y),
        "RandomForestClassifier(50 trees, max_depth=8)": lambda: RandomForestClassifier(
            n_estimators=50, max_depth=8, random_state=0
        ).fit(X, y),
    }
    variants = {
        "": {},
        ", cloudpickle": {"serialization_format": "cloudpickle"},
        ", log_models=False": {"log_models": False},
    }
    rows = []
    for suffix, options in variants.items():
        for name, fit in models.items():

            def logged(fit: Callable[[], Any] = fit, options: dict[str, Any] = options) -> None:
                mlcli.sklearn.autolog(**options)
                try:
                    fit()
                finally:
                    mlcli.sklearn.autolog(disable=True)

            fit()  # warm caches and imports
            logged()
            plain, with_autolog = _median_pair(fit, logged, repeat)
            rows.append((name + suffix, plain, with_autolog, (with_autolog - plain) / plain))
    return rows


def _spin_time(count: int, interval: float | None) -> tuple[float, int, float]:
    """Wall time of the spinning child; samples taken; sampler CPU seconds."""
    from mlcli.capture.process_tree import open_tree
    from mlcli.capture.system_metrics import SystemMetricsSampler

    logged: list[Any] = []
    started = time.perf_counter()
    child = subprocess.Popen(
        [sys.executable, "-c", SPIN.format(count=count)], start_new_session=True
    )
    sampler = None
    cpu_before = time.thread_time()
    if interval is not None:
        tree = open_tree(child.pid)
        assert tree is not None
        sampler = SystemMetricsSampler(tree, logged.extend, interval).start()
    child.wait()
    samples = sampler.stop(final_sample=False) if sampler is not None else 0
    wall = time.perf_counter() - started
    return wall, samples, time.thread_time() - cpu_before


def sampler_rows(repeat: int) -> list[tuple[str, float, float, float]]:
    # Calibrate about 2 s of work (the median of three tries: the machine is shared).
    count = 2_000_000
    while _spin_time(count, None)[0] < 0.5:
        count *= 2
    measured = statistics.median(_spin_time(count, None)[0] for _ in range(3))
    count = int(count * 2.0 / measured)
    rows = []
    for interval in (10.0, 1.0, 0.1):
        plain_times, sampled_times = [], []
        for _ in range(repeat):
            plain_times.append(_spin_time(count, None)[0])
            sampled_times.append(_spin_time(count, interval)[0])
        plain, sampled = statistics.median(plain_times), statistics.median(sampled_times)
        rows.append((f"busy loop (~2 s), sampled every {interval:g} s", plain, sampled,
                     (sampled - plain) / plain))  # fmt: skip
    return rows


def sample_cost() -> tuple[float, int]:
    """CPU seconds of one tree reading of this process, and the processes on the machine."""
    from mlcli.capture.process_tree import open_tree

    tree = open_tree(os.getpid())
    assert tree is not None
    started = time.process_time()
    for _ in range(100):
        tree.read()
    processes = sum(1 for name in os.listdir("/proc") if name.isdigit())
    return (time.process_time() - started) / 100, processes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        os.environ["MLCLI_STORE"] = str(Path(directory) / ".mlruns")
        os.environ.pop("MLCLI_RUN_ID", None)
        autolog = autolog_rows(args.repeat)
    print(f"{'autologging: fit of':62} {'plain':>9} {'autolog':>9} {'overhead':>9}")
    for name, plain, logged, ratio in autolog:
        print(f"{name:62} {plain * 1000:7.0f}ms {logged * 1000:7.0f}ms {ratio:8.1%}"
              f"  (+{(logged - plain) * 1000:.0f} ms)")  # fmt: skip
    print()
    print(f"{'system metrics':62} {'plain':>9} {'sampled':>9} {'overhead':>9}")
    for name, plain, sampled, ratio in sampler_rows(max(3, args.repeat // 2)):
        print(f"{name:62} {plain:8.2f}s {sampled:8.2f}s {ratio:8.1%}")
    if Path("/proc/self/stat").exists():
        cost, processes = sample_cost()
        print(f"one sample reads /proc in {cost * 1000:.2f} ms of CPU ({processes} processes)")


if __name__ == "__main__":
    main()
