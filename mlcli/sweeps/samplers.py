"""Samplers choose each trial's parameters: ``grid``, ``random`` and ``optuna``.

A sampler is asked for the next trial while the scheduler has a free slot, and told
each finished trial's objective value (None for a failed trial or a missing metric).
``grid`` and ``random`` know every trial in advance (so that ``--dry-run`` shows them
and a seed fixes them, however many run at once); ``optuna`` chooses each from the
results so far. The Optuna sampler lives in its own module, imported only when
chosen, like the environment managers.
"""

from __future__ import annotations

import itertools
import math
import random
from abc import ABC, abstractmethod
from dataclasses import dataclass
from importlib import import_module
from typing import ClassVar

from mlcli.errors import InvalidInputError
from mlcli.sweeps.domains import Categorical
from mlcli.sweeps.objective import Objective
from mlcli.sweeps.spec import SweepSpec

#: name -> "module:class"
SAMPLERS: dict[str, str] = {
    "grid": "mlcli.sweeps.samplers:GridSampler",
    "random": "mlcli.sweeps.samplers:RandomSampler",
    "optuna": "mlcli.sweeps.optuna_sampler:OptunaSampler",
}

#: More trials than this is surely a mistake (a grid of many long lists).
MAX_TRIALS = 100_000


@dataclass(frozen=True)
class Trial:
    """One trial: its number (from 1) and every parameter passed to the entry point."""

    number: int
    params: dict[str, str]


class Sampler(ABC):
    name: ClassVar[str]
    #: Whether ``--seed`` means something to it.
    seeded: ClassVar[bool] = True

    def __init__(
        self, spec: SweepSpec, *, trials: int | None, seed: int | None, objective: Objective | None
    ) -> None:
        self.spec = spec
        self.seed = seed
        self.objective = objective

    @property
    @abstractmethod
    def total(self) -> int:
        """How many trials the sweep runs."""

    def planned(self) -> list[Trial] | None:
        """Every trial, when they are known before any has run."""
        return None

    @abstractmethod
    def ask(self) -> Trial | None:
        """The next trial, or None when every trial has been asked for."""

    def tell(self, trial: Trial, value: float | None) -> None:  # noqa: B027 - optional hook
        """The objective value ``trial`` reached (None: it failed or has no value)."""


class _PlannedSampler(Sampler):
    """A sampler whose trials are all chosen up front."""

    _trials: list[Trial]
    _asked: int = 0

    @property
    def total(self) -> int:
        return len(self._trials)

    def planned(self) -> list[Trial]:
        return list(self._trials)

    def ask(self) -> Trial | None:
        if self._asked >= len(self._trials):
            return None
        self._asked += 1
        return self._trials[self._asked - 1]


class GridSampler(_PlannedSampler):
    """Every combination of the listed values, the last parameter varying fastest."""

    name = "grid"
    seeded = False

    def __init__(
        self, spec: SweepSpec, *, trials: int | None, seed: int | None, objective: Objective | None
    ) -> None:
        super().__init__(spec, trials=trials, seed=seed, objective=objective)
        swept = spec.swept
        for name, domain in swept.items():
            if not isinstance(domain, Categorical):
                raise InvalidInputError(
                    f"a grid sweep takes lists of values, and -P {name}={domain.expression} "
                    "is a distribution: use --sweep random or --sweep optuna"
                )
        axes = [domain.values for domain in swept.values() if isinstance(domain, Categorical)]
        size = math.prod(len(axis) for axis in axes)
        if trials is not None:
            raise InvalidInputError(
                f"--trials is for random and optuna sweeps; a grid runs every combination "
                f"({size} here): drop --trials, or add --sweep random to sample {trials}"
            )
        _check_count(size, "the grid")
        self._trials = [
            Trial(number, spec.trial(dict(zip(swept, values, strict=True))))
            for number, values in enumerate(itertools.product(*axes), start=1)
        ]


class RandomSampler(_PlannedSampler):
    """``trials`` draws, each parameter from its distribution (a list: one of its
    values, equally likely), from a generator seeded with ``seed``."""

    name = "random"

    def __init__(
        self, spec: SweepSpec, *, trials: int | None, seed: int | None, objective: Objective | None
    ) -> None:
        super().__init__(spec, trials=trials, seed=seed, objective=objective)
        count = required_trials(trials, self.name)
        rng = random.Random(seed)
        swept = spec.swept
        self._trials = [
            Trial(number, spec.trial({n: d.sample(rng) for n, d in swept.items()}))
            for number in range(1, count + 1)
        ]


def required_trials(trials: int | None, sampler: str) -> int:
    """``--trials``, which a random or optuna sweep needs."""
    if trials is None:
        article = "an" if sampler[:1] in "aeiou" else "a"
        raise InvalidInputError(
            f"{article} {sampler} sweep needs --trials N (how many trials to run)"
        )
    _check_count(trials, "--trials")
    return trials


def sampler_class(name: str) -> type[Sampler]:
    """The sampler called ``name``; InvalidInputError listing the valid names."""
    target = SAMPLERS.get(name)
    if target is None:
        raise InvalidInputError(f"unknown sweep sampler {name!r} (valid: {', '.join(SAMPLERS)})")
    module_name, _, class_name = target.partition(":")
    found: type[Sampler] = getattr(import_module(module_name), class_name)
    return found


def _check_count(count: int, what: str) -> None:
    if count < 1:
        raise InvalidInputError(f"{what}: at least 1 trial, not {count}")
    if count > MAX_TRIALS:
        raise InvalidInputError(f"{what}: {count} trials is more than {MAX_TRIALS}")
