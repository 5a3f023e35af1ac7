"""Run mlcli in a fresh interpreter where the Docker SDK cannot be imported.

A meta path finder refuses ``docker`` and its submodules before any other finder
sees them, as if the ``docker`` extra were not installed; everything else imports as
usual.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

_WITHOUT_DOCKER = """
import sys

class NoDocker:
    def find_spec(self, name, path=None, target=None):
        if name == "docker" or name.startswith("docker."):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None

sys.meta_path.insert(0, NoDocker())
for loaded in [name for name in sys.modules if name == "docker" or name.startswith("docker.")]:
    del sys.modules[loaded]
sys.argv = ["mlcli", *sys.argv[1:]]
from mlcli.cli.main import main
main()
"""


def mlcli_without_docker(*args: str, cwd: Path, env: dict[str, str]) -> Any:
    """``mlcli ARGS`` (exit code, stdout, stderr) with no importable Docker SDK."""
    return subprocess.run(
        [sys.executable, "-c", _WITHOUT_DOCKER, *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
