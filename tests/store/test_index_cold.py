"""A cold index build in worker processes (``mlcli/store/index/cold.py``) writes the
very rows, and leaves out the very runs, that reading run by run (``scan_runs``) does;
its workers import little and never the caller's ``__main__``."""

from __future__ import annotations

import json
import math
import os
import sqlite3
import subprocess
import sys
import textwrap
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

from mlcli.store import Metric, Store
from mlcli.store.changes import ChangeJournal
from mlcli.store.index import cold
from mlcli.store.index.connection import delete_index_files, open_connection
from mlcli.store.index.session import IndexSession, LeftOut
from mlcli.store.index.updates import scan_runs
from mlcli.store.layout import StoreLayout

RUNS = 300
TABLES = ("runs", "params", "tags", "latest_metrics")
Reader = Callable[[IndexSession, Sequence[str]], Any]


def _populate(root: Path) -> dict[str, str]:
    """~300 runs of every shape the index meets; returns the odd ones by role."""
    store = Store.open(root)
    other = store.experiments.get_or_create("other").experiment_id
    ids: list[str] = []
    parent = None
    for number in range(RUNS):
        run_id = store.runs.create(
            experiment_id=other if number % 4 == 0 else "0",
            run_name=f"r{number}",
            user_id="u" if number % 2 else "",
            tags={"n": str(number)},
            parent_run_id=parent if number % 5 == 0 else None,
            start_time=1_700_000_000_000 + number,
        ).run_id
        ids.append(run_id)
        if number % 5 == 1:
            parent = run_id
        store.runs.log_params(run_id, {"lr": str(number % 7), "model": "rf", "ü": "ß"})
        points = [Metric("acc", (number % 13) / 13 + step, step, 100 + step) for step in range(4)]
        if number % 3 == 0:  # out of order, a tie on step broken by the timestamp, NaN, inf
            points += [
                Metric("acc", -1.0, 1, 5),
                Metric("loss", 0.5, 2, 9),
                Metric("loss", 0.25, 2, 10),
                Metric("nan", math.nan, 0, 1),
                Metric("inf", -math.inf, 3, 1),
            ]
        store.runs.append_metrics(run_id, points)
        store.runs.set_tags(run_id, {"team": "AB"[number % 2], "gone": "soon"})
        if number % 6 == 0:
            store.runs.set_tags(run_id, {"gone": None})
        if number % 3:
            store.runs.set_status(run_id, "FINISHED")
        if number % 7 == 0:
            store.runs.set_lifecycle(run_id, "deleted")
    store.close()
    runs = root / "runs"
    roles = dict(
        zip(("damaged", "shape", "torn", "uncommitted", "handwritten", "empty"), ids, strict=False)
    )
    (runs / roles["damaged"] / "run.json").write_text('{"run_id": ')
    (runs / roles["shape"] / "run.json").write_text(json.dumps(["not", "a", "run"]))
    with open(runs / roles["torn"] / "metrics.jsonl", "ab") as log:
        log.write(b'{"key":"acc","value":99.0,"st')
    with open(runs / roles["uncommitted"] / "params.jsonl", "ab") as log:  # a dead writer's
        log.write(b'{"key": "half", "value": "1", "batch": "0123456789abcdef"}\n')
    with open(runs / roles["handwritten"] / "metrics.jsonl", "ab") as log:
        log.write(b'{ "key": "acc", "value": 7, "step": 9, "timestamp": 1 }\n{"key": "\\u00e9"}\n')
    with open(runs / roles["handwritten"] / "params.jsonl", "ab") as log:  # first line wins
        log.write(b'{"key": "lr", "value": "later"}\n')
    for log_name in ("params.jsonl", "tags.jsonl", "metrics.jsonl"):
        (runs / roles["empty"] / log_name).write_bytes(b"")
    not_a_run = runs / ("0" * 32)  # a folder without run.json is not a run
    not_a_run.mkdir()
    (not_a_run / "params.jsonl").write_text('{"key": "a", "value": "b"}\n')
    return roles


def _build(root: Path, read: Reader, chunk_bytes: int) -> tuple[list[list[Any]], dict[str, Any]]:
    """Every run table's rows and the runs left out, after an empty index reads all runs."""
    layout = StoreLayout(root)
    delete_index_files(layout.index_path)
    db, _ = open_connection(layout)
    run_ids = sorted(name for name in os.listdir(layout.runs_dir) if not name.startswith("."))
    # left out by an earlier refresh: a run since repaired, and one that is gone
    left_out = LeftOut({run_ids[-1]: ("1:2:3", "was damaged"), "gone": ("4:5:6", "damaged")})
    session = IndexSession(db, layout, ChangeJournal(layout.changes_log), left_out, chunk_bytes)
    with session.write(), session.bulk(len(run_ids)):
        read(session, run_ids)
    tables = [db.execute(f"SELECT * FROM {table} ORDER BY 1, 2").fetchall() for table in TABLES]
    db.close()
    return tables, dict(session.left_out.runs)


