"""Serving latency per flavor: `mlcli serve` next to `mlflow models serve --env-manager
local` on the same model, 1-row requests.

Run: python3 benchmarks/flavor_serving.py [--duration 3] [--rounds 3] [--flavors sklearn,onnx]

For each flavor a small model is trained on iris and saved once with mlcli (which MLflow
loads: the MLmodel is MLflow's): sklearn (StandardScaler + LogisticRegression), onnx
(that pipeline converted by `mlcli models convert`), and, when mlcli has the flavor
(`mlcli.<flavor>`), xgboost and lightgbm (classifiers), pytorch (a 4-16-3 MLP) and
keras (the same MLP, on keras' torch backend). Both servers run at once, one worker
each, on 127.0.0.1; first their answers to the same body are compared, then
`--rounds` measurements of `--duration` seconds alternate between them at concurrency
1 over a keep-alive connection (the load generator of serving_latency.py: wrk when
installed, else Python asyncio); medians of req/s and p50.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from serving_latency import (
    free_port,
    measure_body,
    one_request,
    request_bytes,
    stop,
    wait_serving,
)

os.environ.setdefault("KERAS_BACKEND", "torch")  # keras 3 without TensorFlow; servers inherit
FLAVORS = ("sklearn", "onnx", "xgboost", "lightgbm", "pytorch", "keras")


# -- the models: each saved to ``path``; returns the 1-row request body ---------------------------


def _iris() -> tuple[Any, Any]:
    from sklearn.datasets import load_iris

    features, target = load_iris(return_X_y=True, as_frame=True)
    return features, target


def _split_body(features: Any) -> bytes:
    row = features.head(1)
    split = {"columns": list(row.columns), "data": row.values.tolist()}
    return json.dumps({"dataframe_split": split}).encode()


def _inputs_body(features: Any) -> bytes:
    return json.dumps({"inputs": features.head(1).values.tolist()}).encode()


def save_sklearn(path: Path) -> bytes:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    import mlcli.sklearn

    features, target = _iris()
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)).fit(features, target)
    mlcli.sklearn.save_model(model, path, input_example=features.head(2))
    return _split_body(features)


def save_onnx(path: Path) -> bytes:
    from mlcli.models.convert import convert_model

    source = path.with_name("onnx-source")
    save_sklearn(source)
    convert_model(str(source), "onnx", output=path)
    return _inputs_body(_iris()[0])


def save_xgboost(path: Path) -> bytes:
    import xgboost

    import mlcli.xgboost

    features, target = _iris()
    model = xgboost.XGBClassifier(n_estimators=20, max_depth=3).fit(features, target)
    mlcli.xgboost.save_model(model, path, input_example=features.head(2))
    return _split_body(features)


def save_lightgbm(path: Path) -> bytes:
    import lightgbm

    import mlcli.lightgbm

    features, target = _iris()
    model = lightgbm.LGBMClassifier(n_estimators=20, verbose=-1).fit(features, target)
    mlcli.lightgbm.save_model(model, path, input_example=features.head(2))
    return _split_body(features)


def save_pytorch(path: Path) -> bytes:
    import torch

    import mlcli.pytorch

    features, _ = _iris()
    torch.manual_seed(0)
    module = torch.nn.Sequential(torch.nn.Linear(4, 16), torch.nn.ReLU(), torch.nn.Linear(16, 3))
    example = features.head(2).to_numpy(dtype="float32")
    mlcli.pytorch.save_model(module.eval(), path, input_example=example)
    return _inputs_body(features)


def save_keras(path: Path) -> bytes:
    import keras

    import mlcli.keras

    features, _ = _iris()
    model = keras.Sequential(
        [keras.Input((4,)), keras.layers.Dense(16, activation="relu"), keras.layers.Dense(3)]
    )
    mlcli.keras.save_model(model, path, input_example=features.head(2).to_numpy(dtype="float32"))
    return _inputs_body(features)


SAVERS: dict[str, Callable[[Path], bytes]] = {
    "sklearn": save_sklearn,
    "onnx": save_onnx,
    "xgboost": save_xgboost,
    "lightgbm": save_lightgbm,
    "pytorch": save_pytorch,
    "keras": save_keras,
}


def available(flavor: str) -> bool:
    """Whether mlcli has the flavor (``mlcli.<flavor>``; other work adds them)."""
    module = "mlcli.models.convert" if flavor == "onnx" else f"mlcli.{flavor}"
    return importlib.util.find_spec(module) is not None


# -- the servers -----------------------------------------------------------------------------------


def start_both(
    model: Path, body: bytes, tmp: Path
) -> dict[str, tuple[subprocess.Popen[bytes], int]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLCLI_STORE", "MLFLOW_"))}
    env["MLFLOW_TRACKING_URI"] = (tmp / "mlflow-store").as_uri()
    env["PYTHONWARNINGS"] = "ignore"
    commands = {
        "mlcli": [sys.executable, "-m", "mlcli", "serve", "-m", str(model), "--port"],
        "mlflow": [
            sys.executable, "-m", "mlflow", "models", "serve", "-m", str(model),
            "--env-manager", "local", "-h", "127.0.0.1", "-w", "1", "-p",
        ],
    }  # fmt: skip
    servers: dict[str, tuple[subprocess.Popen[bytes], int]] = {}
    try:
        for kind, argv in commands.items():
            port = free_port()
            log = tmp / f"{model.name}-{kind}.log"
            process = subprocess.Popen(
                [*argv, str(port)], env=env, stdout=subprocess.DEVNULL, stderr=log.open("ab")
            )
            servers[kind] = (process, port)
            wait_serving(process, port, body, f"{kind} did not serve {model}; see {log}", 240)
    except BaseException:
        for process, _ in servers.values():
            stop(process)
        raise
    return servers


def answer(port: int, body: bytes) -> Any:
    import asyncio

    status, payload = asyncio.run(one_request(port, request_bytes(port, body)))
    return status, json.loads(payload)


def close(a: Any, b: Any) -> bool:
    """The same answer, numbers equal to float32's precision."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(close(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(close(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float | int) and isinstance(b, float | int):
        return abs(a - b) <= 1e-5 * max(1.0, abs(a), abs(b))
    return bool(a == b)


