"""Time as mlcli stores and shows it: integer milliseconds since the epoch."""

from __future__ import annotations

import re
import time

from mlcli.errors import InvalidInputError

_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)")
_UNIT_MS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 604_800_000}


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def parse_duration_ms(text: str) -> int:
    """``90s``, ``15m``, ``12h``, ``30d``, ``2w`` or a sum such as ``1d12h``."""
    compact = text.strip().lower().replace(" ", "")
    pos, total = 0, 0.0
    while pos < len(compact):
        match = _DURATION_PART.match(compact, pos)
        if not match:
            raise InvalidInputError(
                f"invalid duration {text!r}: use a number and a unit (ms, s, m, h, d, w), "
                "for example 30d or 1h30m"
            )
        total += float(match.group(1)) * _UNIT_MS[match.group(2)]
        pos = match.end()
    if not compact:
        raise InvalidInputError("invalid duration '': use for example 30d or 1h30m")
    return int(total)


def format_duration(ms: int | None) -> str:
    if ms is None or ms < 0:
        return ""
    seconds = ms / 1000
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, sec = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{sec:02d}s"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours}h{minutes:02d}m"
    days, hours = divmod(hours, 24)
    return f"{days}d{hours:02d}h"


def format_timestamp(ms: int | None) -> str:
    if ms is None:
        return ""
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ms / 1000))
