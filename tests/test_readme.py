"""The README's quick start runs exactly as written, in a fresh directory."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _quick_start_blocks() -> list[str]:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```bash\n(.*?)```", section, flags=re.S)


def test_quick_start_runs_as_written(tmp_path: Path) -> None:
    """In a copy of the repository's examples, as the README's "from the top of this
    repository" says."""
    blocks = _quick_start_blocks()
    assert blocks, "the README has no quick start"
    shutil.copytree(ROOT / "examples", tmp_path / "examples", symlinks=True)
    shutil.copy(ROOT / "MLproject.example", tmp_path)
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
    store = tmp_path / ".mlruns"
    assert (store / "VERSION").exists()
    assert "stronger" in result.stdout and '"run_name": "baseline"' in result.stdout
