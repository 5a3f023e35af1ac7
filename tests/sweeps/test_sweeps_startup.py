"""A plain ``mlcli run`` (and so each trial) pays only for reading -P values; optuna is
imported by ``--sweep optuna`` alone."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

PROBE = """
import sys
from mlcli.cli.main import main
try:
    main(sys.argv[1:])
except SystemExit:
    pass
loaded = sorted(m for m in sys.modules if m.startswith("mlcli.sweeps.") or m == "optuna")
sys.stderr.write("\\nLOADED=" + ",".join(loaded) + "\\n")
"""


def _loaded(args: list[str], cwd: Path) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLCLI_")}
    env["MLCLI_STORE"] = str(cwd / ".mlruns")
    result = subprocess.run(
        [sys.executable, "-c", PROBE, *args], cwd=cwd, env=env, capture_output=True, text=True
    )
    assert "mlcli: error" not in result.stderr, result.stderr
    return result.stderr.rsplit("LOADED=", 1)[1].strip()


def test_a_plain_run_reads_its_values_and_nothing_more(tmp_path: Path) -> None:
    (tmp_path / "train.py").write_text("print('ok')\n")
    loaded = _loaded(["run", str(tmp_path), "-e", "train.py", "-P", 'x="[1]"'], tmp_path)
    assert (
        loaded
        == "mlcli.sweeps.domains,mlcli.sweeps.expressions,mlcli.sweeps.quoting,mlcli.sweeps.spec"
    )


def test_a_grid_sweep_does_not_import_optuna(tmp_path: Path) -> None:
    (tmp_path / "train.py").write_text("print('ok')\n")
    loaded = _loaded(["run", str(tmp_path), "-e", "train.py", "-P", "x=[1,2]", "-q"], tmp_path)
    assert "mlcli.sweeps.runner" in loaded.split(",") and "optuna" not in loaded.split(",")
