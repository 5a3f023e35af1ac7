"""A local wheel folder made from the distributions installed in this interpreter, so
that a virtualenv can be built with no index at all (``PIP_NO_INDEX``/``UV_NO_INDEX``).

Each installed distribution is packed back into a wheel from the files its RECORD
lists, with the tags its WHEEL file recorded: compiled packages (numpy, pandas)
included, since the wheel is for this same interpreter and platform. Console scripts
are left out (installers write them again from ``entry_points.txt``).
"""

from __future__ import annotations

import base64
import hashlib
import re
import zipfile
from collections.abc import Iterable
from importlib import metadata
from pathlib import Path

_DROPPED = {"INSTALLER", "REQUESTED", "RECORD", "direct_url.json"}


def closure(names: Iterable[str]) -> list[metadata.Distribution]:
    """The installed distributions ``names`` and everything they require (no extras)."""
    from packaging.requirements import Requirement

    found: dict[str, metadata.Distribution] = {}
    pending = [_canonical(n) for n in names]
    while pending:
        name = pending.pop()
        if name in found:
            continue
        dist = metadata.distribution(name)
        found[name] = dist
        for text in dist.requires or []:
            requirement = Requirement(text)
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                pending.append(_canonical(requirement.name))
    return list(found.values())


def repack(dist: metadata.Distribution, folder: Path) -> Path:
    name = dist.metadata["Name"]
    version = dist.version
    info = next(f for f in dist.files or [] if f.parent.name.endswith(".dist-info")).parent
    wheel_text = (Path(str(dist.locate_file(info / "WHEEL")))).read_text()
    tag = re.search(r"^Tag: (\S+)$", wheel_text, re.MULTILINE)[1]  # type: ignore[index]
    target = folder / f"{re.sub(r'[-_.]+', '_', name)}-{version}-{tag}.whl"
    record = []
    with zipfile.ZipFile(target, "w", zipfile.ZIP_STORED) as archive:
        for relative in dist.files or []:
            text = str(relative)
            if text.startswith("..") or "__pycache__" in text or relative.name in _DROPPED:
                continue
            path = Path(str(dist.locate_file(relative)))
            if not path.is_file():
                continue
            data = path.read_bytes()
            archive.writestr(text, data)
            digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
            record.append(f"{text},sha256={digest.decode()},{len(data)}")
        record.append(f"{info}/RECORD,,")
        archive.writestr(f"{info}/RECORD", "\n".join(record) + "\n")
    return target


def make_wheelhouse(names: Iterable[str], folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for dist in closure(names):
        repack(dist, folder)
    return folder


def write_wheel(folder: Path, name: str, version: str, files: dict[str, str]) -> Path:
    """A minimal pure-Python wheel of ``files``."""
    folder.mkdir(parents=True, exist_ok=True)
    info = f"{name.replace('-', '_')}-{version}.dist-info"
    contents = dict(files)
    contents[f"{info}/METADATA"] = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
    contents[f"{info}/WHEEL"] = (
        "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    )
    record = []
    for path, text in contents.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=")
        record.append(f"{path},sha256={digest.decode()},{len(text.encode())}")
    contents[f"{info}/RECORD"] = "\n".join([*record, f"{info}/RECORD,,"]) + "\n"
    wheel = folder / f"{name.replace('-', '_')}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for path, text in contents.items():
            archive.writestr(path, text)
    return wheel


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()
