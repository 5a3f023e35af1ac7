"""Autologging's cost on the fit of a small model, per flavor: mlcli's against MLflow's.

Run: python3 benchmarks/autolog_overhead.py [--repeat N] [--flavors sklearn xgboost ...]

For each flavor the same training is timed three ways: plain, with
``mlcli.<flavor>.autolog()`` and with ``mlflow.<flavor>.autolog()`` (the installed
``mlflow``, its default SQLite store). Each measurement is a fresh process with a store of its
own in a temporary folder: it trains once to load everything (with its autolog on),
waits for that logging to end, then times one training. With mlcli the model is
written on a background thread after ``fit`` returns, so the time until that logging
is done (``mlcli.flush()``) is reported beside the fit's; MLflow's is 0 when it logs
everything before ``fit`` returns. The three ways are interleaved N times (a shared
machine's noise hits all alike); medians. Overhead: median fit time with autolog over
the plain one, minus 1, in wall time and in the CPU time of the process (all its
threads) while ``fit`` runs, which a loaded machine disturbs less. Target (issue 23):
under 5% for mlcli.

Cases (5,000 rows x 20 features, a binary target):
- sklearn: ``RandomForestClassifier(n_estimators=50)`` (the figure of the last turn);
- xgboost: ``xgboost.train``, 200 rounds, depth 6, evaluated on a validation set;
- lightgbm: ``lightgbm.train``, 200 rounds, evaluated on a validation set (both on
  one thread: OpenMP's threads waiting for each other on a loaded machine made
  single figures vary tenfold);
- keras: a Dense(64)-Dense(1) network, 5 epochs of batch 64, 20% held for validation
  (``KERAS_BACKEND`` defaults to torch here).

A flavor runs only when its library is installed and ``mlcli.<flavor>`` has
``autolog``; a measurement that fails is reported with its last line of stderr.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

FLAVORS = ("sklearn", "xgboost", "lightgbm", "keras")
MODES = ("plain", "mlcli", "mlflow")
ROWS, FEATURES = 5_000, 20


# -- the child: one measurement ------------------------------------------------------------


def _data() -> tuple[Any, Any, Any, Any]:
    from sklearn.datasets import make_classification

    X, y = make_classification(n_samples=ROWS + 1_000, n_features=FEATURES, random_state=0)
    return X[:ROWS], y[:ROWS], X[ROWS:], y[ROWS:]


def _training(flavor: str) -> Callable[[], Any]:
    """A function doing one training of the flavor's small model (what is timed)."""
    X, y, X_valid, y_valid = _data()
    if flavor == "sklearn":
        from sklearn.ensemble import RandomForestClassifier

        return lambda: RandomForestClassifier(n_estimators=50, random_state=0).fit(X, y)
    if flavor == "xgboost":
        import xgboost

        params = {
            "objective": "binary:logistic",
            "max_depth": 6,
            "eval_metric": "logloss",
            "nthread": 1,
        }

        def xgboost_train() -> Any:
            train, valid = xgboost.DMatrix(X, y), xgboost.DMatrix(X_valid, y_valid)
            return xgboost.train(params, train, 200, evals=[(valid, "validation")])

        return xgboost_train
    if flavor == "lightgbm":
        import lightgbm

        def lightgbm_train() -> Any:
            train = lightgbm.Dataset(X, y)
            valid = lightgbm.Dataset(X_valid, y_valid, reference=train)
            params = {"objective": "binary", "verbose": -1, "num_threads": 1}
            return lightgbm.train(params, train, 200, valid_sets=[valid])

        return lightgbm_train
    if flavor == "keras":
        return _keras_training(X, y)
    raise SystemExit(f"unknown flavor {flavor!r}")


def _keras_training(X: Any, y: Any) -> Callable[[], Any]:
    os.environ.setdefault("KERAS_BACKEND", "torch")
    import keras

    def build() -> Any:
        model = keras.Sequential(
            [
                keras.Input((FEATURES,)),
                keras.layers.Dense(64, activation="relu"),
                keras.layers.Dense(1, activation="sigmoid"),
            ]
        )
        model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
        return model

    models = [build(), build()]  # built before timing: the fit is what is measured

    def keras_fit() -> Any:
        model = models.pop()
        return model.fit(X, y, epochs=5, batch_size=64, validation_split=0.2, verbose=0)

    return keras_fit


