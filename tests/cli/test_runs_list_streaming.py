"""``mlcli runs list`` streams: runs are read from the index a page at a time and
written as they come, in every format, with the same text as a whole listing."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest

import mlcli.search.runs
from mlcli.cli.output import Output
from mlcli.tracking import TrackingClient


@pytest.fixture
def client(store_root: Path) -> TrackingClient:
    client = TrackingClient(store_root)
    experiment = client.create_experiment("many")
    for number in range(35):
        run = client.create_run(experiment, run_name=f"run-{number:02d}")
        client.log_metric(run.info.run_id, "loss", number / 10)
        client.set_terminated(run.info.run_id)
    return client


def test_the_stream_reads_one_page_at_a_time(
    client: TrackingClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(mlcli.search.runs, "PAGE", 10)
    read: list[int] = []
    index = client.store.index
    real = index.run_rows
    monkeypatch.setattr(index, "run_rows", lambda ids: read.append(len(ids)) or real(ids))
    stream = client.iter_runs(order_by=["metrics.loss DESC"])
    first = next(stream)
    assert first.info.run_name == "run-34"
    assert read == [10]  # the first run came after reading one page, not 35 runs
    rest = list(stream)
    assert read == [10, 10, 10, 5]
    assert [r.info.run_id for r in [first, *rest]] == [
        r.info.run_id for r in client.search_runs(order_by=["metrics.loss DESC"])
    ]
    assert len(list(client.iter_runs(max_results=12))) == 12


def test_json_and_ids_are_those_of_a_whole_listing(
    client: TrackingClient, cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    whole = [r.to_dict() for r in client.search_runs()]
    monkeypatch.setattr(mlcli.search.runs, "PAGE", 10)
    listed = cli("runs", "list", "--json")
    assert listed.exit_code == 0, listed.stderr
    assert listed.stdout == json.dumps(whole, indent=2, ensure_ascii=False) + "\n"
    quiet = cli("runs", "list", "-q", "--limit", "13")
    assert quiet.stdout.splitlines() == [r["run_id"] for r in whole[:13]]
    nothing = cli("runs", "list", "--json", "--filter", "metrics.loss > 99")
    assert (nothing.exit_code, nothing.stdout) == (0, "[]\n")


def test_a_bad_filter_is_refused_before_any_output(client: TrackingClient, cli: Any) -> None:
    result = cli("runs", "list", "--json", "--filter", "metrics.loss >")
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.startswith("mlcli: error: invalid filter at column 15: ")


def test_a_long_table_is_aligned_by_its_first_rows_and_written_as_it_comes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    written = io.StringIO()
    monkeypatch.setattr("sys.stdout", written)
    out = Output(stdout_tty=False)
    rows = iter([["a", "1"], ["bbb", "22"], ["c", "3"], ["dddddd", "4"]])
    out.table_stream(["NAME", "N"], rows, sample=2)
    assert written.getvalue() == "NAME  N\na     1\nbbb   22\nc     3\ndddddd  4\n"
    short = io.StringIO()
    monkeypatch.setattr("sys.stdout", short)
    out.table_stream(["NAME", "N"], iter([["a", "1"], ["bbb", "22"]]), sample=2)
    assert short.getvalue() == "NAME  N\na     1\nbbb   22\n"  # a whole table, as before


def test_ids_alone_are_listed_without_reading_the_runs(
    client: TrackingClient, cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    whole = [r.info.run_id for r in client.search_runs(order_by=["metrics.loss ASC"])]
    monkeypatch.setattr(mlcli.search.runs, "PAGE", 10)
    read: list[int] = []
    index_class = type(client.store.index)
    real = index_class.run_rows
    monkeypatch.setattr(
        index_class, "run_rows", lambda self, ids: read.append(len(ids)) or real(self, ids)
    )
    listed = cli("runs", "list", "-q", "--order-by", "metrics.loss ASC")
    assert listed.exit_code == 0, listed.stderr
    assert listed.stdout.splitlines() == whole
    assert read == []  # no run was read: its id is all -q shows


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_first_query_that_reads_many_runs_shows_progress_on_a_terminal(
    client: TrackingClient, cli: Any, store_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import mlcli.cli.state

    for suffix in ("", "-wal", "-shm"):  # a store without its index: all 35 runs are new
        Path(f"{store_root / 'index.db'}{suffix}").unlink(missing_ok=True)
    monkeypatch.setattr(mlcli.cli.state, "INDEX_PROGRESS_RUNS", 10)
    terminal = _Terminal()
    monkeypatch.setattr("sys.stderr", terminal)
    listed = cli("runs", "list", "-q", "--limit", "1")
    assert listed.exit_code == 0
    assert "Indexing runs" in terminal.getvalue()
    assert "35/35" in terminal.getvalue()
    quiet = _Terminal()
    monkeypatch.setattr("sys.stderr", quiet)
    assert cli("runs", "list", "-q", "--limit", "1").exit_code == 0
    assert quiet.getvalue() == ""  # a warm index reads nothing: no bar
