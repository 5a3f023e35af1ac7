"""Whether a ``.pt2`` archive (``torch.export.save``) loads without running pickled code.

``torch.export.load`` unpickles some records of the archive with a full unpickler, so an
archive from elsewhere could run anything. An archive passes this check only when every
record is one of:

- plain text (the short version records) or JSON (the graph, the payload configs);
- a raw tensor: a weight or constant that a payload config marks ``use_pickle: false``,
  read as bytes, never unpickled;
- a ``torch.save`` checkpoint (the sample inputs) whose pickle, read by its opcodes
  without running it, imports only ``torch`` and ``collections``, and that torch's own
  restricted loader (``weights_only=True``) accepts.

The same rules as MLflow's (``mlflow.pytorch``, 3.18), so the archives that MLflow loads
without its opt-in load in mlcli too; anything else needs the opt-in
(:mod:`mlcli.models.trust`). Before torch 2.10 the restricted loader could be fooled
(CVE-2025-32434, CVE-2026-24747), so there no archive passes.
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from typing import Any

from mlcli.models.pickle_scan import imported_modules

_TEXT_RECORDS = {"version", "archive_format", "archive_version", "byteorder", "serialization_id"}
_TEXT_CONTENT = re.compile(rb"[A-Za-z0-9._-]{1,64}\n?")
_PAYLOAD_CONFIG = re.compile(r"(?:^|/)data/(?:weights|constants)/[^/]+_config\.json$")
_RAW_PREFIXES = ("weight_", "tensor_")
_CHECKPOINT_MODULES = {"torch", "torch._utils", "collections"}


def unsafe_reason(data: bytes) -> str | None:
    """Why loading the archive ``data`` could run pickled code (its first such record),
    or None when it cannot."""
    import torch

    release = torch.__version__.split("+")[0].split(".")[:2]
    if tuple(int(part) for part in release if part.isdigit()) < (2, 10):
        return "torch older than 2.10 cannot check it for pickles"
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        return "it is not a zip archive"
    with archive:
        names = [info.filename for info in archive.infolist() if not info.is_dir()]
        raw = _raw_tensor_records({n: archive.read(n) for n in names if _PAYLOAD_CONFIG.search(n)})
        for name in names:
            if name not in raw and not _is_safe_record(name, archive.read(name)):
                return f"its record {name} is not tensors or text and would be unpickled"
    return None


def _raw_tensor_records(configs: dict[str, bytes]) -> set[str]:
    """The records that the payload configs say are read as raw tensor bytes."""
    raw: set[str] = set()
    pickled: set[str] = set()
    for name, content in configs.items():
        document = _json(content)
        entries = document.get("config") if isinstance(document, dict) else None
        if not isinstance(entries, dict):
            continue
        folder = name.rsplit("/", 1)[0]
        for entry in entries.values():
            path = entry.get("path_name") if isinstance(entry, dict) else None
            if not isinstance(path, str) or "/" in path:
                continue
            record = f"{folder}/{path}"
            if entry.get("use_pickle") is False and path.startswith(_RAW_PREFIXES):
                raw.add(record)
            else:
                pickled.add(record)
    return raw - pickled


def _is_safe_record(name: str, content: bytes) -> bool:
    if name.rsplit("/", 1)[-1] in _TEXT_RECORDS and _TEXT_CONTENT.fullmatch(content):
        return True
    if _json(content) is not None:
        return True
    return _is_tensor_checkpoint(content)


def _is_tensor_checkpoint(content: bytes) -> bool:
    """Whether ``content`` is a ``torch.save`` file of tensors only (see the module)."""
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as checkpoint:
            pickles = [n for n in checkpoint.namelist() if n.rsplit("/", 1)[-1] == "data.pkl"]
            if not pickles:
                return False
            for member in pickles:
                if not imported_modules(checkpoint.read(member)) <= _CHECKPOINT_MODULES:
                    return False
    except zipfile.BadZipFile:
        return False
    import torch

    try:
        torch.load(io.BytesIO(content), map_location="cpu", weights_only=True)
    except Exception:  # torch's restricted loader refused it, for whatever reason
        return False
    return True


def _json(content: bytes) -> Any:
    try:
        return json.loads(content.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None
