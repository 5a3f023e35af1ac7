"""Reading a command's input: a file named on the command line, or ``-`` for stdin."""

from __future__ import annotations

import sys
from pathlib import Path

from mlcli.errors import InvalidInputError, NotFoundError

STDIN = "-"


def read_input(name: str, what: str, *, replace_undecodable: bool = False) -> str:
    """The text of file ``name`` (``-``: stdin), which must be UTF-8: an undecodable byte
    is an InvalidInputError naming its line, unless ``replace_undecodable`` (for text
    that is only shown, such as a program's output). ``what`` names the file for the
    message when ``name`` is a directory ("a JSON-lines file")."""
    data = _read_bytes(name, what)
    if replace_undecodable:
        return data.decode(errors="replace") if isinstance(data, bytes) else data
    return _strict_text(data)


def _read_bytes(name: str, what: str) -> bytes | str:
    if name == STDIN:
        buffer = getattr(sys.stdin, "buffer", None)
        return buffer.read() if buffer is not None else sys.stdin.read()
    try:
        return Path(name).read_bytes()
    except FileNotFoundError:
        raise NotFoundError(f"no such file: {name}") from None
    except IsADirectoryError:
        raise InvalidInputError(f"{name} is a directory, not {what}") from None


def _strict_text(data: bytes | str) -> str:
    try:
        if isinstance(data, bytes):
            return data.decode()
        data.encode()  # a text stream hands undecodable bytes over as surrogates
        return data
    except (UnicodeDecodeError, UnicodeEncodeError) as exc:
        before = data[: exc.start]
        line = (before.count("\n") if isinstance(before, str) else before.count(b"\n")) + 1
        raise InvalidInputError(f"line {line}: not valid UTF-8 text") from None
