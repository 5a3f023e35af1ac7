"""Runs as files: creation, prefixes, params, tags, metrics, lifecycle."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from mlcli.errors import ConflictError, InvalidInputError, NotFoundError
from mlcli.store import Metric, Store


@pytest.fixture
def store(store_root: Path) -> Store:
    return Store.open(store_root)


def _new_run(store: Store, **tags: str) -> str:
    return store.runs.create(experiment_id="0", run_name="r", user_id="u", tags=tags).run_id


def test_run_folder_follows_the_documented_layout(store: Store) -> None:
    run_id = _new_run(store, team="x")
    folder = store.root / "runs" / run_id
    assert sorted(p.name for p in folder.iterdir()) == ["artifacts", "run.json", "tags.jsonl"]
    doc = json.loads((folder / "run.json").read_text())
    assert doc["run_id"] == run_id and doc["status"] == "RUNNING"
    tags = [json.loads(line) for line in (folder / "tags.jsonl").read_text().splitlines()]
    assert {"key": "team", "value": "x"} in tags
    assert not [p for p in (store.root / "runs").iterdir() if p.name.startswith(".")]


def test_resolve_accepts_unique_prefixes_like_git(store: Store) -> None:
    run_id = _new_run(store)
    assert store.runs.resolve(run_id[:6]) == run_id
    assert store.runs.resolve(run_id.upper()) == run_id
    with pytest.raises(NotFoundError, match="no run with an id starting with"):
        store.runs.resolve("0" * 31 if not run_id.startswith("0" * 31) else "f" * 31)
    with pytest.raises(InvalidInputError, match="expected up to 32 hexadecimal"):
        store.runs.resolve("../etc")


def test_ambiguous_prefix_lists_candidates(store: Store) -> None:
    ids = [_new_run(store) for _ in range(40)]
    first_chars = [i[0] for i in ids]
    shared = max(set(first_chars), key=first_chars.count)
    with pytest.raises(NotFoundError, match=f"prefix '{shared}' is ambiguous"):
        store.runs.resolve(shared)


def test_params_are_immutable_but_relogging_the_same_value_is_fine(store: Store) -> None:
    run_id = _new_run(store)
    store.runs.log_params(run_id, {"lr": "0.1"})
    store.runs.log_params(run_id, {"lr": "0.1", "depth": "3"})
    with pytest.raises(ConflictError, match=r"already '0\.1'"):
        store.runs.log_params(run_id, {"lr": "0.2", "other": "x"})
    assert store.runs.read_params(run_id) == {"lr": "0.1", "depth": "3"}  # nothing of that call


def test_tags_last_write_wins_and_none_deletes(store: Store) -> None:
    run_id = _new_run(store)
    store.runs.set_tags(run_id, {"a": "1"})
    store.runs.set_tags(run_id, {"a": "2", "b": "x"})
    store.runs.set_tags(run_id, {"b": None})
    tags = store.runs.read_tags(run_id)
    assert tags["a"] == "2" and "b" not in tags


def test_metric_history_keeps_nan_and_infinities(store: Store) -> None:
    run_id = _new_run(store)
    values = [0.5, math.nan, math.inf, -math.inf]
    store.runs.append_metrics(run_id, [Metric("m", v, i, 1000 + i) for i, v in enumerate(values)])
    history = store.runs.read_metric_history(run_id, "m")
    assert [m.step for m in history] == [0, 1, 2, 3]
    assert history[0].value == 0.5 and math.isnan(history[1].value)
    assert history[2].value == math.inf and history[3].value == -math.inf
    raw = (store.root / "runs" / run_id / "metrics.jsonl").read_text()
    assert '"value":"NaN"' in raw and '"value":"Infinity"' in raw  # readable by jq


def test_latest_metric_is_greatest_step_then_timestamp(store: Store) -> None:
    run_id = _new_run(store)
    store.runs.append_metrics(
        run_id, [Metric("loss", 0.9, 5, 10), Metric("loss", 0.1, 2, 20), Metric("loss", 0.7, 5, 30)]
    )
    assert store.get_run(run_id).data.metrics == {"loss": 0.7}


def test_status_and_lifecycle_changes(store: Store) -> None:
    run_id = _new_run(store)
    ended = store.runs.set_status(run_id, "FAILED")
    assert ended.status == "FAILED" and ended.end_time is not None
    deleted = store.runs.set_lifecycle(run_id, "deleted")
    assert deleted.lifecycle_stage == "deleted" and deleted.deleted_time
    with pytest.raises(InvalidInputError, match="invalid run status"):
        store.runs.set_status(run_id, "DONE")


def test_writing_to_a_missing_run_is_not_found(store: Store) -> None:
    with pytest.raises(NotFoundError):
        store.runs.append_metrics("a" * 32, [Metric("m", 1.0, 0, 0)])