def _autolog(flavor: str, mode: str, folder: Path) -> Callable[[], None]:
    """Turn ``mode``'s autologging on; a function waiting for its logging to end."""
    if mode == "mlcli":
        os.environ["MLCLI_STORE"] = str(folder / ".mlruns")
        os.environ.pop("MLCLI_RUN_ID", None)
        import mlcli

        importlib.import_module(f"mlcli.{flavor}").autolog()
        return mlcli.flush
    if mode == "mlflow":
        os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
        import mlflow

        mlflow.set_tracking_uri(f"sqlite:///{folder / 'mlflow.db'}")  # its default backend
        importlib.import_module(f"mlflow.{flavor}").autolog()
        return mlflow.flush_async_logging
    return lambda: None


def child(flavor: str, mode: str, folder: Path) -> dict[str, float]:
    train = _training(flavor)
    wait = _autolog(flavor, mode, folder)
    train()  # imports, caches, the store's creation
    wait()
    started, cpu = time.perf_counter(), time.process_time()
    train()
    fitted, cpu = time.perf_counter(), time.process_time() - cpu
    wait()
    return {"fit": fitted - started, "cpu": cpu, "after": time.perf_counter() - fitted}


# -- the parent: interleaved measurements ----------------------------------------------------


def available(flavor: str) -> str | None:
    """Why ``flavor`` cannot be measured, or None."""
    if importlib.util.find_spec(flavor) is None:
        return f"{flavor} is not installed"
    try:
        module = importlib.import_module(f"mlcli.{flavor}")
    except ImportError:
        return f"mlcli.{flavor} does not exist"
    if not hasattr(module, "autolog"):
        return f"mlcli.{flavor} has no autolog"
    return None


def measure(flavor: str, mode: str, root: Path, index: int) -> dict[str, float] | str:
    folder = root / f"{flavor}-{mode}-{index}"
    folder.mkdir()
    command = [sys.executable, __file__, "--child", flavor, mode, str(folder)]
    result = subprocess.run(command, capture_output=True, text=True, cwd=folder)
    if result.returncode != 0:
        lines = result.stderr.strip().splitlines() or ["no message"]
        return f"failed: {lines[-1]}"
    return json.loads(result.stdout.strip().splitlines()[-1])


def flavor_rows(flavor: str, repeat: int, root: Path) -> dict[str, dict[str, float] | str]:
    times: dict[str, list[dict[str, float]]] = {mode: [] for mode in MODES}
    failures: dict[str, str] = {}
    for index in range(repeat):
        order = MODES[index % 3 :] + MODES[: index % 3]
        for mode in order:
            if mode in failures:
                continue
            measured = measure(flavor, mode, root, index)
            if isinstance(measured, str):
                failures[mode] = measured
            else:
                times[mode].append(measured)
    rows: dict[str, dict[str, float] | str] = dict(failures)
    for mode, points in times.items():
        if mode not in failures and points:
            rows[mode] = {key: statistics.median(p[key] for p in points) for key in points[0]}
    return rows


def report(flavor: str, rows: dict[str, dict[str, float] | str]) -> None:
    plain = rows.get("plain")
    for mode in MODES:
        row = rows.get(mode)
        if isinstance(row, str) or row is None:
            print(f"{flavor:9} {mode:7} {row or 'not measured'}")
            continue
        overhead = ""
        if isinstance(plain, dict) and mode != "plain":
            wall, cpu = row["fit"] / plain["fit"] - 1, row["cpu"] / plain["cpu"] - 1
            overhead = f"{wall:+8.1%} {cpu:+8.1%}"
        after = f"{row['after'] * 1000:8.0f} ms" if mode != "plain" else " " * 11
        print(
            f"{flavor:9} {mode:7} {row['fit'] * 1000:8.0f} ms {row['cpu'] * 1000:8.0f} ms "
            f"{after}  {overhead}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--flavors", nargs="+", default=list(FLAVORS), choices=FLAVORS)
    parser.add_argument("--child", nargs=3, metavar=("FLAVOR", "MODE", "FOLDER"))
    args = parser.parse_args()
    if args.child:
        flavor, mode, folder = args.child
        print(json.dumps(child(flavor, mode, Path(folder))))
        return
    print(
        f"{'flavor':9} {'mode':7} {'fit (wall)':>11} {'fit (CPU)':>11} {'then wait':>11}  "
        f"{'overhead':>8} {'(CPU)':>8}"
    )
    with tempfile.TemporaryDirectory() as directory:
        for flavor in args.flavors:
            missing = available(flavor)
            if missing is not None:
                print(f"{flavor:9} skipped: {missing}")
                continue
            report(flavor, flavor_rows(flavor, args.repeat, Path(directory)))


if __name__ == "__main__":
    main()
