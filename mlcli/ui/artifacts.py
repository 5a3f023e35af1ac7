"""The artifacts browser: listings, previews and how a file is sent.

Every path goes through ``ArtifactRepository.resolve``, which refuses ``..``, absolute
paths and symlinks leading out of the run's artifacts; a listing shows a symlink as a
link (``symlink`` holds where it points), not as what it leads to. A preview reads at most
PREVIEW_BYTES. Files are sent as downloads, except images, which are sent inline for
the preview; an artifact is never sent as HTML, and every file response carries a
sandboxing Content-Security-Policy, so that opening one cannot run a script in the
dashboard's origin (an SVG may hold scripts).
"""

from __future__ import annotations

import csv
import io
import json
import posixpath
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlcli.errors import InvalidInputError
from mlcli.store import Artifacts, normalize_artifact_path
from mlcli.tracking import TrackingClient

PREVIEW_BYTES = 1024 * 1024
TABLE_ROWS = 500
IMAGE_TYPES = {
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".webp": "image/webp",
    ".bmp": "image/bmp",
    ".svg": "image/svg+xml",
}
JSON_SUFFIXES = (".json",)
YAML_SUFFIXES = (".yaml", ".yml")
YAML_NAMES = ("MLmodel", "MLproject")
TABLE_SUFFIXES = {".csv": ",", ".tsv": "\t"}


@dataclass(frozen=True)
class ArtifactFile:
    """A file to send: where it is and the headers that go with it."""

    path: Path
    media_type: str
    disposition: str  # "inline" or "attachment"
    filename: str


def listing(client: TrackingClient, run_ref: str, path: str = "") -> dict[str, Any]:
    """The entries directly inside ``path`` (directories first)."""
    run_id = client.resolve_run_id(run_ref)
    repo = client.store.artifacts(run_id)
    relative = normalize_artifact_path(path) if path else ""
    if relative:
        target = repo.resolve(relative)
        if not target.is_dir():
            raise InvalidInputError(f"artifact {relative!r} is a file, not a directory")
    elif not repo.root.is_dir():
        return {"run_id": run_id, "path": "", "entries": []}
    entries = [
        {
            "path": info.path,
            "name": posixpath.basename(info.path),
            "is_dir": info.is_dir,
            "file_size": info.file_size,
            "symlink": info.symlink,
        }
        for info in repo.list(relative or None)
    ]
    return {"run_id": run_id, "path": relative, "entries": entries}


def preview(client: TrackingClient, run_ref: str, path: str) -> dict[str, Any]:
    """What the browser shows of one file: ``kind`` is text, json, yaml, table, image
    or binary; text kinds carry ``text``, a table ``rows``, an image its ``url``."""
    run_id = client.resolve_run_id(run_ref)
    repo = client.store.artifacts(run_id)
    relative, target = _file(repo, path)
    size = target.stat().st_size
    name = posixpath.basename(relative)
    suffix = Path(name).suffix.lower()
    result: dict[str, Any] = {"run_id": run_id, "path": relative, "name": name, "size": size}
    if suffix in IMAGE_TYPES:
        return {**result, "kind": "image", "media_type": IMAGE_TYPES[suffix]}
    with open(target, "rb") as handle:
        data = handle.read(PREVIEW_BYTES)
    truncated = size > len(data)
    text = _as_text(data, truncated)
    if text is None:
        return {**result, "kind": "binary"}
    result["truncated"] = truncated
    if suffix in TABLE_SUFFIXES:
        rows, more = _table(text, TABLE_SUFFIXES[suffix], truncated)
        return {**result, "kind": "table", "rows": rows, "truncated": more}
    if suffix in JSON_SUFFIXES and not truncated:
        try:
            parsed = json.loads(text)
        except ValueError as exc:
            return {**result, "kind": "text", "text": text, "note": f"not valid JSON: {exc}"}
        return {**result, "kind": "json", "text": json.dumps(parsed, indent=2, ensure_ascii=False)}
    if suffix in YAML_SUFFIXES or name in YAML_NAMES:
        return {**result, "kind": "yaml", "text": text}
    return {**result, "kind": "text", "text": text}


def artifact_file(
    client: TrackingClient, run_ref: str, path: str, download: bool = False
) -> ArtifactFile:
    """How to send one file: images inline for previews, everything else as a download,
    never as HTML."""
    repo = client.store.artifacts(client.resolve_run_id(run_ref))
    relative, target = _file(repo, path)
    name = posixpath.basename(relative)
    suffix = Path(name).suffix.lower()
    if suffix in IMAGE_TYPES and not download:
        return ArtifactFile(target, IMAGE_TYPES[suffix], "inline", name)
    textual = _looks_textual(suffix)
    media_type = "text/plain; charset=utf-8" if textual else "application/octet-stream"
    return ArtifactFile(target, media_type, "attachment", name)


def _file(repo: Artifacts, path: str) -> tuple[str, Path]:
    relative = normalize_artifact_path(path or "")
    if not relative:
        raise InvalidInputError("name an artifact file (path=...)")
    target = repo.resolve(relative)
    if target.is_dir():
        raise InvalidInputError(f"artifact {relative!r} is a directory")
    if not target.is_file():  # a FIFO would block the reader
        raise InvalidInputError(f"artifact {relative!r} is not a regular file")
    return relative, target


def _as_text(data: bytes, truncated: bool) -> str | None:
    """The bytes as UTF-8 text, or None when they look binary."""
    if b"\x00" in data[:8192]:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        # A multi-byte character cut at the preview's end is not a sign of binary data.
        if truncated and exc.start >= len(data) - 3:
            return data[: exc.start].decode("utf-8", errors="replace")
        return None


def _table(text: str, delimiter: str, truncated: bool) -> tuple[list[list[str]], bool]:
    lines = text.splitlines(keepends=True)
    if truncated and lines:  # the last line may be cut short
        lines = lines[:-1]
    rows: list[list[str]] = []
    try:
        for row in csv.reader(io.StringIO("".join(lines)), delimiter=delimiter):
            if len(rows) == TABLE_ROWS + 1:  # the header and TABLE_ROWS rows
                return rows, True
            rows.append(row)
    except csv.Error:
        pass
    return rows, truncated


def _looks_textual(suffix: str) -> bool:
    return suffix in (
        *JSON_SUFFIXES,
        *YAML_SUFFIXES,
        *TABLE_SUFFIXES,
        ".txt",
        ".log",
        ".md",
        ".diff",
        ".patch",
        ".py",
        ".toml",
        ".cfg",
        ".ini",
    )
