"""The team store's experiments and runs: PostgreSQL for the index and the buffer, the
bucket for what is flushed, and the bucket alone a store that ``mlcli clone`` reads."""

from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from mlcli.errors import ConflictError, NotFoundError
from mlcli.store import Metric, RunStatus
from mlcli.store.team.flush import flush_run


def _mlcli(env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``mlcli ARGS`` as a separate process, its output captured as text."""
    return subprocess.run(
        [sys.executable, "-m", "mlcli", *args], capture_output=True, text=True, env=env, cwd=cwd
    )


def _run(store: Any, name: str = "r") -> str:
    experiment = store.experiments.get_or_create("demo")
    return store.runs.create(
        experiment_id=experiment.experiment_id, run_name=name, user_id="ann", tags={"k": "v"}
    ).run_id


def test_experiments_are_unique_by_name_among_active_ones(team_store: Any) -> None:
    first = team_store.experiments.create("demo", {"team": "vision"})
    with pytest.raises(ConflictError, match="already exists"):
        team_store.experiments.create("demo")
    team_store.experiments.delete(first.experiment_id)
    second = team_store.experiments.create("demo")
    assert second.experiment_id != first.experiment_id
    with pytest.raises(ConflictError, match="rename one of them first"):
        team_store.experiments.restore(first.experiment_id)
    names = [e.name for e in team_store.experiments.list()]
    assert names == ["Default", "demo"]
    assert team_store.experiments.resolve("demo").experiment_id == second.experiment_id
    assert team_store.experiments.get(first.experiment_id).tags == {"team": "vision"}


def test_a_batch_lands_whole_and_params_never_change(team_store: Any) -> None:
    run_id = _run(team_store)
    points = [Metric("loss", 1.0 / (i + 1), i, 1000 + i) for i in range(100)]
    team_store.runs.log_batch(run_id, params={"lr": "0.1"}, tags={"t": "1"}, metrics=points)
    with pytest.raises(ConflictError, match="params cannot change"):
        team_store.runs.log_batch(
            run_id, params={"lr": "0.2"}, metrics=[Metric("loss", 9.0, 500, 1)]
        )
    run = team_store.get_run(run_id)
    assert run.data.params == {"lr": "0.1"}
    assert run.data.tags["t"] == "1" and run.data.tags["k"] == "v"
    assert run.data.latest_metrics["loss"].step == 99  # the refused batch left no point
    assert len(team_store.runs.read_metric_history(run_id, "loss")) == 100


def test_a_named_batch_sent_twice_is_applied_once(team_store: Any) -> None:
    run_id = _run(team_store)
    batch = [Metric("m", 1.0, 0, 5), Metric("m", 2.0, 1, 6)]
    for _ in range(3):
        team_store.runs.log_batch(run_id, metrics=batch, batch_id="0123456789abcdef")
    assert [m.value for m in team_store.runs.read_metric_history(run_id)] == [1.0, 2.0]


def test_latest_metric_follows_the_local_rule(team_store: Any) -> None:
    run_id = _run(team_store)
    team_store.runs.append_metrics(run_id, [Metric("a", 5.0, 3, 10), Metric("a", 1.0, 2, 99)])
    team_store.runs.append_metrics(run_id, [Metric("a", math.nan, 3, 10)])  # NaN is lowest
    team_store.runs.append_metrics(run_id, [Metric("b", math.inf, 0, 1)])
    latest = team_store.runs.read_latest_metrics(run_id)
    assert latest["a"].value == 5.0 and latest["a"].step == 3
    assert latest["b"].value == math.inf


def test_history_reads_segments_then_buffer_across_flushes(team_store: Any) -> None:
    run_id = _run(team_store)
    expected = []
    for round_ in range(3):
        points = [Metric("x", float(round_ * 10 + i), round_ * 10 + i, 1) for i in range(10)]
        team_store.runs.append_metrics(run_id, points)
        expected += points
        if round_ < 2:
            assert flush_run(team_store, run_id)
    assert [m.value for m in team_store.runs.read_metric_history(run_id, "x")] == [
        m.value for m in expected
    ]
    buffered = team_store.database.query("SELECT count(*) FROM buffer WHERE run_id = %s", (run_id,))
    assert buffered[0][0] == 10  # the last round is still in PostgreSQL only


def test_a_flush_repeated_after_a_crash_duplicates_nothing(
    team_store: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A flush that wrote its segment and manifest but died before PostgreSQL committed
    leaves the lines buffered: the next flush writes them again, readers see them once."""
    run_id = _run(team_store)
    team_store.runs.append_metrics(run_id, [Metric("x", 1.0, 0, 1)])
    real_delete = None

    class Died(Exception):
        pass

    from mlcli.store.team import flush as flush_module

    original = flush_module._segment

    def segment_then_die(*args: Any) -> Any:
        result = original(*args)
        nonlocal real_delete
        if real_delete is None:
            real_delete = True
            name_body, _ = result
            assert name_body is not None
            team_store.objects.put(f"runs/{run_id}/segments/{name_body[0]['name']}", name_body[1])
            raise Died
        return result

    monkeypatch.setattr(flush_module, "_segment", segment_then_die)
    with pytest.raises(Died):
        flush_run(team_store, run_id)
    team_store.runs.append_metrics(run_id, [Metric("x", 2.0, 1, 1)])
    assert flush_run(team_store, run_id)
    assert [m.value for m in team_store.runs.read_metric_history(run_id)] == [1.0, 2.0]


def test_status_and_lifecycle_and_unknown_runs(team_store: Any) -> None:
    run_id = _run(team_store)
    info = team_store.runs.set_status(run_id, RunStatus.FINISHED)
    assert info.status == "FINISHED" and info.end_time
    team_store.runs.set_lifecycle(run_id, "deleted")
    assert team_store.runs.info(run_id).lifecycle_stage == "deleted"
    assert team_store.runs.resolve(run_id[:6]) == run_id
    with pytest.raises(NotFoundError):
        team_store.runs.info("f" * 32)
    with pytest.raises(NotFoundError):
        team_store.runs.log_batch("f" * 32, tags={"a": "b"})
    with pytest.raises(NotFoundError):
        team_store.runs.read_metric_history("f" * 32)


def test_search_runs_in_postgresql(team_store: Any) -> None:
    from mlcli.search.runs import search_runs

    ids = []
    for i in range(5):
        run_id = _run(team_store, f"r{i}")
        team_store.runs.log_batch(
            run_id, params={"lr": str(i / 10)}, metrics=[Metric("acc", i / 4, 0, 1)]
        )
        ids.append(run_id)
    found = search_runs(team_store, None, "metrics.acc >= 0.5", ["metrics.acc DESC"])
    assert [r.info.run_id for r in found] == [ids[4], ids[3], ids[2]]
    found = search_runs(team_store, None, "params.lr = '0.1'")
    assert [r.info.run_id for r in found] == [ids[1]]


def test_the_bucket_alone_is_a_store_mlcli_clone_reads(
    team_store: Any, team_urls: Any, tmp_path: Path
) -> None:
    run_id = _run(team_store)
    team_store.runs.log_batch(
        run_id, params={"lr": "0.1"}, metrics=[Metric("loss", float(i), i, 7) for i in range(50)]
    )
    team_store.runs.set_tags(run_id, {"k": None, "note": "hello"})
    team_store.runs.set_status(run_id, RunStatus.FINISHED)
    team_store.flusher.flush_all(idle_seconds=0)
    env = {**os.environ, **team_urls.env}
    target = tmp_path / "copy"
    done = _mlcli(env, tmp_path, "clone", team_urls.store, str(target))
    assert done.returncode == 0, done.stderr
    shown = _mlcli(
        env, tmp_path, "--store", str(target / ".mlruns"), "runs", "show", run_id, "--json"
    )
    assert shown.returncode == 0, shown.stderr
    import json

    run = json.loads(shown.stdout)
    assert run["params"] == {"lr": "0.1"}
    assert run["tags"]["note"] == "hello" and "k" not in run["tags"]
    assert run["status"] == "FINISHED" and run["experiment_name"] == "demo"
    assert run["metrics"] == {"loss": 49.0}


def test_text_postgresql_cannot_hold_is_refused_in_one_line(team_store: Any) -> None:
    from mlcli.errors import InvalidInputError

    run_id = _run(team_store)
    with pytest.raises(InvalidInputError, match="NUL"):
        team_store.runs.set_tags(run_id, {"note": "a\x00b"})
    with pytest.raises(InvalidInputError, match="NUL"):
        team_store.runs.log_params(run_id, {"p\x00": "1"})
    assert "note" not in team_store.runs.read_tags(run_id)


def test_a_renamed_experiment_reaches_a_clone_under_its_new_name_only(
    team_store: Any, team_urls: Any, tmp_path: Path
) -> None:
    import json

    run_id = _run(team_store)
    team_store.flusher.flush_all(idle_seconds=0)  # the manifest names "demo"
    team_store.experiments.rename(team_store.experiments.resolve("demo").experiment_id, "vision")
    team_store.flusher.flush_all(idle_seconds=0)
    env = {**os.environ, **team_urls.env}
    target = tmp_path / "copy"
    done = _mlcli(env, tmp_path, "clone", team_urls.store, str(target))
    assert done.returncode == 0, done.stderr
    listed = _mlcli(
        env, tmp_path, "--store", str(target / ".mlruns"), "experiments", "list", "--json"
    )
    assert listed.returncode == 0, listed.stderr
    names = sorted(e["name"] for e in json.loads(listed.stdout))
    assert names == ["Default", "vision"]
    shown = _mlcli(
        env, tmp_path, "--store", str(target / ".mlruns"), "runs", "show", run_id, "--json"
    )
    assert json.loads(shown.stdout)["experiment_name"] == "vision"


def test_a_served_bucket_refuses_a_push_and_a_pushed_bucket_refuses_to_be_served(
    team_store: Any, team_urls: Any, moto_server: Any, tmp_path: Path
) -> None:
    from mlcli.errors import StoreError
    from mlcli.store import TeamStore

    env = {**os.environ, **team_urls.env}
    local = tmp_path / "laptop"
    local.mkdir()
    from mlcli.client import MlcliClient
    from mlcli.store import Store

    laptop, _ = Store.initialize(local / ".mlruns")
    client = MlcliClient(laptop)
    client.log_metric(client.create_run("0").info.run_id, "x", 1.0)
    pushed = _mlcli(env, local, "--store", str(local / ".mlruns"), "push", team_urls.store)
    assert pushed.returncode != 0
    assert "served by mlcli servers" in pushed.stderr and "Traceback" not in pushed.stderr
    assert len(pushed.stderr.strip().splitlines()) == 1

    other = f"s3://{moto_server.new_bucket()}/pushed"
    sent = _mlcli(env, local, "--store", str(local / ".mlruns"), "push", other)
    assert sent.returncode == 0, sent.stderr
    with pytest.raises(StoreError, match="already holds a store sent with 'mlcli push'"):
        TeamStore.open(other, team_urls.index)
