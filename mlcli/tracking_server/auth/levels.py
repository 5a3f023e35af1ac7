"""Permission levels, MLflow's: READ < EDIT < MANAGE, and NO_PERMISSIONS below them all."""

from __future__ import annotations

from enum import IntEnum

from mlcli.errors import InvalidInputError


class Level(IntEnum):
    NO_PERMISSIONS = 0
    READ = 1
    EDIT = 2
    MANAGE = 3


def parse_level(text: str) -> Level:
    """``read``, ``EDIT``, ``no_permissions``... as a :class:`Level`."""
    try:
        return Level[text.strip().upper()]
    except KeyError:
        names = ", ".join(level.name for level in Level)
        raise InvalidInputError(f"unknown permission level {text!r}: expected {names}") from None
