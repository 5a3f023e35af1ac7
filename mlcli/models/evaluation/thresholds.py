"""Validation thresholds: bounds on evaluation metrics, absolute or against a baseline,
with MLflow's ``MetricThreshold`` and ``validate_evaluation_results``.

On the command line, one expression per ``--threshold``::

    accuracy_score>=0.9                at least 0.9
    mean_absolute_error<=3.5           at most 3.5
    accuracy_score>=baseline           no worse than the baseline model
    accuracy_score>=baseline+0.01      at least 0.01 better than the baseline
    f1_score>=baseline+2%              at least 2% better than the baseline
    root_mean_squared_error<=baseline-5%   at least 5% lower than the baseline
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from mlcli.errors import InvalidInputError
from mlcli.models.evaluation.result import ThresholdOutcome

_EXPRESSION = re.compile(r"^\s*([\w.\-/: ]+?)\s*(>=|<=)\s*(.+?)\s*$")
_BASELINE = re.compile(r"^baseline\s*(?:([+-])\s*(\d+(?:\.\d*)?|\.\d+)\s*(%?))?$", re.IGNORECASE)
_EPSILON = 1e-10  # a relative change against a baseline of 0 asks to beat it by this much


class MetricThreshold:
    """MLflow's ``MetricThreshold``. ``threshold`` bounds the value (at least it when
    ``greater_is_better``, at most it otherwise); ``min_absolute_change`` (positive)
    and ``min_relative_change`` (0 to 1, of the baseline's magnitude) demand that much
    improvement over the baseline model. ``greater_is_better`` is required."""

    def __init__(
        self,
        threshold: float | None = None,
        min_absolute_change: float | None = None,
        min_relative_change: float | None = None,
        greater_is_better: bool | None = None,
    ) -> None:
        if threshold is not None and type(threshold) not in (int, float):
            _refuse("`threshold` parameter must be a number.")
        if min_absolute_change is not None and (
            type(min_absolute_change) not in (int, float) or min_absolute_change <= 0
        ):
            _refuse("`min_absolute_change` parameter must be a positive number.")
        if min_relative_change is not None:
            if not isinstance(min_relative_change, float):
                _refuse("`min_relative_change` parameter must be a floating point number.")
            if not 0 <= min_relative_change <= 1:
                _refuse("`min_relative_change` parameter must be between 0 and 1.")
        if greater_is_better is None:
            _refuse("`greater_is_better` parameter must be defined.")
        if not isinstance(greater_is_better, bool):
            _refuse("`greater_is_better` parameter must be a boolean.")
        if threshold is None and min_absolute_change is None and min_relative_change is None:
            _refuse("no threshold was specified.")
        self._set(threshold, min_absolute_change, min_relative_change, bool(greater_is_better))

    @classmethod
    def _unchecked(
        cls,
        threshold: float | None = None,
        min_absolute_change: float | None = None,
        min_relative_change: float | None = None,
        greater_is_better: bool = True,
    ) -> MetricThreshold:
        """A bound MLflow's constructor refuses but the command line can write: no worse
        than the baseline (a change of 0), or a relative change above 100%."""
        made = cls.__new__(cls)
        made._set(threshold, min_absolute_change, min_relative_change, greater_is_better)
        return made

    def _set(
        self,
        threshold: float | None,
        min_absolute_change: float | None,
        min_relative_change: float | None,
        greater_is_better: bool,
    ) -> None:
        self._threshold = threshold
        self._min_absolute_change = min_absolute_change
        self._min_relative_change = min_relative_change
        self._greater_is_better = greater_is_better

    @property
    def threshold(self) -> float | None:
        return self._threshold

    @property
    def min_absolute_change(self) -> float | None:
        return self._min_absolute_change

    @property
    def min_relative_change(self) -> float | None:
        return self._min_relative_change

    @property
    def greater_is_better(self) -> bool:
        return self._greater_is_better

    @property
    def needs_baseline(self) -> bool:
        return self.min_absolute_change is not None or self.min_relative_change is not None

    def _key(self) -> tuple[Any, ...]:
        return (
            self.threshold,
            self.min_absolute_change,
            self.min_relative_change,
            self.greater_is_better,
        )

    def __eq__(self, other: object) -> bool:
        return isinstance(other, MetricThreshold) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        fields = ("threshold", "min_absolute_change", "min_relative_change")
        shown = [
            f"{name}={getattr(self, name)!r}" for name in fields if getattr(self, name) is not None
        ]
        return (
            f"MetricThreshold({', '.join([*shown, f'greater_is_better={self.greater_is_better}'])})"
        )

    def __str__(self) -> str:
        parts = []
        if self.threshold is not None:
            parts.append(f"Threshold: {self.threshold}.")
        if self.min_absolute_change is not None:
            parts.append(f"Minimum Absolute Change: {self.min_absolute_change}.")
        if self.min_relative_change is not None:
            parts.append(f"Minimum Relative Change: {self.min_relative_change}.")
        parts.append(
            "Greater value is better." if self.greater_is_better else "Lower value is better."
        )
        return " ".join(parts)

    def describe(self) -> str:
        """The bound as the command line writes it: ``>=0.9``, ``<=baseline-5%``."""
        operator, sign = (">=", "+") if self.greater_is_better else ("<=", "-")
        parts = []
        if self.threshold is not None:
            parts.append(f"{operator}{self.threshold:g}")
        if self.min_absolute_change is not None:
            change = self.min_absolute_change
            parts.append(f"{operator}baseline" + (f"{sign}{change:g}" if change else ""))
        if self.min_relative_change is not None:
            parts.append(f"{operator}baseline{sign}{self.min_relative_change * 100:g}%")
        return " and ".join(parts)


def _refuse(message: str) -> None:
    raise InvalidInputError("Could not instantiate MetricThreshold class: " + message)


def parse_threshold(expression: str) -> tuple[str, MetricThreshold]:
    """``"accuracy_score>=0.9"`` as ``("accuracy_score", MetricThreshold(threshold=0.9,
    greater_is_better=True))``."""
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
        return metric, MetricThreshold._unchecked(threshold=value, greater_is_better=greater)
    sign, amount, percent = baseline.groups()
    if sign is not None and (sign == "+") != greater:
        direction = "baseline+X with >=" if greater else "baseline-X with <="
        raise InvalidInputError(f"invalid threshold {expression!r}: use {direction}")
    change = float(amount) if amount else 0.0
    if percent:
        return metric, MetricThreshold._unchecked(
            min_relative_change=change / 100, greater_is_better=greater
        )
    return metric, MetricThreshold._unchecked(min_absolute_change=change, greater_is_better=greater)


def check_thresholds(
    thresholds: Mapping[str, MetricThreshold],
    metrics: Mapping[str, Any],
    baseline: Mapping[str, Any] | None,
) -> list[ThresholdOutcome]:
    """One outcome per metric, worded as MLflow words them. A metric missing from the
    candidate's or the baseline's metrics is a failed outcome (MLflow's rule)."""
    return [
        _check(name, threshold, metrics, baseline or {}) for name, threshold in thresholds.items()
    ]


def require_known(
    thresholds: Mapping[str, MetricThreshold],
    metrics: Mapping[str, Any],
    baseline_given: bool,
) -> None:
    """``evaluate``'s own thresholds: a threshold on a metric that was not computed, or
    against a baseline model that was not given, is a usage error, raised before
    anything is logged."""
    for name, threshold in thresholds.items():
        if name not in metrics:
            raise InvalidInputError(
                f"threshold on unknown metric {name!r}; the metrics are: "
                + ", ".join(sorted(metrics))
            )
        if threshold.needs_baseline and not baseline_given:
            raise InvalidInputError(
                f"the threshold on {name!r} compares with a baseline model; give one "
                "(baseline_model=..., or --baseline on the command line)"
            )


def validate_evaluation_results(
    validation_thresholds: dict[str, MetricThreshold],
    candidate_result: Any,
    baseline_result: Any = None,
) -> None:
    """MLflow's ``validate_evaluation_results``: check the candidate's metrics (an
    evaluation result, or a mapping of metrics) against ``validation_thresholds``, and
    against the baseline's for the bounds that compare. Raises
    :class:`~mlcli.models.ModelValidationFailedError` whose message has one line per
    failed metric, as MLflow's ``ModelValidationFailedException``."""
    from mlcli.models.errors import ModelValidationFailedError

    if not isinstance(validation_thresholds, dict) or not all(
        isinstance(k, str) and isinstance(v, MetricThreshold)
        for k, v in validation_thresholds.items()
    ):
        raise InvalidInputError(
            "The validation thresholds argument must be a dictionary that maps strings "
            "to MetricThreshold objects."
        )
    candidate = _metrics_of(candidate_result)
    baseline = _metrics_of(baseline_result) if baseline_result is not None else {}
    outcomes = check_thresholds(validation_thresholds, candidate, baseline)
    if not all(outcome.passed for outcome in outcomes):
        raise ModelValidationFailedError(candidate_result, outcomes)


def _metrics_of(result: Any) -> Mapping[str, Any]:
    if isinstance(result, Mapping):
        return result
    metrics = getattr(result, "metrics", None)
    if not isinstance(metrics, Mapping):
        raise InvalidInputError(
            f"expected an evaluation result (from evaluate), got {type(result).__name__}"
        )
    return metrics


def _check(
    name: str, threshold: MetricThreshold, metrics: Mapping[str, Any], baseline: Mapping[str, Any]
) -> ThresholdOutcome:
    bound = threshold.describe()
    if name not in metrics:
        reason = (
            f"Metric validation failed: metric {name} was missing from the evaluation result "
            "of the candidate model."
        )
        return ThresholdOutcome(name, None, bound, False, reason)
    value = metrics[name]
    better = (lambda a, b: a >= b) if threshold.greater_is_better else (lambda a, b: a <= b)
    step = (lambda a, b: a + b) if threshold.greater_is_better else (lambda a, b: a - b)
    failures = []
    if threshold.threshold is not None and not better(value, threshold.threshold):
        failures.append(
            f"Metric {name} value threshold check failed: candidate model {name} = {value}, "
            f"{name} threshold = {threshold.threshold}."
        )
    if threshold.needs_baseline and name not in baseline:
        failures.append(
            f"Model comparison failed: metric {name} was missing from the evaluation result "
            "of the baseline model."
        )
    elif threshold.needs_baseline:
        base = baseline[name]
        against = f"candidate model {name} = {value}, baseline model {name} = {base}"
        absolute = threshold.min_absolute_change
        if absolute is not None and not better(Decimal(value), Decimal(step(base, absolute))):
            failures.append(
                f"Metric {name} minimum absolute change check failed: {against}, {name} "
                f"minimum absolute change threshold = {absolute}."
            )
        relative = threshold.min_relative_change
        if relative is not None and not _relative_ok(threshold, value, base, relative, name):
            failures.append(
                f"Metric {name} minimum relative change check failed: {against}, {name} "
                f"minimum relative change threshold = {relative}."
            )
    if failures:
        return ThresholdOutcome(name, value, bound, False, " ".join(failures))
    return ThresholdOutcome(name, value, bound, True, f"Metric {name} passed the validation.")


def _relative_ok(
    threshold: MetricThreshold, value: Any, base: Any, relative: float, name: str
) -> bool:
    if base == 0:
        warnings.warn(
            f"the baseline's {name} is 0, so no relative change can be measured: the "
            "candidate passes when it is better than 0",
            stacklevel=3,
        )
        if threshold.greater_is_better:
            return Decimal(value) >= Decimal(base + _EPSILON)
        return Decimal(value) <= Decimal(base - _EPSILON)
    gain = value - base if threshold.greater_is_better else base - value
    return bool(gain / abs(base) >= relative)
