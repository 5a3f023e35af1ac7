"""A batch is all or nothing for every reader, even when its writer is killed half-way
(issue 15, finding 6): each line of a multi-line batch names the batch, and readers
skip it until the batch's commit line is in ``batches.jsonl``."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from mlcli.errors import InvalidInputError
from mlcli.files.lock import FileLock
from mlcli.search.runs import search_runs
from mlcli.store import Store
from mlcli.tracking import TrackingClient

BATCH = "0123456789abcdef"


def _append(path: Path, text: str) -> None:
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(text)


def _half_batch(run_dir: Path, batch: str = BATCH) -> None:
    """What a writer killed between its writes leaves: params and tags written, the
    metrics write cut off inside its second line, no commit line."""
    _append(run_dir / "params.jsonl", json.dumps({"key": "p", "value": "1", "batch": batch}) + "\n")
    _append(run_dir / "tags.jsonl", json.dumps({"key": "t", "value": "v", "batch": batch}) + "\n")
    _append(
        run_dir / "metrics.jsonl",
        f'{{"key":"m","value":1.0,"step":0,"timestamp":1,"batch":"{batch}"}}\n'
        f'{{"key":"m","value":2.0,"st',
    )


def _seen(store: Store, run_id: str) -> dict[str, object]:
    """What each reader of the run sees of keys p, t and m."""
    run = store.get_run(run_id)  # through the index
    searched = search_runs(store, None, "params.p = '1'")
    return {
        "index params": run.data.params.get("p"),
        "index tags": run.data.tags.get("t"),
        "index metrics": "m" in run.data.latest_metrics,
        "search": [r.run_id for r in searched],
        "file params": store.runs.read_params(run_id).get("p"),
        "file tags": store.runs.read_tags(run_id).get("t"),
        "file metrics": "m" in store.runs.read_latest_metrics(run_id),
        "history": [m.value for m in store.runs.read_metric_history(run_id, "m")],
    }


NOTHING = {
    "index params": None,
    "index tags": None,
    "index metrics": False,
    "search": [],
    "file params": None,
    "file tags": None,
    "file metrics": False,
    "history": [],
}


@pytest.fixture
def client(store_root: Path) -> TrackingClient:
    return TrackingClient(store_root)


def test_a_batch_is_written_with_its_commit_line(client: TrackingClient, store_root: Path) -> None:
    run_id = client.create_run().run_id
    client.log_batch(run_id, metrics=[("m", 1.0, 0), ("m", 2.0, 1)], params={"p": "1"})
    run_dir = store_root / "runs" / run_id
    params = [json.loads(line) for line in (run_dir / "params.jsonl").read_text().splitlines()]
    batch = params[0]["batch"]
    assert params == [{"key": "p", "value": "1", "batch": batch}]
    metrics = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert [(m["value"], m["batch"]) for m in metrics] == [(1.0, batch), (2.0, batch)]
    commits = (run_dir / "batches.jsonl").read_text().splitlines()
    assert [json.loads(line) for line in commits] == [{"batch": batch, "lines": 3}]


def test_a_single_write_needs_no_batch(client: TrackingClient, store_root: Path) -> None:
    run_id = client.create_run().run_id
    client.log_param(run_id, "p", "1")
    run_dir = store_root / "runs" / run_id
    assert json.loads((run_dir / "params.jsonl").read_text()) == {"key": "p", "value": "1"}
    assert not (run_dir / "batches.jsonl").exists()


def test_a_batch_cut_short_is_seen_by_no_reader(client: TrackingClient, store_root: Path) -> None:
    run_id = client.create_run().run_id
    store = Store.open(store_root)
    store.get_run(run_id)  # the index holds the run before the half batch lands
    _half_batch(store_root / "runs" / run_id)
    assert _seen(store, run_id) == NOTHING
    store.index.rebuild()
    assert _seen(store, run_id) == NOTHING
    # The run takes batches after it as usual, on a fresh line after the torn one.
    client.log_batch(run_id, metrics=[("m", 3.0, 5)], params={"p": "1"}, tags={"t": "w"})
    seen = _seen(store, run_id)
    assert (seen["index params"], seen["index tags"], seen["history"]) == ("1", "w", [3.0])
    assert seen == _seen(Store.open(store_root), run_id)


def test_the_cli_sees_nothing_of_a_batch_cut_short(cli, client, store_root: Path) -> None:
    run_id = client.create_run().run_id
    _half_batch(store_root / "runs" / run_id)
    shown = cli("runs", "show", run_id, "--json").json()
    assert (shown["params"], shown["metrics"]) == ({}, {})
    assert "t" not in shown["tags"]
    assert cli("runs", "list", "--filter", "params.p = '1'", "-q").stdout == ""


def test_a_batch_being_written_is_seen_whole_once_it_commits(
    client: TrackingClient, store_root: Path
) -> None:
    """The index reads each log once, from where it stopped: meeting a batch half
    written, it waits for the writer's lock rather than stepping past the batch."""
    run_id = client.create_run().run_id
    store = Store.open(store_root)
    store.get_run(run_id)
    run_dir = store_root / "runs" / run_id
    seen: dict[str, object] = {}
    with FileLock(run_dir / ".lock"):  # a writer, half-way through its batch
        _append(run_dir / "params.jsonl", json.dumps({"key": "p", "value": "1", "batch": BATCH}))
        _append(run_dir / "params.jsonl", "\n")
        reader = threading.Thread(target=lambda: seen.update(_seen(Store.open(store_root), run_id)))
        reader.start()
        _wait_for_a_second_opener(run_dir / ".lock")
        _append(
            run_dir / "metrics.jsonl",
            f'{{"key":"m","value":1.0,"step":0,"timestamp":1,"batch":"{BATCH}"}}\n',
        )
        _append(run_dir / "batches.jsonl", json.dumps({"batch": BATCH, "lines": 2}) + "\n")
    reader.join(timeout=120)
    assert not reader.is_alive()
    assert (seen["index params"], seen["index metrics"], seen["search"]) == ("1", True, [run_id])
    assert _seen(store, run_id)["index params"] == "1"


