"""What a key may be, the same for every kind of object store.

A key is a relative ``/``-separated path: no empty, ``.`` or ``..`` segment, no NUL.
S3 would take more, but a directory could not hold it (``a//b``, ``../x``), and a store
must behave the same whatever holds it.
"""

from __future__ import annotations

from mlcli.errors import InvalidInputError


def check_key(key: str) -> str:
    """``key``, or InvalidInputError when no object can be named so."""
    if not _is_valid(key):
        raise InvalidInputError(
            f"invalid object key {key!r}: a relative path with no empty, '.' or '..' part"
        )
    return key


def check_prefix(prefix: str) -> str:
    """``prefix`` (a key's beginning: ``""``, ``"runs/"``, ``"runs/0a"``), or
    InvalidInputError. Only its last segment may be empty or partial."""
    folders = prefix.rpartition("/")[0]
    if prefix.startswith("/") or "\0" in prefix or (folders and not _is_valid(folders)):
        raise InvalidInputError(f"invalid object key prefix {prefix!r}")
    return prefix


def _is_valid(key: str) -> bool:
    if not key or "\0" in key or key.startswith("/"):
        return False
    return all(segment not in ("", ".", "..") for segment in key.split("/"))
