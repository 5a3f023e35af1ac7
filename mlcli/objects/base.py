"""What mlcli needs of object storage: whole objects, conditional creates and
compare-and-swap, listing from a cursor. Nothing else (no append, no rename).

Two kinds implement it: a bucket (``s3://bucket/prefix``, any S3-compatible service)
and a directory (a path or ``file://``, e.g. a store on a shared filesystem). Keys are
``/``-separated and relative to the location's prefix.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol


@dataclass(frozen=True)
class ObjectInfo:
    key: str  # relative to the location's prefix
    size: int
    etag: str


class ObjectStore(Protocol):
    @property
    def url(self) -> str:
        """The location as the user names it (``s3://bucket/prefix``, a path)."""
        ...

    def get(self, key: str) -> tuple[bytes, str]:
        """The object's bytes and ETag; NotFoundError when there is none."""
        ...

    def get_if_present(self, key: str) -> tuple[bytes, str] | None:
        """:meth:`get`, or None when there is no such object."""
        ...

    def put(self, key: str, data: bytes) -> str:
        """Write the object whatever is there; returns its ETag."""
        ...

    def create(self, key: str, data: bytes) -> str | None:
        """Write the object only if there is none (``If-None-Match: *``); its ETag, or
        None when the key was taken (by anyone, at any time)."""
        ...

    def replace(self, key: str, data: bytes, etag: str) -> str | None:
        """Write the object only if its ETag is still ``etag`` (``If-Match``); the new
        ETag, or None when it changed or vanished since."""
        ...

    def delete(self, key: str) -> None:
        """Remove the object; nothing happens when there is none."""
        ...

    def list(self, prefix: str, start_after: str | None = None) -> Iterator[ObjectInfo]:
        """Every object whose key starts with ``prefix``, in key order (byte order of
        UTF-8), from just after ``start_after`` when given. SeaweedFS sorts a folder by
        its name, so there "a/b" comes before "a.txt" (names with a character below
        "/" right after a folder's name): key schemes that need a cursor avoid them."""
        ...

    def list_prefixes(self, prefix: str) -> Iterator[str]:
        """The "folders" right under ``prefix`` (a listing with the delimiter ``/``), in
        key order, each as the full key prefix ending in ``/``: ``list_prefixes("runs/")``
        gives ``"runs/0a1b.../"``, ``"runs/0a1c.../"``. Only folders that hold at least
        one object count (as on S3, where a folder is only a shared key prefix), but
        some servers (SeaweedFS) go on listing a folder whose objects were all deleted:
        callers take an empty folder in their stride."""
        ...

    def upload_file(self, key: str, source: Path) -> None:
        """Write a local file as the object (in parts, in parallel, when large)."""
        ...

    def download_file(self, key: str, destination: Path, size: int | None = None) -> None:
        """Write the object to a local file, atomically (a temporary file renamed).
        ``size``, when the caller knows it, lets a small object come in one request."""
        ...
