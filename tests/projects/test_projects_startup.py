"""`mlcli run` stays light: nothing heavy is imported for help or for a local run."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

HEAVY = ("git", "docker", "virtualenv", "yaml", "requests", "urllib3")

PROBE = f"""
import sys
from mlcli.cli.main import main
try:
    main(sys.argv[1:])
except SystemExit:
    pass
heavy = sorted({{name.split(".")[0] for name in sys.modules}} & set({HEAVY!r}))
sys.stderr.write("\\nHEAVY=" + ",".join(heavy) + "\\n")
"""


def _heavy(args: list[str], cwd: Path) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLCLI_")}
    env["MLCLI_STORE"] = str(cwd / ".mlruns")
    result = subprocess.run(
        [sys.executable, "-c", PROBE, *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "mlcli: error" not in result.stderr, result.stderr
    return result.stderr.rsplit("HEAVY=", 1)[1].strip()


def test_help_imports_nothing_heavy(tmp_path: Path) -> None:
    assert _heavy(["run", "--help"], tmp_path) == ""


def test_a_local_run_imports_only_yaml(tmp_path: Path) -> None:
    (tmp_path / "train.py").write_text("print('ok')\n")
    assert _heavy(["run", str(tmp_path), "-e", "train.py"], tmp_path) == ""
    (tmp_path / "MLproject").write_text("entry_points: {main: {command: 'python train.py'}}\n")
    assert _heavy(["run", str(tmp_path)], tmp_path) == "yaml"
