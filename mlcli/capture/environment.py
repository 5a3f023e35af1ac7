"""Environment capture: the packages of the Python an entry point runs with, in
``pip freeze``'s form, and facts about the machine, as tags.

The packages are listed by a short script (``listing.py``) run with the environment's
own ``python`` (so a virtualenv or a conda environment reports itself, not mlcli's;
for ``local``, mlcli's own environment, it is imported instead). It reads the
package metadata on ``sys.path`` directly, as ``pip freeze --all`` would list it:
``name==version``, ``name @ url`` for a direct reference, ``-e location`` for an
editable install (after a comment naming it). It needs no pip (environments made by
uv have none) and takes a few tens of milliseconds where ``pip freeze`` takes a
second, which matters because it runs beside every entry point.
"""

from __future__ import annotations

import json
import os
import platform
import re
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlcli import system_tags
from mlcli.capture.gpu import GpuSample, describe_gpus

REQUIREMENTS_ARTIFACT = "environment/requirements.txt"
#: The package listing, a standalone script of the standard library only: run by the
#: environment's own ``python``, or imported here for the environment mlcli runs in.
LISTING_SCRIPT = Path(__file__).with_name("listing.py")


def freeze_command() -> str:
    """The shell command that lists the packages of the environment's ``python``."""
    return f"python {shlex.quote(str(LISTING_SCRIPT))}"


def current_environment() -> PythonEnvironment:
    """The listing of the environment running mlcli (``local``), without a process."""
    from mlcli.capture import listing

    return environment_from(listing.describe())


@dataclass(frozen=True)
class Package:
    name: str
    version: str
    line: str | None = None  # a direct reference or an editable install

    def requirement(self) -> str:
        if self.line is None:
            return f"{self.name}=={self.version}"
        if self.line.startswith("-e "):
            return f"# Editable install ({self.name}=={self.version})\n{self.line}"
        return self.line


@dataclass(frozen=True)
class PythonEnvironment:
    python_version: str
    executable: str
    packages: tuple[Package, ...]

    def requirements_text(self) -> str:
        header = (
            f"# The packages of the environment the entry point ran in (Python "
            f"{self.python_version}, {self.executable}), captured by mlcli run.\n"
        )
        return header + "".join(f"{p.requirement()}\n" for p in self.packages)


def parse_freeze_output(text: str) -> PythonEnvironment:
    """The listing script's JSON line (the last line of its output); ValueError if
    there is none."""
    for line in reversed(text.strip().splitlines()):
        if line.startswith("{"):
            return environment_from(json.loads(line))
    raise ValueError("the package listing printed nothing")


def environment_from(data: dict[str, Any]) -> PythonEnvironment:
    packages = tuple(Package(str(n), str(v), ref) for n, v, ref in data["packages"])
    return PythonEnvironment(str(data["python"]), str(data["executable"]), packages)


def machine_tags(gpus: list[GpuSample]) -> dict[str, str]:
    """``mlcli.system.*`` tags: CPU count and model, memory, GPU count and models."""
    tags = {system_tags.SYSTEM_CPU_COUNT: str(os.cpu_count() or 0)}
    model = cpu_model()
    if model:
        tags[system_tags.SYSTEM_CPU] = model
    memory = total_memory_bytes()
    if memory:
        tags[system_tags.SYSTEM_MEMORY] = f"{memory / 1e9:.1f} GB"
    tags[system_tags.SYSTEM_GPU_COUNT] = str(len(gpus))
    if gpus:
        tags[system_tags.SYSTEM_GPU] = describe_gpus(gpus)
    return tags


def cpu_model(cpuinfo: Path = Path("/proc/cpuinfo")) -> str:
    try:
        text = cpuinfo.read_text(errors="replace")
    except OSError:
        return platform.processor()
    match = re.search(r"^(?:model name|Hardware|cpu model)\s*:\s*(.+)$", text, re.MULTILINE)
    return match.group(1).strip() if match else platform.processor()


def total_memory_bytes() -> int | None:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # a platform without these names
        return None
