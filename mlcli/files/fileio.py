"""The write and read primitives every store file goes through.

- A JSON document is replaced atomically: written to a temporary file in the same
  directory, fsynced, renamed over the old one. Readers see the old or the new
  document, never a mix.
- A log line is appended with one ``write()`` on a file opened with ``O_APPEND``, so
  concurrent appenders never interleave. A writer that finds a torn last line (left
  by a killed process) starts on a fresh line.
- A reader of a log ignores a last line without its newline (torn, or still being
  written) and any line that does not parse; it reports the byte offset just past
  the last complete line so that it can resume there.
- When log lines are fsynced is the user's choice, ``MLCLI_SYNC`` (see :func:`sync_mode` and the
  durability section of docs/tracking.md).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from mlcli.errors import StoreError

SYNC_NONE = "none"
SYNC_BATCH = "batch"
SYNC_ALWAYS = "always"
SYNC_MODES = (SYNC_NONE, SYNC_BATCH, SYNC_ALWAYS)
DEFAULT_SYNC = SYNC_NONE


def sync_mode() -> str:
    """When log lines are fsynced, from ``MLCLI_SYNC`` (read on every write, so a
    process can change it): ``none`` (the default: as before the setting existed)
    never; ``batch`` each batch of lines, each flush and a run's logs when it ends;
    ``always`` every append. Documents (``run.json``) are fsynced under every mode.
    InvalidInputError (one line) for any other value."""
    raw = os.environ.get("MLCLI_SYNC")
    if not raw:
        return DEFAULT_SYNC
    mode = raw.strip().lower()
    if mode not in SYNC_MODES:
        from mlcli.errors import InvalidInputError

        raise InvalidInputError(
            f"invalid MLCLI_SYNC {raw[:40]!r}: expected {', '.join(SYNC_MODES)}"
        )
    return mode


def sync_files(paths: Iterable[str | os.PathLike[str]]) -> None:
    """fsync the files that exist (a run's logs when it ends)."""
    for path in paths:
        try:
            fd = os.open(path, os.O_RDONLY | _O_CLOEXEC)
        except FileNotFoundError:
            continue
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def doc_bytes(document: Any) -> bytes:
    """A JSON document as the store writes it."""
    return json.dumps(document, indent=2, sort_keys=True, allow_nan=False).encode() + b"\n"


def write_json_atomic(path: Path, document: Any) -> None:
    write_bytes_atomic(path, doc_bytes(document))


def write_new_file(path: str | os.PathLike[str], data: bytes, *, document: bool = False) -> None:
    """Create ``path`` (it must not exist) holding ``data``: for a file in a folder
    that is renamed into place once complete. A ``document`` is fsynced, as every
    document is; log lines only under ``MLCLI_SYNC=always``."""
    mode = sync_mode()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _O_CLOEXEC, 0o666)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        if document or mode == SYNC_ALWAYS:
            os.fsync(fd)
    finally:
        os.close(fd)


def write_bytes_atomic(path: Path, data: bytes) -> None:
    fd, tmp = create_temp_file(path)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


TEMP_PREFIX = "."
TEMP_SUFFIX = ".tmp"
_TEMP_ATTEMPTS = 100


def temp_name(target: Path) -> Path:
    """A fresh hidden name beside ``target``: ``.<name>.<random>.tmp``. Every temporary
    file and folder of the store is named so, which lets listings hide them and
    ``gc``/``fsck`` find the ones a killed writer left behind."""
    return target.parent / f"{TEMP_PREFIX}{target.name}.{os.urandom(4).hex()}{TEMP_SUFFIX}"


def is_temp_name(name: str) -> bool:
    """Whether ``name`` is one :func:`temp_name` makes (or ``tempfile.mkstemp`` made,
    before): ``.<name>.<8 random characters>.tmp``."""
    return _TEMP_NAME.fullmatch(name) is not None


_TEMP_NAME = re.compile(r"\..+\.[a-z0-9_]{8}\.tmp", re.DOTALL)


def create_temp_file(target: Path) -> tuple[int, str]:
    """(open descriptor, path) of a new temporary file beside ``target``, to be renamed
    over it.

    Unlike ``tempfile.mkstemp`` (always mode 0600), the file is created with mode 0666
    and the kernel applies the umask and any default ACL, as for any ordinary file: a
    store shared by a group stays readable by that group (``mlcli init --shared=group``).
    """
    for _ in range(_TEMP_ATTEMPTS):
        path = temp_name(target)
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL | _O_CLOEXEC, 0o666)
        except FileExistsError:
            continue
        return fd, str(path)
    raise FileExistsError(f"no free temporary name beside {target}")


def create_temp_dir(target: Path) -> Path:
    """A new temporary folder beside ``target`` (mode 0777 less the umask, unlike
    ``tempfile.mkdtemp``'s 0700), to be renamed into place."""
    for _ in range(_TEMP_ATTEMPTS):
        path = temp_name(target)
        try:
            os.mkdir(path, 0o777)
        except FileExistsError:
            continue
        return path
    raise FileExistsError(f"no free temporary name beside {target}")


_O_CLOEXEC = getattr(os, "O_CLOEXEC", 0)


def read_json(path: Path) -> Any:
    """A JSON document; StoreError names the file when it is not valid JSON."""
    document, problem = read_document(path)
    if problem is not None:
        raise StoreError(f"{path} is {problem}; see 'mlcli fsck'")
    return document


