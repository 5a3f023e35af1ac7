"""A plain ``mlcli run`` (and so each trial) pays only for reading -P values; optuna is
imported by ``--sweep optuna`` alone."""

from __future__ import annotations

import os
from pathlib import Path


def _sweep_modules(loaded_modules, args: list[str], cwd: Path) -> set[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLCLI_")}
    env["MLCLI_STORE"] = str(cwd / ".mlruns")
    loaded = loaded_modules(*args, cwd=cwd, env=env, full=True)
    return {m for m in loaded if m.startswith("mlcli.sweeps.") or m == "optuna"}


def test_a_plain_run_reads_its_values_and_nothing_more(tmp_path: Path, loaded_modules) -> None:
    (tmp_path / "train.py").write_text("print('ok')\n")
    args = ["run", str(tmp_path), "-e", "train.py", "-P", 'x="[1]"']
    # choice: whether the values make a sweep, and the options only a sweep takes
    assert _sweep_modules(loaded_modules, args, tmp_path) == {
        "mlcli.sweeps.choice", "mlcli.sweeps.domains", "mlcli.sweeps.expressions",
        "mlcli.sweeps.quoting", "mlcli.sweeps.spec",
    }  # fmt: skip


def test_a_grid_sweep_does_not_import_optuna(tmp_path: Path, loaded_modules) -> None:
    (tmp_path / "train.py").write_text("print('ok')\n")
    args = ["run", str(tmp_path), "-e", "train.py", "-P", "x=[1,2]", "-q"]
    loaded = _sweep_modules(loaded_modules, args, tmp_path)
    assert "mlcli.sweeps.runner" in loaded and "optuna" not in loaded
