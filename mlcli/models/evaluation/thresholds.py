"""Validation thresholds: bounds on evaluation metrics, absolute or against a baseline.

In Python, a :class:`MetricThreshold` per metric name. On the command line, one
expression per ``--threshold``::

    accuracy>=0.9               at least 0.9
    mae<=3.5                    at most 3.5
    accuracy>=baseline          no worse than the baseline model
    accuracy>=baseline+0.01     at least 0.01 better than the baseline
    f1>=baseline+2%             at least 2% better than the baseline
    rmse<=baseline-5%           at least 5% lower than the baseline
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass

from mlcli.errors import InvalidInputError
from mlcli.models.evaluation.result import ThresholdOutcome

_EXPRESSION = re.compile(r"^\s*([\w.\-/: ]+?)\s*(>=|<=)\s*(.+?)\s*$")
_BASELINE = re.compile(r"^baseline\s*(?:([+-])\s*(\d+(?:\.\d*)?|\.\d+)\s*(%?))?$", re.IGNORECASE)


@dataclass(frozen=True)
class MetricThreshold:
    """``min``/``max`` bound the value; ``min_absolute_change`` and
    ``min_relative_change`` (0.02 for 2%) demand an improvement over the baseline, in
    the direction ``greater_is_better`` gives."""

    min: float | None = None
    max: float | None = None
    min_absolute_change: float | None = None
    min_relative_change: float | None = None
    greater_is_better: bool = True

    @property
    def needs_baseline(self) -> bool:
        return self.min_absolute_change is not None or self.min_relative_change is not None


def parse_threshold(expression: str) -> tuple[str, MetricThreshold]:
    """``"accuracy>=0.9"`` as ``("accuracy", MetricThreshold(min=0.9))``."""
    match = _EXPRESSION.match(expression)
    if not match:
        raise InvalidInputError(
            f"invalid threshold {expression!r}: expected METRIC>=VALUE, METRIC<=VALUE or "
            "METRIC>=baseline[+DELTA[%]]"
        )
    metric, operator, bound = match.groups()
    greater = operator == ">="
    baseline = _BASELINE.match(bound)
    if baseline is None:
        try:
            value = float(bound)
        except ValueError:
            raise InvalidInputError(
                f"invalid threshold {expression!r}: {bound!r} is not a number or baseline[+-X]"
            ) from None
        return metric, MetricThreshold(min=value) if greater else MetricThreshold(max=value)
    sign, amount, percent = baseline.groups()
    if sign is not None and (sign == "+") != greater:
        direction = "baseline+X with >=" if greater else "baseline-X with <="
        raise InvalidInputError(f"invalid threshold {expression!r}: use {direction}")
    change = float(amount) if amount else 0.0
    if percent:
        return metric, MetricThreshold(min_relative_change=change / 100, greater_is_better=greater)
    return metric, MetricThreshold(min_absolute_change=change, greater_is_better=greater)


def check_thresholds(
    thresholds: Mapping[str, MetricThreshold],
    metrics: Mapping[str, float],
    baseline: Mapping[str, float] | None,
) -> list[ThresholdOutcome]:
    """One outcome per bound. A threshold on a metric that was not computed, or against
    a baseline that was not given, is an InvalidInputError (a usage error)."""
    outcomes = []
    for name, threshold in thresholds.items():
        if name not in metrics:
            raise InvalidInputError(
                f"threshold on unknown metric {name!r}; the metrics are: "
                + ", ".join(sorted(metrics))
            )
        if threshold.needs_baseline and (baseline is None or name not in baseline):
            raise InvalidInputError(
                f"the threshold on {name!r} compares with a baseline model; give one "
                "(baseline_model=..., or --baseline on the command line)"
            )
        outcomes += _check(name, threshold, metrics[name], baseline)
    return outcomes


def _check(
    name: str, threshold: MetricThreshold, value: float, baseline: Mapping[str, float] | None
) -> list[ThresholdOutcome]:
    shown = f"{name} = {value:.6g}"
    outcomes = []
    if threshold.min is not None:
        ok = value >= threshold.min
        relation = "is at least" if ok else "is below the minimum"
        outcomes.append(
            ThresholdOutcome(
                name, value, f">={threshold.min:g}", ok, f"{shown} {relation} {threshold.min:g}"
            )
        )
    if threshold.max is not None:
        ok = value <= threshold.max
        relation = "is at most" if ok else "is above the maximum"
        outcomes.append(
            ThresholdOutcome(
                name, value, f"<={threshold.max:g}", ok, f"{shown} {relation} {threshold.max:g}"
            )
        )
    if threshold.needs_baseline and baseline is not None:
        outcomes.append(_against_baseline(name, threshold, value, baseline[name]))
    return outcomes


def _against_baseline(
    name: str, threshold: MetricThreshold, value: float, base: float
) -> ThresholdOutcome:
    gain = value - base if threshold.greater_is_better else base - value
    word = "improvement" if threshold.greater_is_better else "reduction"
    operator, sign = (">=", "+") if threshold.greater_is_better else ("<=", "-")
    if threshold.min_relative_change is not None:
        need = threshold.min_relative_change
        relative = gain / abs(base) if base else (math.inf if gain > 0 else 0.0)
        ok = relative >= need
        reason = (
            f"{name} = {value:.6g} against the baseline's {base:.6g}: a {relative * 100:.3g}% "
            f"{word}, {'meeting' if ok else 'short of'} the required {need * 100:g}%"
        )
        return ThresholdOutcome(name, value, f"{operator}baseline{sign}{need * 100:g}%", ok, reason)
    need = threshold.min_absolute_change or 0.0
    ok = gain >= need
    bound = f"{operator}baseline" + (f"{sign}{need:g}" if need else "")
    reason = (
        f"{name} = {value:.6g} against the baseline's {base:.6g}: a {word} of {gain:.6g}, "
        f"{'meeting' if ok else 'short of'} the required {need:g}"
    )
    return ThresholdOutcome(name, value, bound, ok, reason)