def read_document(path: str | os.PathLike[str]) -> tuple[Any, str | None]:
    """(the JSON document, None), or (None, what is wrong with it), for readers that
    report damage rather than fail on it. A missing file raises FileNotFoundError: it
    is not damaged, it is not there."""
    with open(path, "rb") as handle:
        data = handle.read()
    if not data.strip():
        return None, "empty (a write cut short?)"
    try:
        return json.loads(data), None
    except ValueError as exc:
        return None, f"not valid JSON ({exc})"


def append_bytes(path: str | os.PathLike[str], data: bytes, *, batch: bool = False) -> int:
    """Append ``data`` (complete lines) with a single write, after a newline if the
    file ends in a torn line; the file's size before it.

    Then fsync it if ``MLCLI_SYNC`` asks: ``always`` after every append, ``batch``
    only when ``batch`` is true (a write of a batch or a flush), ``none`` never.

    The check for a torn line and the write hold an advisory lock on the file: without
    it, a writer could see another's write half-done and add a needless empty line.
    Where the filesystem has no locks, the single O_APPEND write alone still keeps
    lines whole.
    """
    mode = sync_mode()
    fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT | _O_CLOEXEC, 0o666)
    try:
        with contextlib.suppress(OSError):
            fcntl.flock(fd, fcntl.LOCK_EX)
        size = os.fstat(fd).st_size
        if size and os.pread(fd, 1, size - 1) != b"\n":
            data = b"\n" + data
        written = os.write(fd, data)
        if written < len(data):
            view = memoryview(data)[written:]
            while view:
                written = os.write(fd, view)
                view = view[written:]
        if mode == SYNC_ALWAYS or (batch and mode == SYNC_BATCH):
            os.fsync(fd)
    finally:
        os.close(fd)  # releases the lock
    return size


def read_log(path: Path, offset: int = 0) -> tuple[list[dict[str, Any]], int]:
    """The records of a JSON-lines log from ``offset``, and the offset to resume at.

    A missing file reads as empty. Lines that are not JSON objects are skipped.
    """
    data, end = read_log_bytes(path, offset)
    return parse_lines(data), end


LOG_CHUNK_BYTES = 256 << 10
"""How much of a log a streaming reader holds at a time (a line longer than this is
read whole). Folding a chunk builds objects several times its size, so small chunks
keep a log of any length to a few MB, and they fold faster than large ones (they stay
in the CPU's caches): a third less time than 4 MB chunks, half that of the whole file."""


def read_log_chunks(
    path: str | os.PathLike[str], offset: int = 0, chunk_size: int = LOG_CHUNK_BYTES
) -> Iterator[tuple[bytes, int]]:
    """The complete lines of a log from ``offset``, about ``chunk_size`` bytes at a
    time, each chunk with the offset just past it (where a reader resumes).

    Chunks are split on their last newline; the rest is carried into the next one, so
    no line is ever cut, and a torn last line (no newline yet) is never yielded. A
    missing file yields nothing.
    """
    try:
        handle = open(path, "rb")  # noqa: SIM115 - closed below, after the last chunk
    except FileNotFoundError:
        return
    with handle:
        if offset:
            handle.seek(offset)
        carried = bytearray()
        while block := handle.read(chunk_size):
            if carried:
                carried += block
                end = carried.rfind(b"\n")
                if end < 0:
                    continue  # a line longer than a chunk: read on until it ends
                data = bytes(carried[: end + 1])
                del carried[: end + 1]
            else:
                end = block.rfind(b"\n")
                if end < 0:
                    carried += block
                    continue
                data = block[: end + 1]
                carried += block[end + 1 :]
            offset += len(data)
            yield data, offset


def read_log_records(
    path: str | os.PathLike[str], offset: int = 0, chunk_size: int = LOG_CHUNK_BYTES
) -> Iterator[dict[str, Any]]:
    """The records of a log from ``offset``, read a chunk at a time (see
    :func:`parse_lines`): for folding a log of any length in bounded memory."""
    for data, _ in read_log_chunks(path, offset, chunk_size):
        yield from parse_lines(data)


def read_log_bytes(path: Path, offset: int = 0) -> tuple[bytes, int]:
    """The complete lines of a log from ``offset`` (a torn last line left out), and the
    offset to resume at."""
    try:
        with open(path, "rb") as handle:
            if offset:
                handle.seek(offset)
            data = handle.read()
    except FileNotFoundError:
        return b"", offset
    end = data.rfind(b"\n")
    if end < 0:
        return b"", offset
    return data[: end + 1], offset + end + 1


def parse_lines(data: bytes) -> list[dict[str, Any]]:
    """The JSON objects of complete lines; lines that are not JSON objects are skipped.

    Fast path: the lines joined into one JSON array, parsed in one call (several times
    faster than a call per line). It is taken only when it yields one value per line;
    a torn or damaged line makes it fail or miscount, and then each line is parsed
    on its own.
    """
    try:
        text = data.decode()
    except UnicodeDecodeError:
        return list(_parse_each_line(data))
    count = text.count("\n")
    if not count or "\n\n" in text or text[0] == "\n":
        return list(_parse_each_line(data))
    body = text[:-1].replace("\n", ",")
    try:
        values = json.loads(f"[{body}]")
    except ValueError:
        return list(_parse_each_line(data))
    if len(values) != count:
        return list(_parse_each_line(data))
    return [value for value in values if isinstance(value, dict)]


def _parse_each_line(data: bytes) -> Iterator[dict[str, Any]]:
    loads = json.loads
    for line in data.split(b"\n"):
        if not line:
            continue
        try:
            record = loads(line)
        except ValueError:
            continue  # a torn line from a killed writer
        if isinstance(record, dict):
            yield record


def file_size(path: str | os.PathLike[str]) -> int:
    try:
        return os.stat(path).st_size
    except FileNotFoundError:
        return 0
