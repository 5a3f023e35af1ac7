"""Fixtures: stores of runs built through the store API, and real git repositories."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from mlcli.store import Metric, Store

AddRun = Callable[..., str]


@pytest.fixture
def store(store_root: Path, monkeypatch: pytest.MonkeyPatch) -> Store:
    """The working directory's store, also named by MLCLI_STORE (tests change directory)."""
    monkeypatch.setenv("MLCLI_STORE", str(store_root))
    return Store.open(store_root)


@pytest.fixture
def add_run(store: Store) -> AddRun:
    """Create a finished run: ``add_run("name", params={...}, metrics={"acc": [0.1, 0.5]})``
    logs a list of values at steps 0, 1, ... (the last is the latest)."""

    def add(
        name: str,
        *,
        params: dict[str, str] | None = None,
        metrics: dict[str, float | list[float]] | None = None,
        tags: dict[str, str] | None = None,
        start_time: int = 1_700_000_000_000,
        duration: int = 1_500,
        status: str = "FINISHED",
        experiment: str | None = None,
    ) -> str:
        experiment_id = (
            store.experiments.get_or_create(experiment).experiment_id if experiment else "0"
        )
        info = store.runs.create(
            experiment_id=experiment_id,
            run_name=name,
            user_id="ann",
            tags=dict(tags or {}),
            start_time=start_time,
        )
        store.runs.log_params(info.run_id, dict(params or {}))
        points: list[Metric] = []
        for key, values in (metrics or {}).items():
            series = values if isinstance(values, list) else [values]
            points += [Metric(key, v, step, start_time + step) for step, v in enumerate(series)]
        store.runs.append_metrics(info.run_id, points)
        if status != "RUNNING":
            store.runs.set_status(info.run_id, status, end_time=start_time + duration)
        return info.run_id

    return add


def git(repo: Path, *args: str) -> str:
    result = subprocess.run(
        ["git", *args], cwd=repo, capture_output=True, text=True, check=True, timeout=60
    )
    return result.stdout


@pytest.fixture
def run_git() -> Callable[..., str]:
    """``run_git(repo, "status", "--porcelain")``: git's stdout."""
    return git


@pytest.fixture
def git_repo(tmp_path: Path) -> Callable[..., Any]:
    """A real git repository in tmp_path/repo; returns a function committing files:
    ``commit({"train.py": "..."}, "message") -> sha``."""
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    git(repo, "config", "user.email", "ann@example.com")
    git(repo, "config", "user.name", "Ann")
    git(repo, "config", "commit.gpgsign", "false")

    def commit(files: dict[str, str], message: str) -> str:
        for name, text in files.items():
            path = repo / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        git(repo, "add", "-A")
        git(repo, "commit", "-q", "-m", message)
        return git(repo, "rev-parse", "HEAD").strip()

    commit.repo = repo  # type: ignore[attr-defined]
    return commit
