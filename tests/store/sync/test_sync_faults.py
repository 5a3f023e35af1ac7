"""Concurrency and faults of push and pull (issue 17), with real parts only: real
processes, a real SIGKILL at a counted point (fault_helpers.py), a directory remote
and moto's S3 server.

- eight stores push into one remote at once: the same experiment name, the same model
  name; a clone has everything, one experiment, versions 1..8;
- a push killed after its Nth write, for N across the whole push: a reader sees only
  whole runs and models; a second push completes; a clone then equals the source;
- a pull killed after its Nth read (into a new store, and into one that has the runs
  already): the store stays sound (fsck); a second pull completes it exactly;
- a live run pushed, grown, pushed again: every point once, in order;
- one tag set differently in two stores: the conflict is reported, never silent.
"""

from __future__ import annotations

import itertools
import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from compare_stores import assert_same_stores, differences, snapshot
from fault_helpers import (
    EXPERIMENT,
    KILLED,
    MODEL,
    build_store,
    child_env,
    child_report,
    register,
    run_child,
)
from s3servers import S3Server

from mlcli.objects import open_objects
from mlcli.store import Store
from mlcli.store.sync import pull, push
from mlcli.tracking import TrackingClient
from mlcli.transfers import clone

PUSHERS = 8
KILL_POINTS = 10  # kill points spread over a whole transfer

RemoteFactory = Callable[[], tuple[str, dict[str, str]]]


@pytest.fixture(params=["directory", "moto"])
def new_remote(request: pytest.FixtureRequest, tmp_path: Path, s3_env) -> RemoteFactory:
    """A function making a fresh, empty remote of one kind: its URL and the environment
    a child process needs to reach it (this test's boto3 is pointed at it too)."""
    made = iter(range(1_000))
    if request.param == "directory":
        return lambda: (str(tmp_path / f"remote-{next(made)}"), {})
    server: S3Server = request.getfixturevalue("moto_server")
    env = s3_env(server)
    return lambda: (f"s3://{server.new_bucket()}/team", env)


def kill_points(total: int, count: int = KILL_POINTS) -> list[int]:
    """``count`` kill points spread over 1..total-1 (the first and last included)."""
    if total <= 1:
        return []
    step = max((total - 1) / (count - 1), 1)
    return sorted({min(total - 1, round(1 + i * step)) for i in range(count)})


def fresh_copy(template: Path, where: Path) -> Path:
    """A copy of the store ``template`` (a ``.mlruns``) at ``where/.mlruns``."""
    shutil.copytree(template, where / ".mlruns", symlinks=True)
    return where / ".mlruns"


def clone_into(url: str, directory: Path) -> Path:
    root, _ = clone(url, directory)
    return root


# -- 8 pushers at once -----------------------------------------------------------------------

BARRIER_PUSH = r"""
import sys
from mlcli.cli.main import main
print("ready", flush=True)
sys.stdin.readline()
main(["push", sys.argv[1], "--json"])
"""


