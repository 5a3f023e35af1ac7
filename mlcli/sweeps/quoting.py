"""Quoted values: how a ``-P`` value, or an item of a list, is taken as plain text.

A value wrapped in double (or single) quotes is the text inside them, with ``\\"``,
``\\'`` and ``\\\\`` standing for a quote and a backslash; any other backslash is kept.
``quote_literal`` writes a value so that it reads back as itself.
"""

from __future__ import annotations

QUOTES = "\"'"
_ESCAPABLE = "\"'\\"


def quote_literal(value: str) -> str:
    """``value`` in double quotes, escaped: ``[64,32]`` -> ``"[64,32]"``."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def read_quoted(text: str, start: int = 0) -> tuple[str, int] | None:
    """The quoted string beginning at ``text[start]`` (a quote character) and the index
    just after its closing quote; None when it is not closed."""
    quote = text[start]
    chars: list[str] = []
    index = start + 1
    while index < len(text):
        char = text[index]
        if char == "\\" and index + 1 < len(text) and text[index + 1] in _ESCAPABLE:
            chars.append(text[index + 1])
            index += 2
            continue
        if char == quote:
            return "".join(chars), index + 1
        chars.append(char)
        index += 1
    return None


def unquote(text: str) -> str | None:
    """The text inside ``text`` when all of it is one quoted string; else None."""
    if not text or text[0] not in QUOTES:
        return None
    found = read_quoted(text)
    if found is None or found[1] != len(text):
        return None
    return found[0]
