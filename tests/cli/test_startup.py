"""Start-up stays cheap: commands import nothing heavy they do not need.

Users call mlcli in loops, hooks and every sweep trial, so what a command imports is
what it costs. Each group's own startup expectations live with its tests; this file
checks the commands everyone runs."""

from __future__ import annotations

from pathlib import Path

import pytest

HEAVY = {
    "git", "docker", "virtualenv", "yaml", "requests", "urllib3", "pandas", "numpy",
    "sklearn", "skops", "cloudpickle", "matplotlib", "mlflow", "starlette", "uvicorn",
    "rich", "pydantic", "optuna", "playwright", "pyarrow", "boto3", "botocore",
    "prometheus_client",
}  # fmt: skip


@pytest.mark.parametrize(
    "args",
    [
        ["--version"],
        ["runs", "list", "-q"],
        ["experiments", "list", "-q"],
        ["compare", "--json"],
        ["models", "list", "-q"],
    ],
)
def test_everyday_commands_import_nothing_heavy(args, store_root: Path, loaded_modules) -> None:
    assert loaded_modules(*args, cwd=store_root.parent) & HEAVY == set()


def test_log_metric_imports_nothing_heavy(cli, store_root: Path, loaded_modules) -> None:
    run_id = cli("runs", "create", "-q").stdout.strip()
    args = ["log", "metric", "loss", "0.5", "--run", run_id]
    assert loaded_modules(*args, cwd=store_root.parent) & HEAVY == set()


@pytest.mark.parametrize(
    "args",
    [
        ["--help"],
        ["run", "--help"],
        ["serve", "--help"],
        ["server", "--help"],
        ["ui", "--help"],
        ["models", "--help"],
        ["evaluate", "--help"],
    ],
)
def test_help_draws_with_rich_and_nothing_else_heavy(args, tmp_path: Path, loaded_modules) -> None:
    assert loaded_modules(*args, cwd=tmp_path) & HEAVY <= {"rich"}