@pytest.fixture(scope="module")
def varied(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    root = tmp_path_factory.mktemp("cold") / ".mlruns"
    Store.initialize(root)
    return root, _populate(root)


@pytest.mark.parametrize("workers", [1, 2])
@pytest.mark.parametrize("chunk_bytes", [100, 256 << 10])
def test_cold_build_writes_the_rows_scan_runs_writes(
    varied: tuple[Path, dict[str, str]],
    workers: int,
    chunk_bytes: int,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    root, roles = varied
    expected, expected_left_out = _build(root, lambda s, ids: scan_runs(s, ids, {}), chunk_bytes)
    monkeypatch.setattr(cold, "BATCH_RUNS", 7)  # many batches, answered out of order
    seen: list[tuple[int, int]] = []

    def build(session: IndexSession, run_ids: Sequence[str]) -> None:
        inserted = cold.cold_build(session, run_ids, lambda *p: seen.append(p), workers)
        assert inserted == RUNS - 2  # the two damaged ones are left out

    tables, left_out = _build(root, build, chunk_bytes)
    assert tables == expected
    assert left_out == expected_left_out
    assert sorted(left_out) == sorted([roles["damaged"], roles["shape"], "gone"])
    runs = {row[0]: row for row in tables[0]}
    assert len(runs) == RUNS - 2
    torn = [row[1:] for row in tables[3] if row[0] == roles["torn"]]
    assert torn == [("acc", 2 / 13 + 3, 0, 3, 103)]  # not the torn line's 99.0
    assert "half" not in {row[1] for row in tables[1] if row[0] == roles["uncommitted"]}
    assert seen[-1] == (RUNS + 1, RUNS + 1) and len(seen) == math.ceil((RUNS + 1) / 7)
    assert [done for done, _ in seen] == sorted(done for done, _ in seen)


def test_batches_a_worker_cannot_read_are_read_in_the_calling_process(
    varied: tuple[Path, dict[str, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    root, _ = varied
    expected = _build(root, lambda s, ids: scan_runs(s, ids, {}), 4096)
    monkeypatch.setattr(cold, "_WORKER_ENTRY", "import sys; sys.exit(3)")
    assert _build(root, lambda s, ids: cold.cold_build(s, ids, None, 2), 4096) == expected


def test_workers_read_in_other_processes_and_never_import_a_scripts_main(
    varied: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    """A caller script without a ``__main__`` guard: a worker that imported it again
    would append to the marker file (and start workers of its own)."""
    root, _ = varied
    marker = tmp_path / "imported"
    script = tmp_path / "build_index.py"
    script.write_text(
        textwrap.dedent(
            f"""
            import os
            from pathlib import Path

            from mlcli.store.index import RunIndex, cold
            from mlcli.store.index.connection import delete_index_files
            from mlcli.store.layout import StoreLayout

            with open({str(marker)!r}, "a") as handle:
                handle.write("imported\\n")
            runs_dir = {str(root / "runs")!r}
            run_ids = sorted(os.listdir(runs_dir))
            batches = [run_ids[i : i + 50] for i in range(0, len(run_ids), 50)]
            plan = cold.ReadPlan(runs_dir, 4096)
            readers = {{rows.reader for rows in cold.read_in_workers(plan, batches, 2)}}
            print(len(readers), os.getpid() in readers)

            layout = StoreLayout(Path({str(root)!r}))
            delete_index_files(layout.index_path)
            index = RunIndex.open(layout)
            session = index._session()
            with session.write():
                print(cold.cold_build(session, run_ids, None, 2))
            """
        )
    )
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=120, cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["2", "False", str(RUNS - 2)]
    assert marker.read_text() == "imported\n"


def test_the_worker_module_imports_no_third_party_package_nor_the_cli() -> None:
    probe = (  # what the import adds to what the interpreter starts with (site's .pth files)
        "import sys; before = set(sys.modules); import mlcli.store.index.cold_worker; "
        "print('\\n'.join(sorted(set(sys.modules) - before)))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    modules = done.stdout.split()
    assert "mlcli.store.index.cold_worker" in modules
    top_level = {name.split(".")[0] for name in modules}
    assert top_level - set(sys.stdlib_module_names) == {"mlcli"}
    for heavy in ("mlcli.cli", "mlcli.tracking", "mlcli.search", "mlcli.tracking_server"):
        assert not [m for m in modules if m == heavy or m.startswith(heavy + ".")], heavy


def _worker_children() -> list[str]:
    """This process's children that run the cold build's worker entry."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        if parent == os.getpid() and b"cold_worker" in cmdline:
            found.append(pid)
    return found


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")
def test_when_an_insert_fails_the_workers_are_ended_before_the_error_is_seen(
    varied: tuple[Path, dict[str, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    root, _ = varied
    monkeypatch.setattr(cold, "BATCH_RUNS", 20)
    layout = StoreLayout(root)
    delete_index_files(layout.index_path)
    db, _ = open_connection(layout)
    session = IndexSession(db, layout, ChangeJournal(layout.changes_log), LeftOut(), 4096)
    run_ids = sorted(name for name in os.listdir(layout.runs_dir) if not name.startswith("."))
    with session.write():  # a row already there: the insert of the third batch fails
        scan_runs(session, [run_ids[50]], {})
    with pytest.raises(sqlite3.IntegrityError) as failed, session.write():
        cold.cold_build(session, run_ids, None, 2)
    assert _worker_children() == []  # while the error (and its traceback) is still held
    assert "UNIQUE" in str(failed.value)
    db.close()
