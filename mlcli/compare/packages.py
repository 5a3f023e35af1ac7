"""The packages a run ran with: its ``environment/requirements.txt`` artifact (written
by ``mlcli run``, in ``pip freeze``'s form), read as name -> version.

Names are compared in their normalised form (``Scikit_Learn`` is ``scikit-learn``).
A direct reference (``name @ url``) reads as ``@ url``; an editable install as
``-e location`` under the name its comment gives.
"""

from __future__ import annotations

import re
from pathlib import Path

from mlcli.capture.environment import REQUIREMENTS_ARTIFACT

__all__ = ["REQUIREMENTS_ARTIFACT", "parse_requirements", "read_packages"]

_EDITABLE_COMMENT = re.compile(r"^#.*\(([^=()\s]+)==[^()]*\)\s*$")
_EGG = re.compile(r"#(?:.*&)?egg=([^&\s]+)")
_PINNED = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[[^\]]*\])?\s*==\s*(\S+)")
_DIRECT = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[[^\]]*\])?\s*@\s*(\S+)")


def read_packages(artifacts: Path) -> dict[str, str] | None:
    """The packages a run's artifact folder records; None when it has no listing."""
    path = artifacts / REQUIREMENTS_ARTIFACT
    try:
        text = path.read_text(errors="replace")
    except (FileNotFoundError, NotADirectoryError):
        return None
    return parse_requirements(text)


def parse_requirements(text: str) -> dict[str, str]:
    packages: dict[str, str] = {}
    editable_name: str | None = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        if line.startswith("#"):
            match = _EDITABLE_COMMENT.match(line)
            editable_name = match.group(1) if match else editable_name
            continue
        if line.startswith("-e ") or line.startswith("--editable "):
            location = line.split(None, 1)[1]
            egg = _EGG.search(location)
            name = editable_name or (
                egg.group(1) if egg else location.rstrip("/").rsplit("/", 1)[-1]
            )
            packages[normalize(name)] = f"-e {location}"
        elif match := _PINNED.match(line):
            packages[normalize(match.group(1))] = match.group(2)
        elif match := _DIRECT.match(line):
            packages[normalize(match.group(1))] = f"@ {match.group(2)}"
        editable_name = None
    return packages


def normalize(name: str) -> str:
    """PEP 503's form of a distribution name."""
    return re.sub(r"[-_.]+", "-", name).lower()
