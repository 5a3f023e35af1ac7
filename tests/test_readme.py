"""The README's quick start runs exactly as written, in a fresh directory."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _quick_start_blocks() -> list[str]:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```bash\n(.*?)```", section, flags=re.S)


def test_quick_start_runs_as_written(tmp_path: Path) -> None:
    blocks = _quick_start_blocks()
    assert blocks, "the README has no quick start"
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLCLI_")}
    script = "\n".join(blocks)  # one shell session, as a reader types it
    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, f"{script}\n---\n{result.stdout}\n{result.stderr}"
    assert (tmp_path / "demo" / ".mlruns" / "VERSION").exists()
    assert not (tmp_path / ".mlruns").exists()
