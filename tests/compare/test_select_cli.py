"""`mlcli select`: the best run's id alone on stdout, for `$(...)` in scripts."""

from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path


def test_max_and_min(cli, add_run) -> None:
    add_run("a", metrics={"acc": 0.7, "loss": 0.2}, start_time=1_000)
    best_acc = add_run("b", metrics={"acc": 0.9, "loss": 0.3}, start_time=2_000)
    best_loss = add_run("c", metrics={"acc": 0.8, "loss": 0.1}, start_time=3_000)
    add_run("d", metrics={"other": 1.0}, start_time=4_000)
    assert cli("select", "--max", "acc").stdout == best_acc + "\n"
    assert cli("select", "--min", "metrics.loss").stdout == best_loss + "\n"
    assert cli("select", "--max", "acc", "--json").json()["run_id"] == best_acc


def test_filter_experiment_and_ties(cli, add_run) -> None:
    add_run("a", params={"model": "rf"}, metrics={"acc": 0.9}, start_time=1_000, experiment="x")
    newer = add_run(
        "b", params={"model": "rf"}, metrics={"acc": 0.9}, start_time=2_000, experiment="x"
    )
    add_run("c", params={"model": "svm"}, metrics={"acc": 0.99}, experiment="x")
    add_run("d", params={"model": "rf"}, metrics={"acc": 1.0}, experiment="y")
    result = cli("select", "--max", "acc", "-x", "x", "--filter", "params.model = 'rf'")
    assert result.stdout == newer + "\n"  # a tie goes to the newest run


def test_nan_never_wins(cli, add_run) -> None:
    best = add_run("a", metrics={"loss": 0.5}, start_time=1_000)
    add_run("b", metrics={"loss": math.nan}, start_time=2_000)
    assert cli("select", "--min", "loss").stdout == best + "\n"
    assert cli("select", "--max", "loss").stdout == best + "\n"


def test_failures_exit_1_with_a_message(cli, add_run) -> None:
    add_run("a", params={"model": "rf"}, metrics={"acc": 0.5})
    add_run("b", metrics={"loss": math.nan})
    none = cli("select", "--max", "acc", "--filter", "params.model = 'svm'")
    assert (none.exit_code, none.stdout) == (1, "")
    assert none.stderr == "mlcli: error: no run matches: params.model = 'svm'\n"
    lacking = cli("select", "--max", "f1")
    assert lacking.exit_code == 1
    assert lacking.stderr == "mlcli: error: no matching run has a value for metric 'f1'\n"
    nan = cli("select", "--min", "loss")
    assert nan.exit_code == 1
    assert nan.stderr == "mlcli: error: every matching run has NaN for metric 'loss'\n"


def test_usage_errors_exit_2(cli, add_run) -> None:
    add_run("a", metrics={"acc": 0.5})
    assert cli("select").exit_code == 2
    both = cli("select", "--max", "acc", "--min", "acc")
    assert both.exit_code == 2 and "one of --max METRIC or --min METRIC" in both.stderr
    assert cli("select", "--max", "acc", "--filter", "metrics.acc >").exit_code == 2


def test_in_a_shell_substitution(add_run, workdir: Path) -> None:
    best = add_run("a", metrics={"acc": 0.9})
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLCLI_")}
    script = f'BEST=$("{sys.executable}" -m mlcli select --max acc) && echo "best=$BEST"'
    result = subprocess.run(
        ["bash", "-c", script], cwd=workdir, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.stdout == f"best={best}\n", result.stderr
