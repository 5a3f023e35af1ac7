"""The SQLite index is a cache: refreshed incrementally, rebuilt when missing or damaged."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from mlcli.search.runs import search_runs
from mlcli.store import Metric, Store


@pytest.fixture
def store(store_root: Path) -> Store:
    return Store.open(store_root)


def _finished_run(store: Store, loss: float = 0.5) -> str:
    run_id = store.runs.create(experiment_id="0", run_name="r", user_id="u", tags={}).run_id
    store.runs.log_params(run_id, {"lr": "0.1"})
    store.runs.append_metrics(run_id, [Metric("loss", loss, 1, 1)])
    store.runs.set_status(run_id, "FINISHED")
    return run_id


def test_deleting_the_index_loses_nothing(store: Store) -> None:
    run_id = _finished_run(store)
    assert search_runs(store)[0].data.params == {"lr": "0.1"}
    store.close()
    for suffix in ("", "-wal", "-shm"):
        Path(f"{store.root / 'index.db'}{suffix}").unlink(missing_ok=True)
    reopened = Store.open(store.root)
    [run] = search_runs(reopened)
    assert run.run_id == run_id and run.data.metrics == {"loss": 0.5}


def test_a_damaged_index_is_rebuilt(store: Store) -> None:
    run_id = _finished_run(store)
    search_runs(store)
    store.close()
    for suffix in ("-wal", "-shm"):
        Path(f"{store.root / 'index.db'}{suffix}").unlink(missing_ok=True)
    (store.root / "index.db").write_bytes(b"this is not a database" * 100)
    [run] = search_runs(Store.open(store.root))
    assert run.run_id == run_id


def test_an_index_of_another_schema_version_is_rebuilt(store: Store) -> None:
    _finished_run(store)
    search_runs(store)
    store.close()
    db = sqlite3.connect(store.root / "index.db")
    db.execute("UPDATE meta SET value = '0' WHERE key = 'schema_version'")
    db.execute("DELETE FROM runs")
    db.commit()
    db.close()
    assert len(search_runs(Store.open(store.root))) == 1


def test_live_runs_are_followed_incrementally(store: Store) -> None:
    run_id = store.runs.create(experiment_id="0", run_name="r", user_id="u", tags={}).run_id
    store.runs.append_metrics(run_id, [Metric("loss", 0.9, 0, 1)])
    assert search_runs(store)[0].data.metrics == {"loss": 0.9}
    store.runs.append_metrics(run_id, [Metric("loss", 0.4, 1, 2)])
    store.runs.set_tags(run_id, {"phase": "two"})
    [run] = search_runs(store)
    assert run.data.metrics == {"loss": 0.4} and run.data.tags["phase"] == "two"


def test_changes_to_finished_runs_reach_the_index_through_the_journal(store: Store) -> None:
    run_id = _finished_run(store)
    search_runs(store)
    store.runs.set_tags(run_id, {"late": "yes"})
    store.runs.append_metrics(run_id, [Metric("loss", 0.1, 9, 9)])
    [run] = search_runs(store)
    assert run.data.tags["late"] == "yes" and run.data.metrics == {"loss": 0.1}
    journal = [json.loads(line) for line in (store.root / "changes.jsonl").read_text().splitlines()]
    assert {"run_id": run_id} in journal


def test_finished_runs_are_not_reread_on_refresh(store: Store) -> None:
    """The cost property: an out-of-band edit of a finished run (one no mlcli writer
    made, so the journal does not name it) stays invisible until a rebuild."""
    run_id = _finished_run(store)
    search_runs(store)
    with open(store.root / "runs" / run_id / "metrics.jsonl", "a") as handle:
        handle.write('{"key": "loss", "value": 0.01, "step": 99, "timestamp": 99}\n')
    assert search_runs(store)[0].data.metrics == {"loss": 0.5}
    store.index.rebuild()
    assert search_runs(store)[0].data.metrics == {"loss": 0.01}


def test_a_replaced_journal_triggers_a_full_check(store: Store) -> None:
    run_id = _finished_run(store)
    search_runs(store)
    with open(store.root / "runs" / run_id / "tags.jsonl", "a") as handle:
        handle.write('{"key": "synced", "value": "from-cluster"}\n')
    journal = store.root / "changes.jsonl"
    copy = journal.with_name("changes.new")
    copy.write_bytes(journal.read_bytes() if journal.exists() else b"")
    copy.replace(journal)  # what rsync does: a new file under the old name
    assert search_runs(store)[0].data.tags["synced"] == "from-cluster"


def test_runs_removed_from_disk_leave_the_index(store: Store) -> None:
    run_id = _finished_run(store)
    search_runs(store)
    store.runs.purge(run_id)
    assert search_runs(store) == []


def test_index_location_can_be_moved_with_mlcli_index(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLCLI_INDEX", str(tmp_path / "local" / "idx.db"))
    moved = Store.open(store.root)
    _finished_run(moved)
    assert len(search_runs(moved)) == 1
    assert (tmp_path / "local" / "idx.db").exists()
    assert not (store.root / "index.db").exists()


def test_an_index_belonging_to_another_store_is_reset(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("MLCLI_INDEX", str(tmp_path / "shared.db"))
    first, _ = Store.initialize(tmp_path / "a" / ".mlruns")
    _finished_run(first)
    assert len(search_runs(first)) == 1
    second, _ = Store.initialize(tmp_path / "b" / ".mlruns")
    assert search_runs(second) == []


def test_rebuild_reports_progress(store: Store) -> None:
    for _ in range(3):
        _finished_run(store)
    seen: list[tuple[int, int]] = []
    assert store.index.rebuild(lambda done, total: seen.append((done, total))) == 3
    assert seen[-1] == (3, 3)


def test_nan_latest_values_survive_the_index(store: Store) -> None:
    run_id = store.runs.create(experiment_id="0", run_name="r", user_id="u", tags={}).run_id
    store.runs.append_metrics(run_id, [Metric("m", float("nan"), 0, 1)])
    value = store.get_run(run_id).data.metrics["m"]
    assert value != value
