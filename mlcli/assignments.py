"""``NAME=VALUE`` arguments (``-P alpha=0.1``, ``--tag stage=dev``), parsed one way."""

from __future__ import annotations

from collections.abc import Iterable

from mlcli.errors import InvalidInputError


def parse_assignments(
    items: Iterable[str], option: str = "-P", *, name: str = "NAME", once: bool = True
) -> dict[str, str]:
    """``["alpha=0.1", "name=a=b"]`` -> ``{"alpha": "0.1", "name": "a=b"}``.

    ``name`` is what the error message calls the part before ``=`` (``KEY`` for tags).
    With ``once`` a name given twice is an error (a parameter has one value); without
    it the last value wins (as ``--tag`` always has).
    """
    result: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise InvalidInputError(f"{option} expects {name}=VALUE, got {item!r}")
        if once and key in result:
            raise InvalidInputError(f"parameter {key!r} is given twice with {option}")
        result[key] = value
    return result


def parse_key_values(items: Iterable[str], option: str) -> dict[str, str]:
    """``--tag KEY=VALUE`` options: the last value of a key given twice wins."""
    return parse_assignments(items, option, name="KEY", once=False)
