"""Fixtures: real stores, built through the store API, to search in."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from mlcli.store import Metric, Store

MakeRun = Callable[..., str]


def add_run(
    store: Store,
    name: str,
    *,
    params: dict[str, str] | None = None,
    metrics: dict[str, float | list[float]] | None = None,
    tags: dict[str, str] | None = None,
    status: str = "FINISHED",
    start_time: int = 1_000,
    user: str = "ann",
    experiment_id: str = "0",
) -> str:
    """Create a run; a list of metric values logs them at steps 0, 1, ... (the last wins)."""
    info = store.runs.create(
        experiment_id=experiment_id,
        run_name=name,
        user_id=user,
        tags={},
        start_time=start_time,
    )
    if params:
        store.runs.log_params(info.run_id, params)
    points: list[Metric] = []
    for key, values in (metrics or {}).items():
        series = values if isinstance(values, list) else [values]
        points += [Metric(key, value, step, 1) for step, value in enumerate(series)]
    store.runs.append_metrics(info.run_id, points)
    if tags:
        store.runs.set_tags(info.run_id, dict(tags))
    if status != "RUNNING":
        store.runs.set_status(info.run_id, status, end_time=start_time + 500)
    return info.run_id


def open_store(root: Path) -> Store:
    store, _ = Store.initialize(root / ".mlruns")
    return store


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    store = open_store(tmp_path)
    yield store
    store.close()


@pytest.fixture
def make_run(store: Store) -> MakeRun:
    def make(name: str, **kwargs: Any) -> str:
        return add_run(store, name, **kwargs)

    return make
