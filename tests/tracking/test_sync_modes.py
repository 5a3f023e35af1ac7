"""``MLCLI_SYNC`` chooses when log lines are fsynced (docs/tracking.md, "Durability");
run.json is fsynced whenever it is written, under every mode:

- ``none`` (the default, as before the setting): never;
- ``batch``: each batch of lines (a ``log_batch`` of more than one item, a flush of the
  fluent API's buffer) and a run's logs when it ends;
- ``always``: every append.

os.fsync has no audit event, so the tests count calls to it in this process.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

import mlcli
from mlcli.tracking import TrackingClient


class Fsyncs:
    """The files fsynced, by name, since the last ``take`` (in order)."""

    def __init__(self) -> None:
        self.names: list[str] = []

    def take(self) -> list[str]:
        names, self.names = self.names, []
        return names


@pytest.fixture
def fsyncs(monkeypatch: pytest.MonkeyPatch) -> Fsyncs:
    seen = Fsyncs()
    real = os.fsync

    def counting(fd: Any) -> None:
        seen.names.append(os.path.basename(os.readlink(f"/proc/self/fd/{int(fd)}")))
        real(fd)

    monkeypatch.setattr(os, "fsync", counting)
    return seen


@pytest.fixture
def client(store_root: Path) -> TrackingClient:
    return TrackingClient(store_root)


def test_none_is_the_default_and_syncs_run_json_only(
    client: TrackingClient, fsyncs: Fsyncs, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MLCLI_SYNC", raising=False)
    run_id = client.create_run().run_id
    assert fsyncs.take() == ["run.json"]
    for step in range(10):
        client.log_metric(run_id, "m", float(step), step=step)
    client.log_batch(run_id, metrics=[("a", 1.0), ("b", 2.0)], params={"p": "1"})
    client.set_tag(run_id, "t", "1")
    assert fsyncs.take() == []
    client.set_terminated(run_id)
    names = fsyncs.take()  # the new run.json, written under a temporary name
    assert len(names) == 1 and names[0].startswith(".run.json."), names
    run = client.get_run(run_id)  # and everything is there for any process to read
    assert run.info.status == "FINISHED" and run.data.metrics == {"m": 9.0, "a": 1.0, "b": 2.0}
    monkeypatch.setenv("MLCLI_SYNC", "none")  # said out loud: the same
    client.log_batch(run_id, metrics=[("a", 1.0), ("b", 2.0)])
    assert fsyncs.take() == []


def test_batch_syncs_batches_and_run_ends(
    client: TrackingClient, fsyncs: Fsyncs, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLCLI_SYNC", "batch")
    run_id = client.create_run().run_id
    assert fsyncs.take() == ["run.json"]
    for step in range(10):
        client.log_metric(run_id, "m", float(step), step=step)
    client.set_tag(run_id, "t", "1")
    assert fsyncs.take() == []  # single lines wait for a batch or the run's end
    client.log_batch(run_id, metrics=[("a", 1.0), ("b", 2.0)], params={"p": "1"})
    assert sorted(fsyncs.take()) == ["batches.jsonl", "metrics.jsonl", "params.jsonl"]
    client.set_terminated(run_id)
    # The run's logs, then the new run.json (written under a temporary name).
    names = fsyncs.take()
    assert sorted(names[:4]) == ["batches.jsonl", "metrics.jsonl", "params.jsonl", "tags.jsonl"]
    assert len(names) == 5 and names[4].startswith(".run.json."), names


def test_batch_syncs_each_flush_of_the_fluent_buffer(
    store_root: Path, fsyncs: Fsyncs, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLCLI_SYNC", "batch")
    monkeypatch.setenv("MLCLI_STORE", str(store_root))
    with mlcli.start_run():
        fsyncs.take()
        for step in range(100):
            mlcli.log_metric("loss", 1.0 / (step + 1), step=step)
        mlcli.flush()
        assert fsyncs.take() == ["metrics.jsonl"]
        mlcli.flush()  # nothing pending: nothing written, nothing synced
        assert fsyncs.take() == []


def test_always_syncs_every_append(
    client: TrackingClient, fsyncs: Fsyncs, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLCLI_SYNC", "always")
    run_id = client.create_run().run_id
    assert sorted(fsyncs.take()) == ["changes.jsonl", "run.json", "tags.jsonl"]
    for step in range(10):
        client.log_metric(run_id, "m", float(step), step=step)
    assert fsyncs.take() == ["metrics.jsonl"] * 10
    client.set_tag(run_id, "t", "1")
    assert fsyncs.take() == ["tags.jsonl"]


@pytest.mark.parametrize("value", ["sometimes", "ALWAYS!", "0"])
def test_a_bad_value_is_one_line(mlcli_process: Any, workdir: Path, value: str) -> None:
    mlcli_process("init", cwd=workdir)
    env = {**os.environ, "MLCLI_SYNC": value}
    result = mlcli_process("runs", "create", cwd=workdir, env=env, check=False)
    assert result.returncode != 0
    assert result.stderr.strip().count("\n") == 0, result.stderr
    assert f"invalid MLCLI_SYNC {value!r}: expected none, batch, always" in result.stderr
    assert not list((workdir / ".mlruns" / "runs").glob("*"))  # nothing written


def test_the_mode_is_read_without_case_or_spaces(
    client: TrackingClient, fsyncs: Fsyncs, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLCLI_SYNC", " ALWAYS ")
    client.create_run()
    assert sorted(fsyncs.take()) == ["changes.jsonl", "run.json", "tags.jsonl"]


def test_a_server_refuses_a_bad_value_when_it_starts(mlcli_process: Any, workdir: Path) -> None:
    env = {**os.environ, "MLCLI_SYNC": "sometimes"}
    result = mlcli_process("server", "--port", "0", cwd=workdir, env=env, check=False)
    assert result.returncode == 2
    assert result.stderr == (
        "mlcli: error: invalid MLCLI_SYNC 'sometimes': expected none, batch, always\n"
    )