def bench(flavor: str, args: Any, tmp: Path) -> dict[str, Any]:
    model = tmp / flavor
    body = SAVERS[flavor](model)
    servers = start_both(model, body, tmp)
    try:
        answers = {kind: answer(port, body) for kind, (_, port) in servers.items()}
        runs: dict[str, list[dict[str, Any]]] = {kind: [] for kind in servers}
        for _ in range(args.rounds):
            for kind, (_, port) in servers.items():
                runs[kind].append(measure_body(port, body, 1, args.duration, tmp))
    finally:
        for process, _ in servers.values():
            stop(process)
    assert all(r["errors"] == 0 for found in runs.values() for r in found), runs
    return {
        "same": close(answers["mlcli"], answers["mlflow"]),
        **{
            kind: {k: statistics.median(r[k] for r in found) for k in ("rps", "p50")}
            for kind, found in runs.items()
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=3.0, help="seconds per measurement")
    parser.add_argument("--rounds", type=int, default=3, help="measurements per server (median)")
    parser.add_argument("--flavors", default=",".join(FLAVORS), help="comma-separated")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="mlcli-bench-flavors-"))
    generator = "wrk" if shutil.which("wrk") else "python asyncio"
    print(
        f"load generator: {generator}; 1-row requests, concurrency 1, 1 worker each; median "
        f"of {args.rounds} x {args.duration:g} s, alternating; {os.cpu_count()} CPUs"
    )
    print()
    print(
        "| flavor | mlcli req/s | mlflow req/s | mlcli/mlflow | mlcli p50 | mlflow p50 | "
        "same answer |"
    )
    print("|---|---|---|---|---|---|---|")
    try:
        for flavor in args.flavors.split(","):
            if not available(flavor):
                print(f"| {flavor} | (mlcli.{flavor} is not there yet) | | | | | |", flush=True)
                continue
            started = time.monotonic()
            try:
                found = bench(flavor, args, tmp)
            except (ImportError, SystemExit) as exc:  # a missing package, a server that failed
                print(f"| {flavor} | skipped: {exc} | | | | | |", flush=True)
                continue
            ours, theirs = found["mlcli"], found["mlflow"]
            print(
                f"| {flavor} | {ours['rps']:,.0f} | {theirs['rps']:,.0f} | "
                f"{ours['rps'] / theirs['rps']:.2f}x | {ours['p50']:.2f} ms | "
                f"{theirs['p50']:.2f} ms | {'yes' if found['same'] else 'NO'} |",
                flush=True,
            )
            print(f"  ({flavor}: {time.monotonic() - started:.0f} s)", file=sys.stderr)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
