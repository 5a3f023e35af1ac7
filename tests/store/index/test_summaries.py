"""A new index is built from the runs' summaries in the change journal, not from their
folders; a summary that is no longer current is never used (issue 24: cold index)."""

from __future__ import annotations

import contextlib
import json
import math
import os
import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mlcli.store import Metric, Store
from mlcli.store.changes import SUMMARY_PREFIX
from mlcli.store.index.cold_worker import ReadPlan, batch_rows
from mlcli.store.index.summaries import append_checked

RUNS = 40


def _finished_run(store: Store, number: int) -> str:
    run_id = store.runs.create(
        experiment_id="0", run_name=f"run-{number}", user_id="u", tags={"team": "a"}
    ).run_id
    store.runs.log_params(run_id, {"lr": str(number / 10), "depth": "3"})
    points = [Metric("loss", 1.0 / (number + 1), step, step) for step in range(3)]
    points.append(Metric("odd", math.nan if number % 3 == 0 else math.inf, 0, 1))
    store.runs.append_metrics(run_id, points)
    store.runs.set_tags(run_id, {"gone": "x"})
    store.runs.set_tags(run_id, {"gone": None})
    store.runs.set_status(run_id, "FINISHED")
    return run_id


@pytest.fixture
def store(store_root: Path) -> Iterator[Store]:
    opened = Store.open(store_root)
    for number in range(RUNS):
        _finished_run(opened, number)
    live = opened.runs.create(experiment_id="0", run_name="live", user_id="u", tags={})
    opened.runs.append_metrics(live.run_id, [Metric("loss", 9.0, 0, 1)])
    opened.index.refresh()  # reads every run from its files, and summarises the finished
    yield opened
    opened.close()


def _tables(root: Path) -> dict[str, list[tuple[Any, ...]]]:
    """The index's rows, doc signatures left out (they name the file's inode)."""
    db = sqlite3.connect(root / "index.db")
    try:
        runs = db.execute("SELECT * FROM runs ORDER BY run_id").fetchall()
        return {
            "runs": [row[:10] + row[11:] for row in runs],
            **{
                table: db.execute(f"SELECT * FROM {table} ORDER BY run_id, key").fetchall()
                for table in ("params", "tags", "latest_metrics")
            },
        }
    finally:
        db.close()


def _rebuild_from_nothing(store: Store) -> None:
    store.close()
    for suffix in ("", "-wal", "-shm"):
        Path(f"{store.root / 'index.db'}{suffix}").unlink(missing_ok=True)
    reopened = Store.open(store.root)
    reopened.index.refresh()
    reopened.close()


def _summarised(root: Path) -> list[str]:
    found = []
    for line in (root / "changes.jsonl").read_bytes().splitlines():
        if line.startswith(SUMMARY_PREFIX):
            with contextlib.suppress(ValueError):
                found.append(json.loads(line)["run_id"])
    return found


def test_every_finished_run_read_from_its_files_is_summarised(store: Store) -> None:
    summarised = _summarised(store.root)
    assert len(summarised) == RUNS == len(set(summarised))  # not the live run
    data = (store.root / "changes.jsonl").read_bytes()
    first = data.index(SUMMARY_PREFIX)
    assert store.runs.journal.read(0)[0] >= set(summarised)  # their creation was noted
    assert store.runs.journal.read(first) == (set(), len(data))  # a summary is no change


def test_a_new_index_is_built_from_summaries_without_opening_a_finished_run(
    store: Store, recording
) -> None:
    before = _tables(store.root)
    with recording() as reads:
        _rebuild_from_nothing(store)
    (live,) = [r for r in reads.run_files_opened()]  # the live run alone is read
    assert live not in _summarised(store.root)
    assert _tables(store.root) == before


def test_a_change_after_the_summary_is_read_from_the_files(store: Store) -> None:
    changed = _summarised(store.root)[5]
    store.runs.set_tags(changed, {"late": "yes"})
    store.runs.set_lifecycle(changed, "deleted")
    _rebuild_from_nothing(store)
    db = sqlite3.connect(store.root / "index.db")
    stage = db.execute("SELECT lifecycle_stage FROM runs WHERE run_id = ?", (changed,)).fetchone()
    tag = db.execute("SELECT value FROM tags WHERE run_id = ? AND key = 'late'", (changed,))
    assert (stage[0], tag.fetchone()) == ("deleted", ("yes",))
    db.close()


def test_a_change_racing_the_summary_is_noted_after_it(store: Store) -> None:
    """The index read the run, then the run changed (and was noted), then the summary
    of what was read went in: the append looks again and notes the run after it."""
    run_id = _summarised(store.root)[0]
    journal = store.runs.journal
    read = batch_rows(ReadPlan(str(store.root / "runs"), 1 << 20, journal.identity()), [run_id])
    store.runs.set_tags(run_id, {"raced": "in"})  # noted in the journal, before the summary
    append_checked(journal, str(store.root / "runs"), read.summaries, read.summarized)
    last = [json.loads(line) for line in journal.path.read_bytes().splitlines()][-1]
    assert last == {"run_id": run_id}
    _rebuild_from_nothing(store)
    db = sqlite3.connect(store.root / "index.db")
    assert db.execute(
        "SELECT value FROM tags WHERE run_id = ? AND key = 'raced'", (run_id,)
    ).fetchone() == ("in",)
    db.close()


