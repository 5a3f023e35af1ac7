"""What one swept parameter can take: a list of values, or a distribution.

Each domain gives its values as the strings passed to the entry point: listed values
exactly as written, sampled numbers in a short form that reads back to the number
passed (``0.00316228``: six significant digits, the value logged is the value used).
"""

from __future__ import annotations

import math
import random
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any

from mlcli.errors import InvalidInputError
from mlcli.sweeps.quoting import quote_literal

#: The distributions a ``-P`` value may name, with their arguments.
DISTRIBUTIONS = {
    "uniform": "uniform(low, high)",
    "loguniform": "loguniform(low, high)",
    "randint": "randint(low, high)",
    "choice": "choice(a, b, ...)",
}


def format_number(value: float) -> str:
    """A sampled float as passed to the entry point and logged."""
    return format(value, ".6g")


class Domain(ABC):
    """The values of one swept parameter."""

    @property
    @abstractmethod
    def expression(self) -> str:
        """The domain written as a ``-P`` value (for tags and previews)."""

    @abstractmethod
    def candidates(self) -> tuple[str, ...]:
        """Values that stand for the domain when checking it against the parameter's
        type: every value of a finite domain, the bounds of a range."""

    @abstractmethod
    def sample(self, rng: random.Random) -> str:
        """One value drawn at random."""

    @abstractmethod
    def suggest(self, trial: Any, name: str) -> str:
        """One value chosen by an Optuna trial (``optuna.trial.Trial``)."""

    @property
    def decimal(self) -> bool:
        """Whether the values are decimal numbers (no use for an int parameter)."""
        return False

    @property
    def size(self) -> int | None:
        """How many distinct values there are; None when a range of floats."""
        return None


@dataclass(frozen=True)
class Categorical(Domain):
    """A list ``[a,b,c]`` (a grid axis by default) or ``choice(a,b,c)`` (random)."""

    values: tuple[str, ...]
    listed: bool = True

    def __post_init__(self) -> None:
        if not self.values:
            raise InvalidInputError("the list is empty")
        seen: set[str] = set()
        for value in self.values:
            if value in seen:
                raise InvalidInputError(f"{value!r} is listed twice")
            seen.add(value)

    @property
    def expression(self) -> str:
        items = ",".join(_item_text(v) for v in self.values)
        return f"[{items}]" if self.listed else f"choice({items})"

    def candidates(self) -> tuple[str, ...]:
        return self.values

    def sample(self, rng: random.Random) -> str:
        return rng.choice(self.values)

    def suggest(self, trial: Any, name: str) -> str:
        return str(trial.suggest_categorical(name, list(self.values)))

    @property
    def size(self) -> int:
        return len(self.values)


@dataclass(frozen=True)
class FloatRange(Domain):
    """``uniform(low, high)``, or ``loguniform(low, high)`` when ``log``."""

    low: float
    high: float
    log: bool = False

    def __post_init__(self) -> None:
        if not self.low < self.high:
            raise InvalidInputError("low must be less than high")
        if self.log and self.low <= 0:
            raise InvalidInputError("low must be above 0 (it samples the log of the value)")

    @property
    def expression(self) -> str:
        name = "loguniform" if self.log else "uniform"
        return f"{name}({format_number(self.low)},{format_number(self.high)})"

    def candidates(self) -> tuple[str, ...]:
        return (format_number(self.low), format_number(self.high))

    def sample(self, rng: random.Random) -> str:
        if self.log:
            return format_number(math.exp(rng.uniform(math.log(self.low), math.log(self.high))))
        return format_number(rng.uniform(self.low, self.high))

    def suggest(self, trial: Any, name: str) -> str:
        return format_number(trial.suggest_float(name, self.low, self.high, log=self.log))

    @property
    def decimal(self) -> bool:
        return True


@dataclass(frozen=True)
class IntRange(Domain):
    """``randint(low, high)``: an integer from low to high, both included."""

    low: int
    high: int

    def __post_init__(self) -> None:
        if self.low > self.high:
            raise InvalidInputError("low must not be above high")

    @property
    def expression(self) -> str:
        return f"randint({self.low},{self.high})"

    def candidates(self) -> tuple[str, ...]:
        return (str(self.low), str(self.high))

    def sample(self, rng: random.Random) -> str:
        return str(rng.randint(self.low, self.high))

    def suggest(self, trial: Any, name: str) -> str:
        return str(trial.suggest_int(name, self.low, self.high))

    @property
    def size(self) -> int:
        return self.high - self.low + 1


def make_distribution(name: str, arguments: list[str]) -> Domain:
    """The distribution ``name(arguments...)``; InvalidInputError when it is unknown or
    its arguments do not fit."""
    if name not in DISTRIBUTIONS:
        valid = ", ".join(DISTRIBUTIONS)
        raise InvalidInputError(f"unknown distribution {name!r} (valid: {valid})")
    if name == "choice":
        return Categorical(tuple(arguments), listed=False)
    if len(arguments) != 2:
        raise InvalidInputError(
            f"{name} takes 2 arguments, not {len(arguments)}: {DISTRIBUTIONS[name]}"
        )
    if name == "randint":
        low, high = (_integer(name, a) for a in arguments)
        return IntRange(low, high)
    low_f, high_f = (_number(name, a) for a in arguments)
    return FloatRange(low_f, high_f, log=name == "loguniform")


def _number(name: str, text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise InvalidInputError(f"{text!r} is not a number") from None
    if not math.isfinite(value):
        raise InvalidInputError(f"{text!r} is not a finite number")
    return value


def _integer(name: str, text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise InvalidInputError(f"{text!r} is not an integer") from None


def _item_text(value: str) -> str:
    """A value as a list item: quoted when it would not read back as itself."""
    plain = value and value == value.strip() and not any(c in value for c in ",[]()\"'\\")
    return value if plain else quote_literal(value)
