"""A query on a store where nothing changed touches no run folder and does not list
``runs/``; what changed is all it reads (issue 24, part WARM).

What a query reads is observed through Python's audit events (``open``,
``os.listdir``, ``os.scandir``), which every file opened from Python raises."""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mlcli.search.runs import search_runs
from mlcli.store import Metric, Store
from mlcli.store.index.refresh import RACY_SECONDS

RUNS = 200


@pytest.fixture
def store(store_root: Path) -> Iterator[Store]:
    opened = Store.open(store_root)
    for number in range(RUNS):
        _finished_run(opened, f"run-{number}", loss=number / RUNS)
    yield opened
    opened.close()


def _finished_run(store: Store, name: str, loss: float = 0.5) -> str:
    run_id = store.runs.create(experiment_id="0", run_name=name, user_id="u", tags={}).run_id
    store.runs.log_params(run_id, {"lr": "0.1"})
    store.runs.append_metrics(run_id, [Metric("loss", loss, 1, 1)])
    store.runs.set_status(run_id, "FINISHED")
    return run_id


def _settle(store: Store) -> None:
    """Wait until the last change of ``runs/`` is old enough for its stamp to be
    trusted (see ``index/refresh.py``), then refresh so that the index records it."""
    runs_dir = store.root / "runs"
    deadline = time.monotonic() + 60
    while True:
        st = os.stat(runs_dir)
        age = time.time_ns() - max(st.st_mtime_ns, st.st_ctime_ns)
        if age > RACY_SECONDS * 1e9 + 100_000_000:
            break
        assert time.monotonic() < deadline, "runs/ never settled"
        time.sleep(0.2)
    store.index.refresh()


def _query(store: Store) -> list[str]:
    return [run.run_id for run in search_runs(store, order_by=["metrics.loss ASC"])]


def test_a_query_on_an_unchanged_store_lists_nothing_and_opens_no_run_file(
    store: Store, recording
) -> None:
    live = store.runs.create(experiment_id="0", run_name="live", user_id="u", tags={}).run_id
    store.runs.append_metrics(live, [Metric("loss", 2.0, 0, 1)])
    _settle(store)
    with recording() as reads:
        found = _query(store)
    assert len(found) == RUNS + 1 and found[-1] == live
    assert reads.listings_of_runs_dir() == 0
    assert reads.run_files_opened() == {}


def test_after_one_new_run_a_query_reads_that_run_only(store: Store, recording) -> None:
    _settle(store)
    other = Store.open(store.root)  # another process, as far as the index knows
    new = _finished_run(other, "new", loss=-1.0)
    other.close()
    with recording() as reads:
        found = _query(store)
    assert found[0] == new and len(found) == RUNS + 1
    assert reads.listings_of_runs_dir() == 0  # the journal names it: runs/ is not listed
    assert set(reads.run_files_opened()) == {new}
    assert "run.json" in reads.run_files_opened()[new]
    other = Store.open(store.root)  # and again, from where the last query left off
    newer = [_finished_run(other, f"newer-{n}", loss=-2.0 - n) for n in range(2)]
    other.close()
    with recording() as reads:
        found = _query(store)
    assert found[:3] == [newer[1], newer[0], new] and len(found) == RUNS + 3
    assert reads.listings_of_runs_dir() == 0
    assert set(reads.run_files_opened()) == set(newer)