def test_an_unchanged_run_appended_again_is_not_noted(store: Store) -> None:
    run_id = _summarised(store.root)[0]
    journal = store.runs.journal
    read = batch_rows(ReadPlan(str(store.root / "runs"), 1 << 20, journal.identity()), [run_id])
    size = journal.size()
    append_checked(journal, str(store.root / "runs"), read.summaries, read.summarized)
    added = journal.path.read_bytes()[size:]
    assert added == read.summaries and added.startswith(SUMMARY_PREFIX)


def test_a_copied_store_checks_each_summary_against_the_files(
    store: Store, tmp_path: Path, recording
) -> None:
    """A copy (``cp -a``, ``rsync``) has another journal file: its summaries are taken
    only for runs whose files are as the summary says; one edited in the copy is read."""
    store.close()
    copy = tmp_path / "copy" / ".mlruns"
    shutil.copytree(store.root, copy)  # copy2: sizes and modification times kept
    for suffix in ("", "-wal", "-shm"):
        Path(f"{copy / 'index.db'}{suffix}").unlink(missing_ok=True)
    edited = _summarised(copy)[3]
    with open(copy / "runs" / edited / "tags.jsonl", "a") as handle:
        handle.write(json.dumps({"key": "edited", "value": "by hand"}) + "\n")
    copied = Store.open(copy)
    with recording(copy) as reads:
        copied.index.refresh()
    opened = set(reads.run_files_opened())
    copied.close()
    assert edited in opened
    assert len(opened) == 2  # the edited run and the live one: the others by stat only
    db = sqlite3.connect(copy / "index.db")
    assert db.execute("SELECT count(*) FROM runs").fetchone() == (RUNS + 1,)
    assert db.execute(
        "SELECT value FROM tags WHERE run_id = ? AND key = 'edited'", (edited,)
    ).fetchone() == ("by hand",)
    db.close()


def test_rebuild_reads_a_run_edited_by_hand(store: Store) -> None:
    """``mlcli index rebuild`` checks every summary against the files: it is how an
    edit made without mlcli (no journal note) reaches the index."""
    edited = _summarised(store.root)[7]
    doc_path = store.root / "runs" / edited / "run.json"
    doc = json.loads(doc_path.read_text())
    doc["run_name"] = "renamed by hand, a longer name"
    doc_path.write_text(json.dumps(doc))
    assert store.index.rebuild() == RUNS + 1
    db = sqlite3.connect(store.root / "index.db")
    assert db.execute("SELECT run_name FROM runs WHERE run_id = ?", (edited,)).fetchone() == (
        "renamed by hand, a longer name",
    )
    db.close()


def test_a_damaged_summary_line_is_passed_over(store: Store) -> None:
    before = _tables(store.root)
    journal = store.root / "changes.jsonl"
    text = journal.read_bytes().splitlines(keepends=True)
    at = next(n for n, line in enumerate(text) if line.startswith(SUMMARY_PREFIX))
    run_id = json.loads(text[at])["run_id"]
    broken = json.loads(text[at])
    broken["summary"]["params"] = [["only a key"]]
    text[at] = json.dumps(broken, separators=(",", ":")).encode() + b"\n"
    text.insert(at, b'{"summary":{"run": [\n')  # a torn line, then a malformed summary
    journal.write_bytes(b"".join(text))
    os.utime(journal)
    _rebuild_from_nothing(store)
    assert _tables(store.root) == before  # the run is read from its files instead
    assert run_id in _summarised(store.root)


def test_an_index_kept_outside_the_store_appends_no_summaries(
    store_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each host's own index of a shared store (``MLCLI_INDEX``) would append the same
    summaries again: only the store's own index writes them; every index reads them."""
    monkeypatch.setenv("MLCLI_INDEX", str(tmp_path / "host-index.db"))
    opened = Store.open(store_root)
    run_ids = [_finished_run(opened, number) for number in range(3)]
    opened.index.refresh()
    assert _summarised(store_root) == []
    opened.close()
    monkeypatch.delenv("MLCLI_INDEX")
    own = Store.open(store_root)
    own.index.refresh()
    own.close()
    assert sorted(_summarised(store_root)) == sorted(run_ids)


def test_the_index_does_not_read_back_its_own_summaries(store: Store) -> None:
    """The summaries a refresh appends one after another are passed over by the next
    one: the index's recorded journal offset ends past them."""

    def offset() -> int:
        db = sqlite3.connect(store.root / "index.db")
        try:
            query = "SELECT value FROM meta WHERE key = 'journal_offset'"
            return int(db.execute(query).fetchone()[0])
        finally:
            db.close()

    assert offset() == store.runs.journal.size()
    store.close()
    for suffix in ("", "-wal", "-shm"):
        Path(f"{store.root / 'index.db'}{suffix}").unlink(missing_ok=True)
    reopened = Store.open(store.root)
    assert reopened.index.rebuild() == RUNS + 1  # a fresh index, each summary checked
    new = _finished_run(reopened, RUNS)
    reopened.index.refresh()  # reads the new run, appends its summary, passes it over
    assert new in _summarised(store.root)
    assert offset() == reopened.runs.journal.size()
    reopened.close()


def test_a_note_among_the_summaries_is_read(store: Store) -> None:
    """Passing over stops at the first line that is not one of the refresh's own
    summaries: a note another writer appended meanwhile is read by the next refresh."""
    journal = store.runs.journal
    with journal.pass_own_summaries(journal.size()) as passed:
        journal.append(b'{"summary":{},"journal":"","run_id":"a"}\n', summaries=True)
        after_first = journal.size()
        assert passed() == after_first
        journal.note("someone-else")
        journal.append(b'{"summary":{},"journal":"","run_id":"b"}\n', summaries=True)
        assert passed() == after_first
