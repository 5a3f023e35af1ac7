"""What a sweep ranks its trials by: one metric, to be minimised or maximised."""

from __future__ import annotations

import math
from dataclasses import dataclass

from mlcli.errors import InvalidInputError
from mlcli.search.direction import lower_is_better
from mlcli.store import Run
from mlcli.sweeps.tags import DIRECTION_TAG, OBJECTIVE_TAG

DIRECTIONS = ("minimize", "maximize")
_OTHER_PREFIXES = ("params", "param", "parameters", "tags", "tag", "attributes", "attribute")


@dataclass(frozen=True)
class Objective:
    metric: str
    maximize: bool

    @property
    def direction(self) -> str:
        return "maximize" if self.maximize else "minimize"

    @property
    def best_metric(self) -> str:
        """The parent run's metric holding the best trial's value."""
        return f"best_{self.metric}"

    def value(self, run: Run) -> float | None:
        """The run's latest value of the metric; None when missing or NaN."""
        metric = run.data.latest_metrics.get(self.metric)
        if metric is None or math.isnan(metric.value):
            return None
        return metric.value


def parse_objective(text: str | None, direction: str | None) -> Objective | None:
    """``--objective metrics.KEY`` (or ``KEY``) and ``--direction``; without a
    direction, lower is better for names like ``loss`` or ``rmse`` (as in ``mlcli
    compare``), higher otherwise."""
    if text is None:
        if direction is not None:
            raise InvalidInputError("--direction needs --objective metrics.KEY")
        return None
    prefix, dot, rest = text.partition(".")
    if dot and prefix.lower() in _OTHER_PREFIXES:
        raise InvalidInputError(f"--objective takes a metric, metrics.KEY, not {text!r}")
    metric = rest if dot and prefix.lower() in ("metrics", "metric") else text
    if not metric.strip():
        raise InvalidInputError(f"--objective takes a metric, metrics.KEY, not {text!r}")
    if direction is None:
        return Objective(metric, maximize=not lower_is_better(metric))
    if direction.lower() not in DIRECTIONS:
        raise InvalidInputError(f"--direction is minimize or maximize, not {direction!r}")
    return Objective(metric, maximize=direction.lower() == "maximize")


def objective_of(run: Run) -> Objective | None:
    """The objective a sweep's parent run recorded, if any."""
    metric = run.data.tags.get(OBJECTIVE_TAG)
    if not metric:
        return None
    return Objective(metric, run.data.tags.get(DIRECTION_TAG) == "maximize")
