"""Object storage for stores and remotes beyond one machine (DESIGN.md section 8):
what mlcli needs of it (``base.ObjectStore``), on S3 (``s3``) or a directory
(``directory``), and :func:`open_objects`, which picks one from a URL.

boto3 is imported only when an ``s3://`` location is opened, never at start-up.
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from urllib.parse import unquote, urlsplit

from mlcli.errors import InvalidInputError
from mlcli.objects.base import ObjectInfo, ObjectStore

__all__ = ["ObjectInfo", "ObjectStore", "open_objects"]

SUPPORTED = "s3://bucket/prefix, file:///path or a path"
S3_EXTRA = "s3:// stores need the S3 extra: pip install 'mlcli[s3]'"
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")


def open_objects(url: str) -> ObjectStore:
    """The object store at ``url``: ``s3://bucket/prefix`` (any S3-compatible service),
    ``file:///path`` or a plain path (a directory)."""
    if url.startswith("s3://"):
        return _open_s3(url)
    if url.startswith("file://"):
        return _open_file_url(url)
    if _SCHEME.match(url):
        raise InvalidInputError(f"unsupported store URL {url!r}: use {SUPPORTED}")
    if not url:
        raise InvalidInputError(f"empty store location: use {SUPPORTED}")
    from mlcli.objects.directory import DirectoryObjects

    return DirectoryObjects(Path(url).expanduser(), url)


def _open_s3(url: str) -> ObjectStore:
    bucket, _, prefix = url.removeprefix("s3://").partition("/")
    if not bucket:
        raise InvalidInputError(f"no bucket in {url!r}: use s3://bucket/prefix")
    if not _boto3_installed():
        raise InvalidInputError(S3_EXTRA)
    from mlcli.objects.s3 import S3Objects

    return S3Objects(bucket, prefix)


def _open_file_url(url: str) -> ObjectStore:
    parts = urlsplit(url)
    if parts.netloc not in ("", "localhost") or not parts.path or parts.query or parts.fragment:
        raise InvalidInputError(f"unsupported file URL {url!r}: use file:///absolute/path")
    from mlcli.objects.directory import DirectoryObjects

    return DirectoryObjects(Path(unquote(parts.path)), url)


def _boto3_installed() -> bool:
    try:
        return importlib.util.find_spec("boto3") is not None
    except (ImportError, ValueError):  # a broken or blocked install counts as none
        return False
