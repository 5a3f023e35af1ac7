"""Logs are read a chunk at a time: the index built from a log and a metric's history
are what reading the whole file gives, and memory does not grow with the log.

The chunk size is a parameter; these tests use chunks of a few dozen bytes so that
torn, garbage and over-long lines fall on chunk boundaries.
"""

from __future__ import annotations

import json
import math
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from mlcli.files.fileio import parse_lines, read_log_chunks, read_log_records
from mlcli.store import Metric, Store
from mlcli.store.records import fold_latest_metrics, metric_line
from mlcli.store.scan import read_run

_LINES = [
    b'{"key":"loss","value":0.5,"step":0,"timestamp":1}\n',
    b"\n",
    b'{"key":"loss","value":0.25,"step":1,"timestamp":2}\n',
    b"not json at all\n",
    b'{"key":"acc","value":"NaN","step":0,"timestamp":3}\n',
    b'{"key":"long","value":1.5,"step":7,"timestamp":4,"pad":"' + b"x" * 300 + b'"}\n',
    b'{"key":"loss","value":9.0,"step":0,"timestamp":5}\n',  # an older step: not latest
    b'{"key":"acc","value":0.75,"step":0,"timestamp":3}\n',  # same step and time: greater wins
    b'{"key":"t\\u00e9l\\u00e9","value":"Infinity","step":2,"timestamp":6}\n',  # escaped
    b'{"key":"acc","value":0.5,"step":0,"tim\n',  # torn by a killed writer, ended by the next
    b'{"key":"bytes","value":\xff,"step":0,"timestamp":7}\n',  # not UTF-8
    b"[1, 2]\n",
    b'{"key":"loss","value":0.125,"step":2,"timestamp":8}\n',
]
_TORN_TAIL = b'{"key":"loss","value":0.0625,"step":99999,"time'  # still being written


def _whole_file_latest(data: bytes) -> dict[str, Metric]:
    """The latest point per key as the index computed it before logs were chunked: the
    complete lines of the whole file parsed at once."""
    latest: dict[str, Metric] = {}
    fold_latest_metrics(parse_lines(data[: data.rfind(b"\n") + 1]), latest)
    return latest


