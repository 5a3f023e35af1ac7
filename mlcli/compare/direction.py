"""Which way is better for each metric: the name's guess, or the user's word."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from fnmatch import fnmatchcase

from mlcli.errors import InvalidInputError
from mlcli.search.direction import lower_is_better


@dataclass(frozen=True)
class Directions:
    """Overrides of :func:`lower_is_better` (metric names or glob patterns)."""

    higher: tuple[str, ...] = ()
    lower: tuple[str, ...] = ()

    @classmethod
    def of(cls, higher: Iterable[str] = (), lower: Iterable[str] = ()) -> Directions:
        directions = cls(tuple(higher), tuple(lower))
        both = set(directions.higher) & set(directions.lower)
        if both:
            raise InvalidInputError(
                f"metric {sorted(both)[0]!r} is given as both higher- and lower-is-better"
            )
        return directions

    def lower_is_better(self, key: str) -> bool:
        if any(fnmatchcase(key, pattern) for pattern in self.lower):
            return True
        if any(fnmatchcase(key, pattern) for pattern in self.higher):
            return False
        return lower_is_better(key)
