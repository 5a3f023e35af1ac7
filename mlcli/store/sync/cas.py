"""Rewriting one object on the remote by compare-and-swap: read it, build the new
content from what was read, write it only if nobody wrote it meanwhile (a conditional
create when there was none), and start again when somebody did."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

from mlcli.errors import ConflictError
from mlcli.store.sync.context import SyncContext

if TYPE_CHECKING:
    from mlcli.objects.base import ObjectStore

T = TypeVar("T")
Found = tuple[bytes, str] | None  # (content, ETag) or None when there is no object
ATTEMPTS = 20


def update_object(
    ctx: SyncContext,
    key: str,
    what: str,
    build: Callable[[Found], tuple[bytes, T]],
    likely_new: bool = False,
) -> tuple[T, str, Found]:
    """Write ``build(found)``'s bytes to ``key`` by compare-and-swap; returns what
    ``build`` returned with them, the new ETag and what the write replaced.
    ``likely_new``: try a conditional create first, without reading (a run this store
    never pushed): one request less when it is indeed new."""
    result, etag, found, size = swap_object(ctx.objects, key, what, build, likely_new)
    ctx.report.moved(size)
    return result, etag, found


def swap_object(
    objects: ObjectStore,
    key: str,
    what: str,
    build: Callable[[Found], tuple[bytes, T]],
    likely_new: bool = False,
) -> tuple[T, str, Found, int]:
    """:func:`update_object` on any object store; also returns the bytes written."""
    for attempt in range(ATTEMPTS):
        found = None if likely_new and attempt == 0 else objects.get_if_present(key)
        data, result = build(found)
        etag = objects.create(key, data) if found is None else objects.replace(key, data, found[1])
        if etag is not None:
            return result, etag, found, len(data)
    raise ConflictError(f"{what}: the remote kept changing it; push again")