@pytest.mark.slow
def test_eight_stores_push_into_one_remote_at_once(
    new_remote: RemoteFactory, tmp_path: Path
) -> None:
    url, env = new_remote()
    roots = [tmp_path / f"store-{i}" / ".mlruns" for i in range(PUSHERS)]
    run_ids = {}
    for number, root in enumerate(roots):
        run_ids[root] = build_store(root, f"s{number}", runs=2)
    # no alias: eight stores setting one alias is a conflict, refused by design
    for root in roots:
        shutil.rmtree(root / "models")
        register(root, run_ids[root][0], root.parent.name, alias=None)

    processes = []
    for root in roots:
        environ = child_env(env) | {"MLCLI_STORE": str(root)}
        processes.append(
            subprocess.Popen(
                [sys.executable, "-c", BARRIER_PUSH, url],
                cwd=root.parent,
                env=environ,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    for process in processes:  # every one imported and waiting: let them all go
        assert process.stdout is not None
        assert process.stdout.readline().strip() == "ready"
    for process in processes:
        assert process.stdin is not None
        process.stdin.write("go\n")
        process.stdin.flush()
    reports = []
    for process, root in zip(processes, roots, strict=True):
        out, err = process.communicate(timeout=300)
        assert process.returncode == 0, f"{root}: {err}"
        assert "error" not in err.lower(), err
        reports.append(json.loads(out))
    assert all(not r["conflicts"] for r in reports), reports

    cloned = snapshot(clone_into(url, tmp_path / "clone"))
    sources = {root: snapshot(root) for root in roots}
    every_run = {r for root in roots for r in run_ids[root]}
    assert set(cloned["runs"]) == every_run
    for source in sources.values():
        for run_id, run in source["runs"].items():
            assert not differences(run, cloned["runs"][run_id]), run_id
    assert sorted(cloned["experiments"]) == ["Default", EXPERIMENT]
    shared = [e for e in Store.open(tmp_path / "clone" / ".mlruns").experiments.list()]
    assert [e.name for e in shared].count(EXPERIMENT) == 1

    versions = cloned["models"][MODEL]["versions"]
    assert sorted(versions) == list(range(1, PUSHERS + 1))
    by_run = {v["doc"]["run_id"]: n for n, v in versions.items()}
    assert set(by_run) == {run_ids[root][0] for root in roots}  # each store's, once
    for root in roots:
        mine = sources[root]["models"][MODEL]["versions"]
        assert len(mine) == 1
        (number, version), *_ = mine.items()
        # renumbered here to the number the remote gave it, files and all
        assert number == by_run[run_ids[root][0]]
        assert version == versions[number]


# -- a push killed at N writes ---------------------------------------------------------------


@pytest.mark.slow
def test_push_killed_after_n_writes_leaves_a_consistent_remote_and_resumes(
    new_remote: RemoteFactory, tmp_path: Path
) -> None:
    template = tmp_path / "template" / ".mlruns"
    build_store(template, "src")
    counted_url, env = new_remote()
    total = child_report(
        run_child("push", fresh_copy(template, tmp_path / "counted"), counted_url, -1, env)
    )["calls"]
    assert total > 20  # a push of several runs, artifacts and a model

    for kill_after in kill_points(total):
        here = tmp_path / f"kill-{kill_after}"
        source = fresh_copy(template, here / "source")
        url, env = new_remote()
        killed = run_child("push", source, url, kill_after, env)
        assert killed.returncode == KILLED, (kill_after, killed.stderr)

        expected = snapshot(source)
        seen = snapshot(clone_into(url, here / "reader"))
        assert set(seen["runs"]) <= set(expected["runs"])
        for run_id, run in seen["runs"].items():  # whole, or not there at all
            assert not differences(expected["runs"][run_id], run), (kill_after, run_id)
        for name, model in seen["models"].items():  # a model only with its manifest
            assert not differences(expected["models"][name], model), (kill_after, name)

        child_report(run_child("push", source, url, -1, env))
        assert_same_stores(source, clone_into(url, here / "final"))


@pytest.mark.slow
def test_live_run_grown_after_a_killed_push_has_each_point_once(
    new_remote: RemoteFactory, tmp_path: Path
) -> None:
    """A push of a RUNNING run killed after its manifest landed but before the push
    was recorded locally; the run logs more; the next push must not send the points
    the remote has already under a second, overlapping segment."""
    template = tmp_path / "template" / ".mlruns"
    live = build_store(template, "src", runs=1)[0]
    for kill_after in itertools.count(1):  # every write of the second push in turn
        here = tmp_path / f"kill-{kill_after}"
        source = fresh_copy(template, here / "source")
        url, env = new_remote()
        child_report(run_child("push", source, url, -1, env))  # the run, first pushed
        _log_points(source, live, range(5, 8))
        killed = run_child("push", source, url, kill_after, env)
        if killed.returncode != KILLED:
            assert kill_after > 2, killed.stderr  # it got through: every point was tried
            break
        _log_points(source, live, range(8, 11))
        child_report(run_child("push", source, url, -1, env))
        assert_same_stores(source, clone_into(url, here / "clone"))


def _log_points(root: Path, run_id: str, steps: range) -> None:
    store = Store.open(root)
    try:
        client = TrackingClient(store)
        for step in steps:
            client.log_metric(run_id, "loss", 1.0 / (step + 1), 1_000 + step, step)
    finally:
        store.close()


# -- a pull killed at N reads ----------------------------------------------------------------


@pytest.mark.slow
def test_pull_killed_after_n_reads_leaves_a_sound_store_and_resumes(
    new_remote: RemoteFactory, tmp_path: Path
) -> None:
    source = tmp_path / "source" / ".mlruns"
    ids = build_store(source, "src")
    url, env = new_remote()
    child_report(run_child("push", source, url, -1, env))
    _log_points(source, ids[-1], range(5, 8))  # a second segment for the live run
    register(source, ids[1], "src-second", alias="challenger")  # a second push of events
    child_report(run_child("push", source, url, -1, env))
    total = child_report(run_child("pull", tmp_path / "counted" / ".mlruns", url, -1, env))["calls"]

    for kill_after in kill_points(total):
        local = tmp_path / f"kill-{kill_after}" / ".mlruns"
        killed = run_child("pull", local, url, kill_after, env)
        assert killed.returncode == KILLED, (kill_after, killed.stderr)
        _assert_sound(local)
        child_report(run_child("pull", local, url, -1, env))
        assert_same_stores(source, local)


@pytest.mark.slow
def test_pull_of_updates_killed_after_n_reads_applies_each_segment_once(
    new_remote: RemoteFactory, tmp_path: Path
) -> None:
    """The local store has the runs and the model already; the remote got two more
    pushes of them (two new segments per log); a pull of those killed half-way, then
    a whole one, must append each segment once."""
    template = tmp_path / "template" / ".mlruns"
    ids = build_store(template, "src")
    url, env = new_remote()
    child_report(run_child("push", template, url, -1, env))
    base = tmp_path / "base" / ".mlruns"
    child_report(run_child("pull", base, url, -1, env))
    for steps in (range(5, 8), range(8, 11)):
        _log_points(template, ids[-1], steps)
        store = Store.open(template)
        TrackingClient(store).set_tag(ids[0], "round", str(steps.start))
        store.close()
        register(template, ids[1], f"src-{steps.start}", alias=f"a{steps.start}")
        child_report(run_child("push", template, url, -1, env))
    counted = fresh_copy(base, tmp_path / "counted")
    total = child_report(run_child("pull", counted, url, -1, env))["calls"]
    assert_same_stores(template, counted)

    for kill_after in range(1, total):  # every read: the windows are narrow
        local = fresh_copy(base, tmp_path / f"kill-{kill_after}")
        killed = run_child("pull", local, url, kill_after, env)
        assert killed.returncode == KILLED, (kill_after, killed.stderr)
        _assert_sound(local)
        child_report(run_child("pull", local, url, -1, env))
        found = differences(snapshot(template), snapshot(local))
        assert not found, (kill_after, found[:10])


def _assert_sound(root: Path) -> None:
    """``mlcli fsck`` passes, or finds only what a killed writer leaves and repairs it;
    and every document reads."""
    environ = child_env() | {"MLCLI_STORE": str(root)}
    check = subprocess.run(
        [sys.executable, "-m", "mlcli", "fsck", "--json"],
        env=environ,
        capture_output=True,
        text=True,
        timeout=120,
    )
    if check.returncode != 0:
        problems = json.loads(check.stdout)["problems"]
        repaired = subprocess.run(
            [sys.executable, "-m", "mlcli", "fsck", "--repair"],
            env=environ,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert repaired.returncode == 0, (problems, repaired.stdout, repaired.stderr)
    snapshot(root)  # every run, experiment and model reads


# -- a live run pushed as it grows -----------------------------------------------------------


def test_live_run_pushed_twice_has_every_point_once_in_order(
    new_remote: RemoteFactory, tmp_path: Path
) -> None:
    url, _ = new_remote()
    remote = open_objects(url)
    root = tmp_path / "source" / ".mlruns"
    live = build_store(root, "src", runs=1)[0]
    store = Store.open(root)
    try:
        assert push(store, remote).runs == [live]
        _log_points(root, live, range(5, 20))
        assert push(store, remote).runs == [live]
        assert push(store, remote).objects == 0  # nothing changed: nothing sent
    finally:
        store.close()
    cloned = snapshot(clone_into(url, tmp_path / "clone"))
    loss = cloned["runs"][live]["metrics"]["loss"]
    assert [step for step, _, _ in loss] == list(range(20))
    assert cloned["runs"][live]["doc"]["status"] == "RUNNING"
    assert_same_stores(root, tmp_path / "clone" / ".mlruns")


# -- one tag, two values ---------------------------------------------------------------------


def test_a_tag_changed_in_two_stores_is_a_reported_conflict(
    new_remote: RemoteFactory, tmp_path: Path
) -> None:
    url, _ = new_remote()
    remote = open_objects(url)
    first_root = tmp_path / "alice" / ".mlruns"
    run_id = build_store(first_root, "alice", runs=1)[0]
    first = Store.open(first_root)
    push(first, remote)
    second = Store.open(clone_into(url, tmp_path / "bob"))
    try:
        TrackingClient(first).set_tag(run_id, "verdict", "keep")
        TrackingClient(second).set_tag(run_id, "verdict", "drop")
        assert not push(first, remote).conflicts

        pushed = push(second, remote)
        assert [c for c in pushed.conflicts if "verdict" in c.what], pushed.conflicts
        held = snapshot(clone_into(url, tmp_path / "reader"))["runs"][run_id]["tags"]
        assert held["verdict"] == "drop"  # the side that writes now wins, and says so

        pulled = pull(first, remote)
        assert [c for c in pulled.conflicts if "verdict" in c.what], pulled.conflicts
        assert first.runs.read_tags(run_id)["verdict"] == "drop"
        pull(second, remote)  # the second store too ends with the value the remote holds
        assert second.runs.read_tags(run_id)["verdict"] == "drop"
    finally:
        first.close()
        second.close()