def test_the_first_run_in_a_store_without_a_journal_costs_that_run_only(
    store: Store, recording, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A store whose changes.jsonl does not exist yet (written by another tool, or by
    an mlcli that journaled only changes to finished runs): the journal the next
    create begins is read from its start, not taken for a replaced one (which makes a
    refresh check every run's files)."""
    from mlcli.store.index import refresh as refresh_module

    (store.root / "changes.jsonl").unlink()
    store.index.rebuild()
    _settle(store)
    checked: list[str] = []
    real_check = refresh_module._files_changed

    def counting(layout: Any, row: tuple[Any, ...]) -> bool:
        checked.append(row[0])
        return real_check(layout, row)

    monkeypatch.setattr(refresh_module, "_files_changed", counting)
    other = Store.open(store.root)
    new = _finished_run(other, "new", loss=-1.0)
    other.close()
    with recording() as reads:
        found = _query(store)
    assert found[0] == new and len(found) == RUNS + 1
    assert reads.listings_of_runs_dir() == 0
    assert set(reads.run_files_opened()) == {new}
    assert len(checked) < 5, f"{len(checked)} runs' files checked for one new run"


def test_a_purged_run_leaves_the_results_without_a_listing(store: Store, recording) -> None:
    _settle(store)
    first = _query(store)[0]
    other = Store.open(store.root)
    other.runs.purge(first)
    other.close()
    with recording() as reads:
        found = _query(store)
    assert first not in found and len(found) == RUNS - 1
    assert reads.listings_of_runs_dir() == 0


def test_a_run_folder_copied_in_by_another_tool_is_found_by_listing(
    store: Store, recording
) -> None:
    """Folders the journal does not name (a copy, an rsync) move the link count of
    runs/ by more than the journal explains: the refresh lists, and finds them."""
    _settle(store)
    other = Store.open(store.root)
    named = _finished_run(other, "named", loss=-1.0)
    other.close()
    source = _query(store)[-1]
    copied = "c0ffee" + source[6:]
    shutil.copytree(store.root / "runs" / source, store.root / "runs" / copied)
    doc_path = store.root / "runs" / copied / "run.json"
    doc = json.loads(doc_path.read_text())
    doc.update(run_id=copied, run_name="copied")
    doc_path.write_text(json.dumps(doc))
    with recording() as reads:
        found = _query(store)
    assert reads.listings_of_runs_dir() == 1
    assert copied in found and named in found and len(found) == RUNS + 2


def test_a_create_under_way_makes_the_refresh_list(store: Store, recording) -> None:
    """A staging folder (a create under way) is a folder the journal does not name
    yet; once the run is in place, it is found."""
    _settle(store)
    staging = store.root / "runs" / ".new-0123456789abcdef0123456789abcdef"
    staging.mkdir()
    with recording() as reads:
        assert len(_query(store)) == RUNS
    assert reads.listings_of_runs_dir() == 1
    staging.rmdir()
    other = Store.open(store.root)
    new = _finished_run(other, "new", loss=-1.0)
    other.close()
    assert _query(store)[0] == new


def test_a_run_folder_deleted_by_hand_leaves_the_results(store: Store) -> None:
    _settle(store)
    first = _query(store)[0]
    shutil.rmtree(store.root / "runs" / first)
    found = _query(store)
    assert first not in found and len(found) == RUNS - 1


def test_a_run_added_then_hidden_by_setting_the_mtime_back_is_found(store: Store) -> None:
    """What ``rsync -a`` into a store does: new folders, then the directory's mtime set
    back to the source's, which may be the very one the index recorded."""
    _settle(store)
    runs_dir = store.root / "runs"
    before = os.stat(runs_dir)
    other = Store.open(store.root)
    new = _finished_run(other, "synced", loss=-1.0)
    other.close()
    os.utime(runs_dir, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert os.stat(runs_dir).st_mtime_ns == before.st_mtime_ns
    assert _query(store)[0] == new


def test_a_stamp_too_recent_to_trust_is_not_trusted_but_the_count_is(
    store: Store, recording
) -> None:
    """The racy case: a folder created in the same clock tick as the listing leaves the
    directory's timestamps as they were, so a stamp of a directory changed moments ago
    is not trusted to say nothing changed. A timestamp ahead of this host's clock (a
    file server's clock ahead of ours) is such a stamp, and it stays one for the length
    of the test. The link count of runs/ needs no clock: what it and the journal
    account for is read without a listing, anything else is listed."""
    runs_dir = store.root / "runs"
    ahead = time.time_ns() + 3600 * 10**9
    os.utime(runs_dir, ns=(ahead, ahead))
    with recording() as reads:
        assert len(_query(store)) == RUNS
    assert reads.listings_of_runs_dir() == 1
    with recording() as reads:  # the count has not moved, nor has the journal
        assert len(_query(store)) == RUNS
    assert reads.listings_of_runs_dir() == 0
    other = Store.open(store.root)
    new = _finished_run(other, "new", loss=-1.0)
    other.close()
    os.utime(runs_dir, ns=(ahead, ahead))
    with recording() as reads:
        assert _query(store)[0] == new
    assert reads.listings_of_runs_dir() == 0
    copied = "c0ffee" + new[6:]
    shutil.copytree(runs_dir / new, runs_dir / copied)
    doc_path = runs_dir / copied / "run.json"
    doc_path.write_text(json.dumps({**json.loads(doc_path.read_text()), "run_id": copied}))
    os.utime(runs_dir, ns=(ahead, ahead))
    with recording() as reads:
        assert copied in _query(store)
    assert reads.listings_of_runs_dir() == 1
    os.utime(runs_dir, ns=(0, 0))  # long ago; the ctime (now) is what settles now
    _settle(store)
    with recording() as reads:
        assert len(_query(store)) == RUNS + 2
    assert reads.listings_of_runs_dir() == 0


def test_a_damaged_run_is_still_reported_by_a_new_reader_and_found_once_repaired(
    store: Store, recording
) -> None:
    other = Store.open(store.root)
    bad = _finished_run(other, "bad", loss=-1.0)
    other.close()
    doc_path = store.root / "runs" / bad / "run.json"
    good_doc = doc_path.read_text()
    doc_path.write_text('{"run_id": "')
    _settle(store)
    assert bad in store.index.damaged_runs()
    reader = Store.open(store.root)  # nothing in memory of the damage
    with recording() as reads:
        assert len(_query(reader)) == RUNS
    assert reads.listings_of_runs_dir() == 0
    assert bad in reader.index.damaged_runs()
    doc_path.write_text(good_doc)  # repaired in place: runs/ itself does not change
    assert _query(reader)[0] == bad
    assert bad not in reader.index.damaged_runs()
    reader.close()


def test_a_folder_whose_run_json_comes_later_is_found(store: Store) -> None:
    other = Store.open(store.root)
    source = _finished_run(other, "source", loss=-1.0)
    other.close()
    late = "f" * 32
    os.mkdir(store.root / "runs" / late)
    for name in ("params.jsonl", "tags.jsonl", "metrics.jsonl"):
        shutil.copy(store.root / "runs" / source / name, store.root / "runs" / late / name)
    _settle(store)
    assert late not in _query(store)
    doc = json.loads((store.root / "runs" / source / "run.json").read_text())
    doc.update(run_id=late, run_name="late")
    (store.root / "runs" / late / "run.json").write_text(json.dumps(doc))
    assert late in _query(store)


def test_a_store_replaced_by_an_older_copy_is_read_again(
    store_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A restore from backup (timestamps kept, as ``cp -a`` and ``rsync -a`` keep
    them) under an index kept outside the store."""
    monkeypatch.setenv("MLCLI_INDEX", str(tmp_path / "elsewhere" / "index.db"))
    store = Store.open(store_root)
    kept = _finished_run(store, "kept")
    _settle(store)
    backup = tmp_path / "backup"
    shutil.copytree(store_root, backup, symlinks=True)
    removed = _finished_run(store, "removed-by-the-restore")
    store.runs.purge(kept)
    assert _query(store) == [removed]
    _settle(store)
    shutil.rmtree(store_root)
    shutil.copytree(backup, store_root, symlinks=True)
    assert _query(store) == [kept]
    store.close()


def test_a_truncated_journal_makes_the_next_query_check_every_run(store: Store) -> None:
    _settle(store)
    first = _query(store)[0]
    store.runs.set_tags(first, {"late": "yes"})  # journaled
    with open(store.root / "runs" / first / "tags.jsonl", "a") as handle:
        handle.write('{"key": "by-hand", "value": "x"}\n')
    (store.root / "changes.jsonl").write_bytes(b"")
    [run] = [r for r in search_runs(store) if r.run_id == first]
    assert run.data.tags["late"] == "yes" and run.data.tags["by-hand"] == "x"


@pytest.fixture
def uncounted_runs_dir(monkeypatch: pytest.MonkeyPatch) -> None:
    """``runs/`` as ext4 reports it beyond 64,998 subfolders, and btrfs always: a link
    count of 1, which says nothing about how many folders it holds. Only the count
    reported is changed; the folders, their timestamps and the journal are real."""
    from mlcli.store.index import refresh as refresh_module

    real = refresh_module._listing_stamp

    def uncounted(layout: Any) -> tuple[str, bool] | None:
        found = real(layout)
        if found is None:
            return None
        stamp, settled = found
        return stamp.rsplit(":", 1)[0] + ":1", settled

    monkeypatch.setattr(refresh_module, "_listing_stamp", uncounted)


@pytest.mark.usefixtures("uncounted_runs_dir")
def test_without_a_link_count_new_and_purged_runs_cost_those_runs_only(
    store: Store, recording
) -> None:
    """Each create and purge records the stamp of runs/ just before and after it: when
    they chain from the stamp the index recorded to the stamp now, they are all that
    changed, and runs/ is not listed."""
    _settle(store)
    other = Store.open(store.root)
    new = [_finished_run(other, f"new-{n}", loss=-1.0 - n) for n in range(2)]
    other.close()
    with recording() as reads:
        found = _query(store)
    assert found[:2] == [new[1], new[0]] and len(found) == RUNS + 2
    assert reads.listings_of_runs_dir() == 0
    assert set(reads.run_files_opened()) == set(new)
    _settle(store)
    other = Store.open(store.root)
    other.runs.purge(new[0])
    other.close()
    with recording() as reads:
        found = _query(store)
    assert new[0] not in found and len(found) == RUNS + 1
    assert reads.listings_of_runs_dir() == 0 and reads.run_files_opened() == {}


@pytest.mark.usefixtures("uncounted_runs_dir")
def test_without_a_link_count_a_folder_the_journal_does_not_name_is_listed(
    store: Store, recording
) -> None:
    """A folder copied in by another tool between two of mlcli's creates breaks the
    chain of stamps: the refresh lists runs/ and finds it."""
    _settle(store)
    other = Store.open(store.root)
    first = _finished_run(other, "first", loss=-1.0)
    copied = "c0ffee" + first[6:]
    shutil.copytree(store.root / "runs" / first, store.root / "runs" / copied)
    doc_path = store.root / "runs" / copied / "run.json"
    doc_path.write_text(json.dumps({**json.loads(doc_path.read_text()), "run_id": copied}))
    second = _finished_run(other, "second", loss=-2.0)
    other.close()
    with recording() as reads:
        found = _query(store)
    assert reads.listings_of_runs_dir() == 1
    assert {first, second, copied} <= set(found) and len(found) == RUNS + 3


@pytest.mark.usefixtures("uncounted_runs_dir")
def test_without_a_link_count_runs_created_moments_apart_are_never_listed(
    store: Store, recording
) -> None:
    """A query moments after a create records the chain's stamp though it is recent:
    the next create chains from it, and no query lists runs/."""
    _settle(store)
    other = Store.open(store.root)
    for number in range(3):
        new = _finished_run(other, f"new-{number}", loss=-1.0 - number)
        with recording() as reads:
            assert _query(store)[0] == new
        assert reads.listings_of_runs_dir() == 0
        assert set(reads.run_files_opened()) == {new}
    other.close()
