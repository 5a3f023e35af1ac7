"""The ``-P`` values of one ``mlcli run``, read as a sweep: which parameters are swept
over which domains, which are fixed, and which sampler that calls for."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

from mlcli.sweeps.domains import Categorical, Domain
from mlcli.sweeps.expressions import parse_value


@dataclass(frozen=True)
class SweepSpec:
    """``values``: every parameter in the order given, as a Domain (swept) or a
    string (fixed). ``given``: the ``-P`` values as typed, for the record."""

    values: Mapping[str, Domain | str]
    given: Mapping[str, str]

    @property
    def swept(self) -> dict[str, Domain]:
        return {k: v for k, v in self.values.items() if isinstance(v, Domain)}

    @property
    def fixed(self) -> dict[str, str]:
        return {k: v for k, v in self.values.items() if isinstance(v, str)}

    @property
    def is_sweep(self) -> bool:
        return bool(self.swept)

    @property
    def default_sampler(self) -> str:
        """``grid`` when every swept value is a list, ``random`` when one is a
        distribution (``choice`` included)."""
        listed = all(isinstance(d, Categorical) and d.listed for d in self.swept.values())
        return "grid" if listed else "random"

    def trial(self, chosen: Mapping[str, str]) -> dict[str, str]:
        """A trial's parameters: the fixed ones with ``chosen`` values, in -P order."""
        return {k: chosen[k] if k in chosen else str(v) for k, v in self.values.items()}

    def to_json(self) -> str:
        """The ``-P`` values as given (the ``mlcli.sweep.spec`` tag)."""
        return json.dumps(dict(self.given), ensure_ascii=False, separators=(",", ":"))


def parse_sweep(given: Mapping[str, str]) -> SweepSpec:
    """Read every ``-P`` value; InvalidInputError (naming the parameter) for a
    malformed list or distribution."""
    return SweepSpec({name: parse_value(name, text) for name, text in given.items()}, dict(given))
