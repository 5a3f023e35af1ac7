"""Reading a ``-P NAME=VALUE`` value: a list, a distribution, a quoted text, or plain.

    -P 'lr=[0.1,0.01,0.001]'        a list: each value (a grid), or one of them (random)
    -P 'lr=loguniform(1e-4,1e-1)'   a distribution: uniform, loguniform, randint, choice
    -P 'layers="[64,32]"'           quoted: the text inside, as it is (here ``[64,32]``)
    -P 'lr=0.1'                     anything else: the value as it is

A value is a list when it starts with ``[`` and a distribution when it starts with a
name and ``(`` (``loguniform(``); it must then be well formed, or it is an error
naming the parameter. Items are separated by commas; an item may be quoted (to hold a
comma or a bracket) and may itself be a bracketed list, kept as text: ``[[64,32],[128]]``
sweeps over the two values ``[64,32]`` and ``[128]``.
"""

from __future__ import annotations

import re

from mlcli.errors import InvalidInputError
from mlcli.sweeps.domains import DISTRIBUTIONS, Categorical, Domain, make_distribution
from mlcli.sweeps.quoting import QUOTES, read_quoted, unquote

_CALL = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)\(")
_OPENING = {"[": "]", "(": ")"}


class _Malformed(Exception):
    """A sweep expression that cannot be read; the message says why."""


def parse_value(name: str, text: str) -> Domain | str:
    """The domain a ``-P`` value sweeps over, or the one value it passes."""
    literal = unquote(text)
    if literal is not None:
        return literal
    call = _CALL.match(text)
    if not text.startswith("[") and call is None:
        return text
    try:
        if call is None:
            return Categorical(tuple(_read_items(text, 1, "]")))
        if call.group(1) not in DISTRIBUTIONS:
            valid = ", ".join(DISTRIBUTIONS)
            raise _Malformed(f"unknown distribution {call.group(1)!r} (valid: {valid})")
        return make_distribution(call.group(1), _read_items(text, call.end(), ")"))
    except _Malformed as exc:
        hint = f"""; to pass it as text, quote it: -P '{name}="{text}"'"""
        raise InvalidInputError(f"-P {name}={text}: {exc}{hint}") from None
    except InvalidInputError as exc:
        raise InvalidInputError(f"-P {name}={text}: {exc}") from None


def _read_items(text: str, start: int, closing: str) -> list[str]:
    """The comma-separated items of ``text`` from ``start`` to the ``closing`` bracket,
    which must end the text."""
    items: list[str] = []
    index = item_start = start
    depth = 0
    while index < len(text):
        char = text[index]
        if char in QUOTES:
            found = read_quoted(text, index)
            if found is None:
                raise _Malformed(f"unclosed {char}")
            index = found[1]
            continue
        if char in _OPENING:
            depth += 1
        elif char in ")]" and depth:
            depth -= 1
        elif char in ")]":
            if char != closing:
                raise _Malformed(f"unexpected {char!r}")
            if text[index + 1 :].strip():
                raise _Malformed(f"unexpected text after {closing!r}")
            last = text[item_start:index]
            return [*items, _item(last)] if items or last.strip() else []
        elif char == "," and not depth:
            items.append(_item(text[item_start:index]))
            item_start = index + 1
        index += 1
    opening = "[" if closing == "]" else "("
    raise _Malformed(f"unclosed {opening!r}")


def _item(raw: str) -> str:
    item = raw.strip()
    if not item:
        raise _Malformed("an empty item")
    if item[0] in QUOTES:
        literal = unquote(item)
        if literal is None:
            raise _Malformed(f"unexpected text after the quoted item {item!r}")
        return literal
    return item
