"""Page tokens: an opaque base64 text holding the offset of the next page."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from typing import TypeVar

from mlcli.errors import InvalidInputError

T = TypeVar("T")

MAX_RESULTS_LIMIT = 50_000


def decode_token(token: str | None) -> int:
    """The offset a page token stands for (0 without one)."""
    if not token:
        return 0
    try:
        document = json.loads(base64.urlsafe_b64decode(token.encode() + b"=" * (-len(token) % 4)))
        offset = document["offset"]
    except (binascii.Error, ValueError, KeyError, TypeError, UnicodeDecodeError):
        raise InvalidInputError(f"invalid page_token {token[:40]!r}") from None
    if not isinstance(offset, int) or isinstance(offset, bool) or offset < 0:
        raise InvalidInputError(f"invalid page_token {token[:40]!r}")
    return offset


def encode_token(offset: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"offset": offset}).encode()).decode().rstrip("=")


def max_results(value: int | None, default: int) -> int:
    if value is None:
        return default
    if not 1 <= value <= MAX_RESULTS_LIMIT:
        raise InvalidInputError(
            f"invalid max_results {value}: must be between 1 and {MAX_RESULTS_LIMIT}"
        )
    return value


def page(items: Sequence[T], offset: int, limit: int) -> tuple[list[T], str | None]:
    """One page of ``items`` and the token of the next (None on the last page)."""
    chosen = list(items[offset : offset + limit])
    more = offset + limit < len(items)
    return chosen, encode_token(offset + limit) if more else None