def _wait_for_a_second_opener(path: Path) -> None:
    """Until this process holds ``path`` open twice: the test's lock, and the reader
    waiting to lock it too."""
    target = os.path.realpath(path)
    for _ in range(12_000):
        opened = 0
        for fd in os.listdir("/proc/self/fd"):
            with contextlib.suppress(OSError):
                opened += os.readlink(f"/proc/self/fd/{fd}") == target
        if opened >= 2:
            return
        threading.Event().wait(0.01)
    raise AssertionError("the reader never waited for the writer's lock")


def _wait_for_a_blocked_lock(pid: int) -> None:
    """Until process ``pid`` waits for a file lock (its line in /proc/locks has '->')."""
    for _ in range(12_000):
        for line in Path("/proc/locks").read_text().splitlines():
            fields = line.split()
            if len(fields) > 5 and fields[1] == "->" and fields[5] == str(pid):
                return
        threading.Event().wait(0.01)
    raise AssertionError(f"process {pid} never waited for a lock")


def _wait_until_stopped(pid: int) -> None:
    """Until process ``pid`` is stopped by a signal (state T in /proc/<pid>/stat)."""
    for _ in range(12_000):
        stat = Path(f"/proc/{pid}/stat").read_text()
        if stat[stat.rindex(")") + 2] == "T":
            return
        threading.Event().wait(0.01)
    raise AssertionError(f"process {pid} never stopped")


def test_log_batch_with_an_unwritable_value_writes_nothing(
    client: TrackingClient, store_root: Path
) -> None:
    run_id = client.create_run().run_id
    run_dir = store_root / "runs" / run_id
    before = {p.name: p.read_bytes() for p in run_dir.glob("*.jsonl")}
    with pytest.raises(InvalidInputError, match="value of tag 't' is not valid UTF-8 text"):
        client.log_batch(run_id, params={"p": "1"}, tags={"t": "x\udcff"})
    with pytest.raises(InvalidInputError, match="value of param 'q' is not valid UTF-8 text"):
        client.log_batch(run_id, metrics=[("m", 1.0)], params={"q": "\ud800"})
    assert {p.name: p.read_bytes() for p in run_dir.glob("*.jsonl")} == before


