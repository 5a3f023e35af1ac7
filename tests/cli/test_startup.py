"""Start-up stays cheap: the common commands import nothing heavy."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

HEAVY = (
    "git",
    "docker",
    "virtualenv",
    "yaml",
    "pandas",
    "numpy",
    "sklearn",
    "starlette",
    "uvicorn",
    "rich",
    "cloudpickle",
    "skops",
    "pydantic",
    "matplotlib",
    "mlflow",
)

PROBE = f"""
import sys
from mlcli.cli.main import main
try:
    main(sys.argv[1:])
except SystemExit:
    pass
heavy = sorted({{name.split(".")[0] for name in sys.modules}} & set({HEAVY!r}))
sys.stderr.write("HEAVY=" + ",".join(heavy) + "\\n")
"""


def _heavy_imports(args: list[str], cwd: Path) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLCLI_")}
    result = subprocess.run(
        [sys.executable, "-c", PROBE, *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    return result.stderr.rsplit("HEAVY=", 1)[1].strip()


def test_version_help_and_log_metric_import_nothing_heavy(tmp_path: Path, mlcli_process) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLCLI_")}
    run_id = mlcli_process("runs", "create", "-q", cwd=tmp_path, env=env).stdout.strip()
    assert _heavy_imports(["--version"], tmp_path) == ""
    assert _heavy_imports(["log", "metric", "loss", "0.5", "--run", run_id], tmp_path) == ""
    assert _heavy_imports(["runs", "list", "-q"], tmp_path) == ""
    # Help is drawn with rich (and only rich) when it is installed.
    assert _heavy_imports(["--help"], tmp_path) in ("", "rich")
