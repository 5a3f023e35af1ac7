"""Which registered-model names and aliases are allowed (MLflow's rules, docs/registry.md)."""

from __future__ import annotations

import re

from mlcli.errors import InvalidInputError

MAX_NAME_LENGTH = 256
MAX_ALIAS_LENGTH = 255
MAX_TAG_VALUE_LENGTH = 100_000

_ALIAS = re.compile(r"^[\w-]+\Z")
_RESERVED_ALIAS = re.compile(r"^(latest|v\d+)\Z", re.IGNORECASE)
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")  # as run names


def validate_model_name(name: object) -> str:
    """A registered-model name is a folder name: no '/', ':' or '\\', not '.'-led."""
    if not isinstance(name, str) or not name.strip():
        raise InvalidInputError("invalid model name: must be a non-empty string")
    if len(name) > MAX_NAME_LENGTH:
        raise InvalidInputError(f"invalid model name: longer than {MAX_NAME_LENGTH} characters")
    if any(c in name for c in "/\\:") or name.startswith(".") or _CONTROL.search(name):
        raise InvalidInputError(
            f"invalid model name {name!r}: it may not contain '/', '\\\\', ':' or control "
            "characters, nor start with '.'"
        )
    return name


def validate_alias(alias: object) -> str:
    if not isinstance(alias, str) or not _ALIAS.match(alias) or len(alias) > MAX_ALIAS_LENGTH:
        raise InvalidInputError(
            f"invalid alias {alias!r}: use letters, digits, '_' and '-' (at most "
            f"{MAX_ALIAS_LENGTH})"
        )
    if _RESERVED_ALIAS.match(alias):
        raise InvalidInputError(
            f"alias {alias!r} is reserved ('latest' and 'v<number>' name versions already)"
        )
    return alias


def parse_version(text: object) -> int:
    try:
        version = int(str(text))
    except ValueError:
        raise InvalidInputError(f"invalid version {text!r}: expected a number") from None
    if version < 1:
        raise InvalidInputError(f"invalid version {text!r}: versions start at 1")
    return version
