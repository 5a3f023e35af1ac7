"""What a chart draws: one series of (x, y) points per run, labelled by run name."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from mlcli.errors import NotFoundError
from mlcli.store import Metric, Run

Point = tuple[float, float]


@dataclass(frozen=True)
class Series:
    label: str
    points: tuple[Point, ...]


@dataclass(frozen=True)
class Chart:
    title: str
    x_label: str
    y_label: str
    series: tuple[Series, ...]

    def bounds(self) -> tuple[float, float, float, float]:
        """(x min, x max, y min, y max) over every point, widened when flat."""
        xs = [x for s in self.series for x, _ in s.points]
        ys = [y for s in self.series for _, y in s.points]
        x_low, x_high = _widen(min(xs, default=0.0), max(xs, default=1.0))
        y_low, y_high = _widen(min(ys, default=0.0), max(ys, default=1.0))
        return x_low, x_high, y_low, y_high


def metric_chart(metric: str, runs: Sequence[Run], histories: Sequence[list[Metric]]) -> Chart:
    """The history of ``metric`` for each run (``histories[i]`` belongs to ``runs[i]``),
    by step. Non-finite values cannot be drawn and are left out; runs without any
    point are left out; NotFoundError when no run has a point."""
    series = []
    labels = _labels(runs)
    for label, history in zip(labels, histories, strict=True):
        ordered = sorted(history, key=lambda m: (m.step, m.timestamp))
        points = tuple((float(m.step), m.value) for m in ordered if math.isfinite(m.value))
        if points:
            series.append(Series(label, points))
    if not series:
        raise NotFoundError(f"none of the {len(runs)} selected run(s) has metric {metric!r}")
    return Chart(title=metric, x_label="step", y_label=metric, series=tuple(series))


def _labels(runs: Sequence[Run]) -> list[str]:
    """Run names, with the short id added where two runs share a name."""
    names = [run.info.run_name or run.run_id[:8] for run in runs]
    return [
        f"{name} ({run.run_id[:8]})" if names.count(name) > 1 else name
        for name, run in zip(names, runs, strict=True)
    ]


def _widen(low: float, high: float) -> tuple[float, float]:
    if high > low:
        return low, high
    pad = abs(low) * 0.05 or 0.5
    return low - pad, high + pad
