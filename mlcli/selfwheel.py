"""A wheel of the running mlcli, built from its installed files.

Containers and serving environments get mlcli by installing this wheel, so the code
that runs inside them is the code that created the run; a custom model that cannot
load without mlcli carries it (:mod:`mlcli.models.flavors.python_function`). It is a
part of its own, which projects, scoring and models all use. It is written directly
(mlcli is pure Python): no build backend, no source tree needed, a few milliseconds.
Timestamps are fixed, so the same code always gives the same bytes, and the digest can
name an image.
"""

from __future__ import annotations

import base64
import hashlib
import io
import zipfile
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from mlcli.version import __version__

_EPOCH = (1980, 1, 1, 0, 0, 0)
# needed to launch projects, not to log in a container; gitpython and docker stay listed
# for installs whose metadata predates their removal (docker is now the extra "docker")
_HOST_ONLY = {"docker", "gitpython", "virtualenv"}


@dataclass(frozen=True)
class SelfWheel:
    filename: str
    data: bytes
    requirements: tuple[str, ...]

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


def build_self_wheel() -> SelfWheel:
    """The wheel, and the requirements a container needs to log with it."""
    version = __version__
    dist_info = f"mlcli-{version}.dist-info"
    files: list[tuple[str, bytes]] = []
    package = Path(__file__).resolve().parent
    for path in sorted(package.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
            files.append((f"mlcli/{path.relative_to(package).as_posix()}", path.read_bytes()))
    metadata_text, requirements = _metadata(version)
    files.append((f"{dist_info}/METADATA", metadata_text.encode()))
    files.append(
        (
            f"{dist_info}/WHEEL",
            b"Wheel-Version: 1.0\nGenerator: mlcli\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
        )
    )
    files.append(
        (f"{dist_info}/entry_points.txt", b"[console_scripts]\nmlcli = mlcli.cli.main:main\n")
    )
    record = [f"{name},sha256={_b64digest(data)},{len(data)}" for name, data in files]
    record.append(f"{dist_info}/RECORD,,")
    files.append((f"{dist_info}/RECORD", ("\n".join(record) + "\n").encode()))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in files:
            info = zipfile.ZipInfo(name, date_time=_EPOCH)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data)
    return SelfWheel(f"mlcli-{version}-py3-none-any.whl", buffer.getvalue(), requirements)


def _metadata(version: str) -> tuple[str, tuple[str, ...]]:
    """METADATA for the wheel (without Requires-Dist: the container installs the
    requirements it needs itself) and those requirements."""
    try:
        declared = metadata.requires("mlcli") or []
    except metadata.PackageNotFoundError:
        declared = ["typer>=0.26,<0.29", "rich>=13", "pyyaml>=6"]
    requirements = tuple(
        r for r in declared if "extra ==" not in r and _requirement_name(r) not in _HOST_ONLY
    )
    text = f"Metadata-Version: 2.1\nName: mlcli\nVersion: {version}\n"
    return text, requirements


def _requirement_name(requirement: str) -> str:
    name = requirement
    for stop in "<>=!~;[ (":
        name = name.split(stop, 1)[0]
    return name.strip().lower().replace("_", "-")


def _b64digest(data: bytes) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
