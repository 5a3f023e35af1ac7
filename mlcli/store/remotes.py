"""Remotes: other stores this one pushes to and pulls from, by name, like git's.

They live in the store's config file (``config.py``)::

    [remote "origin"]
    url = s3://team-bucket/mlcli
    [core]
    default-remote = origin

A remote's URL is ``s3://bucket[/prefix]``, ``file:///absolute/path`` or a path (kept
absolute, so that it means the same from any working directory).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from mlcli.errors import ConflictError, InvalidInputError, NotFoundError, StoreError
from mlcli.store.config import StoreConfig

if TYPE_CHECKING:
    from configparser import ConfigParser

CORE_SECTION = "core"
DEFAULT_KEY = "default-remote"
URL_KEY = "url"
MAX_NAME_LENGTH = 100

_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")
_SECTION = re.compile(r'remote "(.*)"', re.DOTALL)
_URL_FORMS = "s3://bucket[/prefix], file:///absolute/path or a path"
_ADD_HINT = "mlcli remote add origin s3://bucket/prefix"
# What a string given where a remote is expected must start with to be read as a URL or
# a path rather than a remote's name (no name can start so).
_LOCATION_PREFIXES = ("/", "./", "../", "~")
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")
# S3's rules for bucket names (general purpose buckets)
_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_IP_ADDRESS = re.compile(r"\d+\.\d+\.\d+\.\d+")


@dataclass(frozen=True)
class Remote:
    """A store to push to and pull from: a configured one has a name; a URL given on
    the command line in place of a name makes one without."""

    name: str | None
    url: str


class Remotes:
    """The remotes of the store whose ``.mlruns`` directory is ``store_root``."""

    def __init__(self, store_root: Path) -> None:
        self._config = StoreConfig(store_root)

    @property
    def path(self) -> Path:
        """The config file they are kept in."""
        return self._config.path

    # -- reading -----------------------------------------------------------------------------

    def list(self) -> list[Remote]:
        """Every remote, in the order of the file."""
        config = self._config.read()
        return [self._remote(config, name) for name in _names(config)]

    def get(self, name: str) -> Remote:
        config = self._config.read()
        if name not in _names(config):
            raise _unknown(name)
        return self._remote(config, name)

    def default(self) -> Remote | None:
        """The default remote; None when none is set (or the one set is gone)."""
        config = self._config.read()
        name = _default_name(config)
        if name is None or name not in _names(config):
            return None
        return self._remote(config, name)

    def resolve(self, name_or_url: str | None) -> Remote:
        """The remote a command means: the default for None; a remote's name; else a URL
        or path (``s3://``, ``file://``, ``/``, ``./``, ``../``, ``~``) as an unnamed one."""
        if name_or_url is None:
            return self._resolve_default()
        if _looks_like_location(name_or_url):
            return Remote(None, normalize_url(name_or_url))
        return self.get(name_or_url)

    # -- changing ----------------------------------------------------------------------------

    def add(self, name: str, url: str, default: bool = False) -> Remote:
        """Add a remote; it becomes the default when asked, or when it is the first."""
        validate_remote_name(name)
        remote = Remote(name, normalize_url(url))
        with self._config.update() as config:
            names = _names(config)
            if name in names:
                raise ConflictError(
                    f"a remote named {name!r} exists already "
                    f"(mlcli remote set-url {name} URL changes its URL)"
                )
            config[_section(name)] = {URL_KEY: remote.url}
            if default or not names:
                _set_default_name(config, name)
        return remote

    def remove(self, name: str) -> Remote:
        """Remove a remote (and the default setting, when it was the default)."""
        with self._config.update() as config:
            remote = self._existing(config, name)
            config.remove_section(_section(name))
            if _default_name(config) == name:
                _set_default_name(config, None)
        return remote

    def rename(self, old: str, new: str) -> Remote:
        """Rename a remote, keeping its settings (and its being the default)."""
        validate_remote_name(new)
        with self._config.update() as config:
            remote = self._existing(config, old)
            if new == old:
                return remote
            if new in _names(config):
                raise ConflictError(f"a remote named {new!r} exists already")
            config[_section(new)] = dict(config[_section(old)])
            config.remove_section(_section(old))
            if _default_name(config) == old:
                _set_default_name(config, new)
        return Remote(new, remote.url)

    def set_url(self, name: str, url: str) -> Remote:
        remote = Remote(name, normalize_url(url))
        with self._config.update() as config:
            self._existing(config, name)
            config[_section(name)][URL_KEY] = remote.url
        return remote

    def set_default(self, name: str) -> Remote:
        with self._config.update() as config:
            remote = self._existing(config, name)
            _set_default_name(config, name)
        return remote

    # -- internals ---------------------------------------------------------------------------

    def _resolve_default(self) -> Remote:
        config = self._config.read()
        name = _default_name(config)
        if name is None:
            raise InvalidInputError(f"no remote given and no default remote ({_ADD_HINT})")
        if name not in _names(config):
            raise InvalidInputError(
                f"the default remote {name!r} in {self.path} is not configured "
                "(mlcli remote set-default NAME)"
            )
        return self._remote(config, name)

    def _existing(self, config: ConfigParser, name: str) -> Remote:
        if name not in _names(config):
            raise _unknown(name)
        return self._remote(config, name)

    def _remote(self, config: ConfigParser, name: str) -> Remote:
        url = config[_section(name)].get(URL_KEY, "").strip()
        if not url:
            raise StoreError(
                f"remote {name!r} in {self.path} has no url (mlcli remote set-url {name} URL)"
            )
        return Remote(name, url)


# -- names ---------------------------------------------------------------------------------


def validate_remote_name(name: str) -> None:
    """Names as git allows them, narrowed: letters, digits, ``-``, ``_`` and ``.``, not
    starting with ``-`` or ``.`` (so that a name never reads as an option or a path)."""
    if len(name) > MAX_NAME_LENGTH or _NAME.fullmatch(name) is None:
        raise InvalidInputError(
            f"invalid remote name {name!r}: use letters, digits, '-', '_' and '.', not "
            f"starting with '-' or '.', at most {MAX_NAME_LENGTH} characters"
        )


def _section(name: str) -> str:
    return f'remote "{name}"'


def _names(config: ConfigParser) -> list[str]:
    return [m.group(1) for m in map(_SECTION.fullmatch, config.sections()) if m is not None]


def _default_name(config: ConfigParser) -> str | None:
    name = config.get(CORE_SECTION, DEFAULT_KEY, fallback="").strip()
    return name or None


def _set_default_name(config: ConfigParser, name: str | None) -> None:
    if name is not None:
        if not config.has_section(CORE_SECTION):
            config.add_section(CORE_SECTION)
        config[CORE_SECTION][DEFAULT_KEY] = name
    elif config.has_section(CORE_SECTION):
        config.remove_option(CORE_SECTION, DEFAULT_KEY)
        if not config.options(CORE_SECTION):
            config.remove_section(CORE_SECTION)


def _unknown(name: str) -> NotFoundError:
    return NotFoundError(f"no remote named {name!r} (mlcli remote list shows them)")


# -- URLs ----------------------------------------------------------------------------------


def _looks_like_location(text: str) -> bool:
    return (
        text in (".", "..")
        or text.startswith(_LOCATION_PREFIXES)
        or _SCHEME.match(text) is not None
    )


def normalize_url(url: str) -> str:
    """``url`` as a remote's URL is kept: an ``s3://`` URL without a trailing slash, a
    ``file://`` URL as given, a path made absolute. InvalidInputError for anything else."""
    if not url.strip():
        raise InvalidInputError(f"a remote URL cannot be empty: use {_URL_FORMS}")
    if any(ord(c) < 32 or ord(c) == 127 for c in url):
        raise InvalidInputError(f"invalid remote URL {url!r}: it has control characters")
    scheme = _SCHEME.match(url)
    if scheme is None:
        return _normalize_path(url)
    normalizer = _SCHEMES.get(scheme.group(0)[:-3].lower())
    if normalizer is None:
        raise InvalidInputError(f"unsupported remote URL {url!r}: use {_URL_FORMS}")
    return normalizer(url)


def _normalize_s3(url: str) -> str:
    bucket, _, prefix = url[len("s3://") :].partition("/")
    if not _is_bucket_name(bucket):
        raise InvalidInputError(
            f"invalid remote URL {url!r}: {bucket!r} is not an S3 bucket name (3 to 63 "
            "lower-case letters, digits, '.' and '-', starting and ending with a letter or "
            "digit)"
        )
    prefix = prefix.rstrip("/")
    parts = prefix.split("/") if prefix else []
    if any(part in ("", ".", "..") for part in parts):
        raise InvalidInputError(
            f"invalid remote URL {url!r}: its prefix has an empty, '.' or '..' part"
        )
    return "/".join([f"s3://{bucket}", *parts])


def _is_bucket_name(bucket: str) -> bool:
    return (
        _BUCKET.fullmatch(bucket) is not None
        and ".." not in bucket
        and _IP_ADDRESS.fullmatch(bucket) is None
    )


def _normalize_file_url(url: str) -> str:
    rest = url[len("file://") :]
    host, slash, path = rest.partition("/")
    if host not in ("", "localhost") or not slash:
        raise InvalidInputError(
            f"invalid remote URL {url!r}: a file URL names an absolute path on this "
            "host (file:///absolute/path)"
        )
    return "file://" + os.path.normpath("/" + path)


def _normalize_path(path: str) -> str:
    first_part = path.split("/", 1)[0]
    if ":" in first_part and not path.startswith("~"):  # host:path, as scp and git say
        raise InvalidInputError(f"unsupported remote URL {path!r}: use {_URL_FORMS}")
    return os.path.abspath(os.path.expanduser(path))


def _refuse_servers(url: str) -> str:
    raise InvalidInputError(
        f"invalid remote URL {url!r}: team servers as remotes are not supported yet: "
        "use s3:// or a path"
    )


_SCHEMES: dict[str, Callable[[str], str]] = {
    "s3": _normalize_s3,
    "file": _normalize_file_url,
    "http": _refuse_servers,
    "https": _refuse_servers,
}
