"""The real command against one store, in a subprocess, as a user's shell runs it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def mlcli_on(store: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """``mlcli ARGS`` run in ``cwd`` with ``MLCLI_STORE=store`` and no other MLCLI_ setting."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("MLCLI_")}
    environ["MLCLI_STORE"] = str(store)
    return subprocess.run(
        [sys.executable, "-m", "mlcli", *args],
        cwd=cwd,
        env=environ,
        capture_output=True,
        text=True,
        timeout=120,
    )
