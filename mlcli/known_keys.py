"""The one check for keys a user wrote that mlcli does not know (MLproject sections,
python_env files, batch lines): a typo is an error naming it, never silently ignored."""

from __future__ import annotations

from collections.abc import Collection, Iterable

from mlcli.errors import InvalidInputError


def reject_unknown_keys(
    given: Iterable[object],
    allowed: Collection[str],
    *,
    where: str = "",
    what: str = "key(s)",
    hint: str = "",
) -> None:
    """InvalidInputError "<where>: unknown <what> <keys, sorted> (<hint>)" when ``given``
    has a key outside ``allowed``."""
    unknown = sorted(str(key) for key in given if key not in allowed)
    if not unknown:
        return
    message = f"unknown {what} {', '.join(unknown)}"
    if where:
        message = f"{where}: {message}"
    if hint:
        message = f"{message} ({hint})"
    raise InvalidInputError(message)
