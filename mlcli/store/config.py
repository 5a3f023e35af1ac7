"""The store's config file, ``.mlruns/config``: INI sections like ``.git/config``.

Reading never takes a lock: the file is only ever replaced whole (written beside it and
renamed over it), so a reader sees the old or the new file. A change reads, edits and
replaces the file under ``config.lock``, so that two writers at once both land. Every
section and key mlcli does not know is written back as it was read (comments are not).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from mlcli.errors import StoreError
from mlcli.files.fileio import write_bytes_atomic
from mlcli.files.lock import FileLock
from mlcli.store.layout import StoreLayout

if TYPE_CHECKING:
    from configparser import ConfigParser

# configparser treats a section of this name as defaults for all others; a name no
# file uses keeps a user's ``[DEFAULT]`` an ordinary section.
_NO_DEFAULT_SECTION = "\x00"


class StoreConfig:
    """The config file of the store whose ``.mlruns`` directory is ``store_root``."""

    def __init__(self, store_root: Path) -> None:
        layout = StoreLayout(store_root)
        self.path = layout.config_file
        self._lock = layout.config_lock

    def read(self) -> ConfigParser:
        """The file's sections (none when there is no file yet)."""
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            data = b""
        return self._parse(data)

    @contextlib.contextmanager
    def update(self) -> Iterator[ConfigParser]:
        """The file's sections to change in place; written back atomically when the
        block ends without an exception, all under the config lock."""
        with FileLock(self._lock):
            config = self.read()
            yield config
            write_bytes_atomic(self.path, _serialize(config))

    def _parse(self, data: bytes) -> ConfigParser:
        import configparser

        try:
            text = data.decode()
        except UnicodeDecodeError as exc:
            raise self._malformed(data[: exc.start].count(b"\n") + 1, "not UTF-8 text") from None
        config = _new_parser()
        try:
            config.read_string(text, source=str(self.path))
        except configparser.MissingSectionHeaderError as exc:
            line = exc.line.strip()
            reason = f"{line!r} is not a [section] header"
            if not line.startswith("["):
                reason = "a setting before any [section]"
            raise self._malformed(exc.lineno, reason) from None
        except configparser.DuplicateSectionError as exc:
            raise self._malformed(exc.lineno, f"section [{exc.section}] again") from None
        except configparser.DuplicateOptionError as exc:
            reason = f"{exc.option!r} again in section [{exc.section}]"
            raise self._malformed(exc.lineno, reason) from None
        except configparser.ParsingError as exc:
            first = exc.errors[0][0] if exc.errors else None
            raise self._malformed(first, "not a [section] or a 'key = value' line") from None
        except configparser.Error as exc:  # any other complaint of configparser's
            raise self._malformed(None, exc.message.splitlines()[0]) from None
        return config

    def _malformed(self, line: int | None, reason: str) -> StoreError:
        where = f"{self.path}, line {line}" if line is not None else str(self.path)
        return StoreError(f"malformed config file {where}: {reason}")


def _new_parser() -> ConfigParser:
    import configparser

    config = configparser.ConfigParser(
        interpolation=None, strict=True, default_section=_NO_DEFAULT_SECTION
    )
    config.optionxform = str  # type: ignore[assignment, method-assign]  # keys keep their case
    return config


def _serialize(config: ConfigParser) -> bytes:
    import io

    buffer = io.StringIO()
    config.write(buffer)
    text = buffer.getvalue().rstrip("\n")  # configparser ends every section with a blank line
    return f"{text}\n".encode() if text else b""
