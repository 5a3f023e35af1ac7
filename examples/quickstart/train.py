"""Fit y = w * x + b to data/points.csv by gradient descent, logging to the run.

Standard library and mlcli only. Started by `mlcli run`, `mlcli.start_run()`
attaches to the run it created (MLCLI_RUN_ID), so the parameters `mlcli run`
logged and the metrics logged here land in the same run.
"""

from __future__ import annotations

import argparse
import csv

import mlcli

DIVERGED = 1e6  # above 0.15 the learning rate overshoots on this data


def load(path: str) -> tuple[list[float], list[float]]:
    with open(path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    return [float(r["x"]) for r in rows], [float(r["y"]) for r in rows]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--alpha", type=float, default=0.05, help="learning rate")
    parser.add_argument("--epochs", type=int, default=200)
    parser.add_argument("--data", default="data/points.csv")
    parser.add_argument("--label", default="baseline")
    args = parser.parse_args()

    xs, ys = load(args.data)
    n = len(xs)
    w = b = 0.0
    with mlcli.start_run():
        mlcli.set_tag("label", args.label)
        for epoch in range(args.epochs):
            errors = [w * x + b - y for x, y in zip(xs, ys, strict=True)]
            loss = sum(e * e for e in errors) / n
            w -= args.alpha * 2 * sum(e * x for e, x in zip(errors, xs, strict=True)) / n
            b -= args.alpha * 2 * sum(errors) / n
            mlcli.log_metric("loss", loss, step=epoch)
            if loss > DIVERGED:
                raise SystemExit(f"diverged at epoch {epoch} (loss {loss:.3g}): lower --alpha")
        mlcli.log_metric("final_loss", loss)
        mlcli.log_dict({"w": w, "b": b}, "model/weights.json")
    print(f"{args.label}: w={w:.3f} b={b:.3f} loss={loss:.4f} after {args.epochs} epochs")


if __name__ == "__main__":
    main()