def _many_points(count: int) -> bytes:
    """Interleaved keys whose steps rise: the shape a training loop logs."""
    keys = ("loss", "acc", "lr")
    return "".join(
        metric_line(keys[n % 3], 1 / (n + 1), n // 3, 1_700_000_000_000 + n) for n in range(count)
    ).encode()


@pytest.mark.parametrize("chunk_size", [1, 7, 64, 1 << 20])
def test_chunks_hold_whole_lines_and_resume_exactly(tmp_path: Path, chunk_size: int) -> None:
    data = b"".join(_LINES) + _TORN_TAIL
    log = tmp_path / "metrics.jsonl"
    log.write_bytes(data)
    complete = data.rfind(b"\n") + 1

    chunks = list(read_log_chunks(log, 0, chunk_size))

    assert b"".join(chunk for chunk, _ in chunks) == data[:complete]
    assert all(chunk.endswith(b"\n") for chunk, _ in chunks)
    ends = [end for _, end in chunks]
    assert ends == sorted(set(ends)) and ends[-1] == complete
    for chunk_end in ends:  # resuming at any reported offset reads exactly the rest
        rest = b"".join(c for c, _ in read_log_chunks(log, chunk_end, chunk_size))
        assert rest == data[chunk_end:complete]
    assert list(read_log_chunks(tmp_path / "missing.jsonl", 0, chunk_size)) == []
    assert list(read_log_records(log, 0, chunk_size)) == parse_lines(data[:complete])


@pytest.mark.parametrize("chunk_size", [1, 13, 97, 4096])
def test_a_chunked_read_folds_as_the_whole_file(store_root: Path, chunk_size: int) -> None:
    store = Store.open(store_root)
    run_id = store.runs.create(experiment_id="0", run_name="r", user_id="u", tags={}).run_id
    data = b"".join(_LINES) + _many_points(500) + b"garbage\n" + _many_points(40) + _TORN_TAIL
    store.layout.metrics_log(run_id).write_bytes(data)

    runs_dir = str(store.layout.runs_dir)
    read = read_run(runs_dir, (run_id, None, (0, 0, 0)), chunk_size).logs["metrics"]

    assert read.end == data.rfind(b"\n") + 1
    assert _comparable(read.metrics) == _comparable(_whole_file_latest(data))


def test_the_index_of_a_chunked_log_equals_the_whole_file_parse(store_root: Path) -> None:
    store = Store.open(store_root)
    run_id = store.runs.create(experiment_id="0", run_name="r", user_id="u", tags={}).run_id
    log = store.layout.metrics_log(run_id)
    first = b"".join(_LINES) + _many_points(2_000) + _TORN_TAIL
    with open(log, "ab") as handle:
        handle.write(first)
    store.index.log_chunk_bytes = 61

    store.index.refresh()

    assert _indexed(store_root, run_id) == _comparable(_whole_file_latest(first))
    assert _indexed_offset(store_root, run_id) == first.rfind(b"\n") + 1

    # The write of the last line completes, more follow: the index resumes after the
    # last complete line it read, so the line once torn now counts (the latest loss).
    second = b'stamp":9}\n' + _many_points(3_000)
    with open(log, "ab") as handle:
        handle.write(second)
    store.index.refresh()

    assert _indexed(store_root, run_id) == _comparable(_whole_file_latest(first + second))
    assert _indexed_offset(store_root, run_id) == len(first + second)
    store.close()


def test_a_history_read_in_chunks_is_the_whole_history(store_root: Path) -> None:
    store = Store.open(store_root)
    run_id = store.runs.create(experiment_id="0", run_name="r", user_id="u", tags={}).run_id
    data = b"".join(_LINES) + _many_points(300) + _TORN_TAIL
    store.layout.metrics_log(run_id).write_bytes(data)
    records = parse_lines(data[: data.rfind(b"\n") + 1])
    expected = [
        (r["key"], repr(float(r["value"])), r["step"], r["timestamp"])
        for r in records
        if r.get("key") == "loss"
    ]

    for chunk_size in (5, 64, 100_000):
        points = store.runs.iter_metric_history(run_id, "loss", chunk_size)
        got = [(m.key, repr(m.value), m.step, m.timestamp) for m in points]
        assert got == expected
    every_key = store.runs.iter_metric_history(run_id, None, 50)
    assert [m.key for m in every_key] == [r["key"] for r in records if "key" in r]
    assert list(store.runs.iter_metric_history(run_id, "\ud800", 50)) == []


def _comparable(latest: dict[str, Metric]) -> dict[str, tuple[str, int, int]]:
    return {key: (repr(m.value), m.step, m.timestamp) for key, m in latest.items()}


def _indexed(root: Path, run_id: str) -> dict[str, tuple[str, int, int]]:
    with sqlite3.connect(root / "index.db") as db:
        rows = db.execute(
            "SELECT key, value, is_nan, step, timestamp FROM latest_metrics WHERE run_id = ?",
            (run_id,),
        ).fetchall()
    return {
        key: (repr(math.nan if is_nan else float(value)), step, timestamp)
        for key, value, is_nan, step, timestamp in rows
    }


def _indexed_offset(root: Path, run_id: str) -> int:
    with sqlite3.connect(root / "index.db") as db:
        query = "SELECT metrics_offset FROM runs WHERE run_id = ?"
        return db.execute(query, (run_id,)).fetchone()[0]


# -- memory: a log of a million points, read in a fresh process ----------------------------

POINTS = 1_000_000
KEYS = 10
MEMORY_BOUND_MB = 100  # the whole-file reads of before grew by 540 MB and 650 MB here

_PROBE = """
import json, sys
from pathlib import Path

def peak_kb():  # this process's own peak RSS (ru_maxrss also counts the parent's at exec)
    with open("/proc/self/status") as status:
        return int(next(line for line in status if line.startswith("VmHWM:")).split()[1])

from mlcli.store import Store
from mlcli.tracking import TrackingClient
from mlcli.search.runs import search_runs
store = Store.open(Path(sys.argv[1]))
before = peak_kb()
if sys.argv[2] == "index":
    run = search_runs(store, None)[0]
    loss = run.data.metrics["m0"]
    found = [run.info.run_id, loss, len(run.data.metrics)]
else:
    history = TrackingClient(store=store).get_metric_history(sys.argv[3], "m0")
    found = [len(history), history[0].step, history[-1].step]
after = peak_kb()
print(json.dumps({"growth_mb": (after - before) / 1024, "found": found}))
"""


@pytest.fixture(scope="module")
def huge_log(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A finished run whose metrics log holds a million points of ten keys (88 MB),
    written by the store's own writer."""
    root = tmp_path_factory.mktemp("huge") / ".mlruns"
    store, _ = Store.initialize(root)
    run_id = store.runs.create(experiment_id="0", run_name="huge", user_id="u", tags={}).run_id
    names = [f"m{k}" for k in range(KEYS)]
    for first in range(0, POINTS, 100_000):
        lines = "".join(
            metric_line(names[n % KEYS], 1 / (n + 1), n // KEYS, 1_700_000_000_000 + n)
            for n in range(first, first + 100_000)
        )
        store.runs.append_metric_lines(run_id, lines.encode())
    store.runs.set_status(run_id, "FINISHED")
    store.close()
    return root, run_id


def _probe(*args: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLCLI_")}
    result = subprocess.run(
        [sys.executable, "-c", _PROBE, *map(str, args)],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.mark.slow
def test_the_first_index_of_a_huge_log_holds_a_few_mb(huge_log: tuple[Path, str]) -> None:
    root, run_id = huge_log
    for suffix in ("", "-wal", "-shm"):
        Path(f"{root / 'index.db'}{suffix}").unlink(missing_ok=True)

    probe = _probe(root, "index")

    assert probe["found"] == [run_id, 1 / (POINTS - KEYS + 1), KEYS]
    assert probe["growth_mb"] < MEMORY_BOUND_MB


@pytest.mark.slow
def test_the_history_of_one_key_of_a_huge_log_holds_only_that_key(
    huge_log: tuple[Path, str],
) -> None:
    root, run_id = huge_log

    probe = _probe(root, "history", run_id)

    last_step = POINTS // KEYS - 1
    assert probe["found"] == [POINTS // KEYS, 0, last_step]
    assert probe["growth_mb"] < MEMORY_BOUND_MB  # 100,000 points: about 20 MB of Metric