def test_a_run_name_in_a_batch_renames_the_run(client: TrackingClient) -> None:
    run_id = client.create_run(run_name="before").run_id
    client.log_batch(run_id, params={"p": "1"}, tags={"mlcli.runName": "after"})
    assert client.get_run(run_id).info.run_name == "after"
    with pytest.raises(InvalidInputError, match="invalid run name"):
        client.log_batch(run_id, params={"q": "1"}, tags={"mlcli.runName": "a\nb"})
    assert "q" not in client.get_run(run_id).data.params


WRITER = """
import sys
from mlcli.tracking import TrackingClient
client = TrackingClient(sys.argv[1])
client.log_batch(
    sys.argv[2],
    metrics=[("m", float(step), step) for step in range(5000)],
    params={"p": "1"},
    tags={"t": "v"},
)
"""


@pytest.mark.parametrize("held", ["tags.jsonl", "metrics.jsonl", "batches.jsonl"])
def test_a_writer_killed_between_its_writes_leaves_nothing_visible(
    client: TrackingClient, store_root: Path, tmp_path: Path, held: str
) -> None:
    """A real writer, stopped for certain between two of its writes: it waits for a
    lock the test holds on the next file it appends to, and is SIGKILLed there."""
    run_id = client.create_run().run_id
    store = Store.open(store_root)
    store.get_run(run_id)
    run_dir = store_root / "runs" / run_id
    script = tmp_path / "writer.py"
    script.write_text(textwrap.dedent(WRITER))
    fd = os.open(run_dir / held, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        writer = subprocess.Popen([sys.executable, str(script), str(store_root), run_id])
        _wait_for_a_blocked_lock(writer.pid)
        os.kill(writer.pid, signal.SIGKILL)
        writer.wait(timeout=120)
    finally:
        os.close(fd)
    written = {p.name for p in run_dir.glob("*.jsonl") if p.stat().st_size}
    assert "params.jsonl" in written  # the batch was half-written indeed
    assert _seen(store, run_id) == NOTHING
    assert _seen(Store.open(store_root), run_id) == NOTHING
    store.index.rebuild()
    assert _seen(store, run_id) == NOTHING
    # The next batch of the same keys is the one readers see, whole.
    client.log_batch(run_id, metrics=[("m", 7.0, 0), ("m", 8.0, 1)], params={"p": "1"})
    assert _seen(store, run_id)["history"] == [7.0, 8.0]
    assert _seen(store, run_id)["index params"] == "1"


@pytest.mark.slow
def test_a_stopped_writer_holds_no_reader_and_its_batch_is_not_lost(
    client: TrackingClient, store_root: Path, tmp_path: Path
) -> None:
    """A writer stopped mid-batch (SIGSTOP, as a suspended job is) keeps the run's lock:
    readers wait for it a while, then read up to its batch, and see the batch whole
    once the writer goes on and commits it."""
    run_id = client.create_run().run_id
    store = Store.open(store_root)
    store.get_run(run_id)
    run_dir = store_root / "runs" / run_id
    script = tmp_path / "writer.py"
    script.write_text(textwrap.dedent(WRITER))
    fd = os.open(run_dir / "metrics.jsonl", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        writer = subprocess.Popen([sys.executable, str(script), str(store_root), run_id])
        _wait_for_a_blocked_lock(writer.pid)
        os.kill(writer.pid, signal.SIGSTOP)
        # A stop signal is delivered later: released before the writer is stopped, the
        # lock could still go to it on its way to stopping.
        _wait_until_stopped(writer.pid)
    finally:
        os.close(fd)
    try:
        client.log_metric(run_id, "other", 1.0)  # a write that is no batch, after it
        assert _seen(store, run_id) == NOTHING
        assert "other" in store.get_run(run_id).data.latest_metrics
    finally:
        os.kill(writer.pid, signal.SIGCONT)
    assert writer.wait(timeout=120) == 0
    seen = _seen(store, run_id)
    assert (seen["index params"], seen["index tags"], seen["search"]) == ("1", "v", [run_id])
    assert len(seen["history"]) == 5000  # type: ignore[arg-type]
    assert "other" in store.get_run(run_id).data.latest_metrics
