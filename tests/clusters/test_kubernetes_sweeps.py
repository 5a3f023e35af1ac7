"""Sweeps with ``--backend kubernetes``: one Indexed Job, without a cluster.

The Job goes to ``FakeKubeApi`` (a real HTTP server on 127.0.0.1 written from the
API's documented shapes) whose ``LocalKubelet`` runs each pod's command as a real
local process: the trials really run ``mlcli run --run-id`` and log into the store,
and the Job's ``completedIndexes``/``failedIndexes`` move as the Job controller moves
them. No real cluster is reached (docs/clusters.md says so too).
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kube_fake_api import FakeKubeApi, LocalKubelet

from mlcli import system_tags
from mlcli.clusters.kubernetes_manifest import DEFAULT_TEMPLATE, JobInputs, render_job
from mlcli.store import RunStatus
from mlcli.sweeps.tags import TRIAL_TAG
from mlcli.tracking import TrackingClient

IMAGE = "registry.example.com/team/k8s-demo:abc123"
MLPROJECT = """\
name: K8s Sweep
docker_env:
  image: python:3.11-slim
entry_points:
  main:
    parameters:
      alpha: {type: float, default: 0.1}
    command: "python train.py --alpha {alpha}"
"""
#: alpha 0.3 fails; alpha 0.4 dies without a word: the pod's mlcli and the entry point
#: are SIGKILLed (as the OOM killer does).
TRAIN = """\
import os, signal, sys
alpha = float(sys.argv[2])
print(f"training with alpha={alpha}", flush=True)
print(f"loss: {abs(alpha - 0.2):.3f}", flush=True)
if alpha == 0.3:
    sys.exit("diverged")
if alpha == 0.4:
    pid = os.getpid()
    while pid > 1:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            if b"mlcli.cli.kubernetes_task" in f.read():
                os.kill(pid, signal.SIGKILL)
                break
        with open(f"/proc/{pid}/stat", "rb") as f:
            pid = int(f.read().rsplit(b")", 1)[1].split()[1])
    os.kill(os.getpid(), signal.SIGKILL)
"""
DEADLINE = 300.0  # generous: a loaded machine is slow, never wrong


@pytest.fixture
def kube(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, project: Path) -> Iterator[FakeKubeApi]:
    fake = FakeKubeApi().start()
    fake.kubelet = LocalKubelet(project)
    monkeypatch.setenv("KUBECONFIG", str(fake.write_kubeconfig(tmp_path / "kubeconfig")))
    yield fake
    fake.stop()


@pytest.fixture
def project(workdir: Path, store_root: Path) -> Path:
    directory = workdir / "proj"
    directory.mkdir()
    (directory / "MLproject").write_text(MLPROJECT)
    (directory / "train.py").write_text(TRAIN)
    return directory


@pytest.fixture
def client(store_root: Path) -> TrackingClient:
    return TrackingClient(store_root)


def sweep(cli: Any, project: Path, values: str, *more: str) -> Any:
    return cli(
        "run", str(project), "-P", f"alpha=[{values}]", "--backend", "kubernetes",
        "-c", f"image={IMAGE}", "--objective", "loss", *more,
    )  # fmt: skip


def trials_of(client: TrackingClient, parent_id: str) -> dict[int, Any]:
    runs = client.search_runs(None, f"tags.mlcli.parentRunId = '{parent_id}'")
    return {int(run.data.tags[TRIAL_TAG]): run for run in runs}


def wait_for(condition: Any, what: str) -> Any:
    deadline = time.monotonic() + DEADLINE
    while not (found := condition()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)
    return found


def test_a_sweep_job_is_indexed_each_index_failing_alone() -> None:
    inputs = JobInputs(
        project_name="K8s Sweep",
        run_id="f" * 32,
        image=IMAGE,
        command=["python", "-m", "mlcli.cli.kubernetes_task"],
        environment={},
        completions=8,
        parallelism=3,
    )
    from kubernetes.client.models import V1Job

    spec = render_job(DEFAULT_TEMPLATE, inputs)["spec"]
    V1Job.model_validate(render_job(DEFAULT_TEMPLATE, inputs))
    assert (spec["completionMode"], spec["completions"], spec["parallelism"]) == ("Indexed", 8, 3)
    assert spec["backoffLimitPerIndex"] == 0
    assert "backoffLimit" not in spec  # else the first failure would fail every trial
    fail_fast = render_job(DEFAULT_TEMPLATE, JobInputs(**{**inputs.__dict__, "fail_fast": True}))
    assert fail_fast["spec"]["backoffLimit"] == 0
    assert "backoffLimitPerIndex" not in fail_fast["spec"]


def test_a_sweep_runs_as_one_indexed_job_and_is_followed_to_its_end(
    kube: FakeKubeApi, project: Path, client: TrackingClient, cli: Any
) -> None:
    result = sweep(cli, project, "0.1,0.2,0.25", "--parallel", "2")
    assert result.exit_code == 0, result.stderr
    (created,) = kube.calls_to("POST", "/jobs")
    spec = created.body["spec"]
    assert (spec["completionMode"], spec["completions"], spec["parallelism"]) == ("Indexed", 3, 2)
    assert spec["suspend"] is True  # let start once every trial knew its Job
    (container,) = spec["template"]["spec"]["containers"]
    assert container["command"] == ["python", "-m", "mlcli.cli.kubernetes_task"]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert "MLCLI_RUN_ID" not in env and "MLFLOW_RUN_ID" not in env
    plan = json.loads(env["MLCLI_SWEEP_PLAN"])

    parent_id = result.stdout.splitlines()[-1]
    parent = client.get_run(parent_id)
    assert parent.info.status == RunStatus.FINISHED
    assert parent.data.tags[system_tags.KUBERNETES_JOB] == f"ml/{created.body['metadata']['name']}"
    trials = trials_of(client, parent_id)
    assert sorted(trials) == [1, 2, 3]
    for number, run in trials.items():
        assert run.info.status == RunStatus.FINISHED
        assert run.data.tags[system_tags.KUBERNETES_INDEX] == str(number - 1)
        assert plan["trials"][number - 1]["run_id"] == run.info.run_id
        assert run.data.params == {"alpha": ["0.1", "0.2", "0.25"][number - 1]}
    best = trials[2]
    assert parent.data.tags["best_run_id"] == best.info.run_id
    assert parent.data.metrics["best_loss"] == 0.0
    assert parent.data.metrics["trials_finished"] == 3
    # each trial's output, a line at a time, prefixed with its number
    assert "[2] training with alpha=0.2\n" in result.stdout
    assert "[3] loss: 0.050\n" in result.stdout
    assert "Trial 2/3 FINISHED" in result.stderr
    assert kube.jobs  # the Job is left for its TTL, as the template says


def test_a_failed_trial_fails_alone_and_the_sweep_says_which(
    kube: FakeKubeApi, project: Path, client: TrackingClient, cli: Any
) -> None:
    result = sweep(cli, project, "0.1,0.3,0.4,0.2", "--parallel", "4", "--json")
    assert result.exit_code == 1
    shown = json.loads(result.stdout)
    parent = client.get_run(shown["run_id"])
    assert parent.info.status == RunStatus.FAILED
    reason = parent.data.tags[system_tags.PROJECT_FAILURE_REASON]
    assert reason == "2 of 4 trial(s) did not finish: trial 2 FAILED, trial 3 FAILED"
    trials = trials_of(client, shown["run_id"])
    assert [trials[n].info.status for n in (1, 2, 3, 4)] == [
        RunStatus.FINISHED,
        RunStatus.FAILED,
        RunStatus.FAILED,
        RunStatus.FINISHED,
    ]
    # trial 3's mlcli was killed: the Job's failed index ended its run, with the reason
    killed = trials[3].data.tags
    assert killed[system_tags.KUBERNETES_REASON] == "FailedIndex"
    assert killed[system_tags.PROJECT_FAILURE_REASON].endswith(
        "index 2 failed; container k8s-sweep Error (exit code 137)"
    )
    job = next(iter(kube.jobs.values()))
    assert job["status"]["failedIndexes"] == "1-2"
    assert parent.data.tags["best_run_id"] == trials[4].info.run_id


def test_fail_fast_stops_the_other_trials(
    kube: FakeKubeApi, project: Path, client: TrackingClient, cli: Any
) -> None:
    result = sweep(cli, project, "0.3,0.1,0.2", "--parallel", "1", "--fail-fast", "--json")
    assert result.exit_code == 1
    shown = json.loads(result.stdout)
    trials = trials_of(client, shown["run_id"])
    assert trials[1].info.status == RunStatus.FAILED
    assert [trials[n].info.status for n in (2, 3)] == [RunStatus.KILLED, RunStatus.KILLED]
    assert "before index 1 did" in trials[2].data.tags[system_tags.PROJECT_FAILURE_REASON]
    assert client.get_run(shown["run_id"]).info.status == RunStatus.FAILED


def test_a_detached_sweep_is_ended_by_its_last_trial(
    kube: FakeKubeApi, project: Path, client: TrackingClient, cli: Any
) -> None:
    result = sweep(cli, project, "0.1,0.2", "--detach", "--json")
    assert result.exit_code == 0, result.stderr
    shown = json.loads(result.stdout)
    assert shown["status"] == "SCHEDULED"
    assert shown["job"].startswith("ml/k8s-sweep-")
    assert [t["trial"] for t in shown["trials"]] == [1, 2]
    parent_id = shown["run_id"]
    ended = wait_for(
        lambda: client.get_run(parent_id).info.status not in RunStatus.LIVE and "parent",
        "the last trial to end the sweep",
    )
    assert ended
    parent = client.get_run(parent_id)
    assert parent.info.status == RunStatus.FINISHED
    assert parent.data.tags["best_run_id"] == shown["trials"][1]["run_id"]
    artifact = client.artifact_path(parent_id, "sweep/trials.json")
    assert [t["status"] for t in json.loads(artifact.read_text())] == ["FINISHED", "FINISHED"]


def test_cancelling_the_parent_deletes_the_job_and_ends_every_trial_killed(
    kube: FakeKubeApi, project: Path, client: TrackingClient, cli: Any
) -> None:
    (project / "train.py").write_text("import time\nprint('up', flush=True)\ntime.sleep(600)\n")
    result = sweep(cli, project, "0.1,0.2,0.3", "--parallel", "2", "--detach", "--json")
    assert result.exit_code == 0, result.stderr
    shown = json.loads(result.stdout)
    parent_id = shown["run_id"]
    wait_for(
        lambda: [r for r in trials_of(client, parent_id).values() if r.info.status == "RUNNING"],
        "a trial to run",
    )
    trial = shown["trials"][0]["run_id"]
    refused = cli("runs", "cancel", trial)
    assert refused.exit_code != 0
    assert refused.stderr == (
        f"mlcli: error: run {trial} is a trial of a sweep, index 0 of Kubernetes Job "
        f"{shown['job']}: cancel the whole sweep with 'mlcli runs cancel {parent_id}'\n"
    )
    cancelled = cli("runs", "cancel", parent_id)
    assert cancelled.exit_code == 0, cancelled.stderr
    assert kube.jobs == {}
    assert client.get_run(parent_id).info.status == RunStatus.KILLED
    statuses = {n: r.info.status for n, r in trials_of(client, parent_id).items()}
    assert statuses == {1: "KILLED", 2: "KILLED", 3: "KILLED"}


def test_an_adaptive_sweep_is_refused_before_anything_is_created(
    kube: FakeKubeApi, project: Path, client: TrackingClient, cli: Any
) -> None:
    result = cli(
        "run", str(project), "-P", "alpha=uniform(0,1)", "--sweep", "optuna", "--trials", "4",
        "--objective", "loss", "--backend", "kubernetes", "-c", f"image={IMAGE}",
    )  # fmt: skip
    assert result.exit_code == 2
    assert result.stderr.startswith("mlcli: error: --sweep optuna chooses each trial from")
    assert client.search_runs() == []
    assert kube.calls == []


def test_a_reader_ends_a_trial_whose_index_failed_when_nobody_follows(
    kube: FakeKubeApi, project: Path, client: TrackingClient, cli: Any
) -> None:
    """A detached sweep whose trial's mlcli is killed: the Job's failedIndexes, read
    by whoever lists the runs, ends that trial."""
    result = sweep(cli, project, "0.4,0.1", "--detach", "--json")
    assert result.exit_code == 0, result.stderr
    shown = json.loads(result.stdout)
    killed = shown["trials"][0]["run_id"]
    wait_for(lambda: "failedIndexes" in next(iter(kube.jobs.values()))["status"], "index 0 to fail")
    listed = cli("runs", "list", "--json")
    assert listed.exit_code == 0, listed.stderr
    status = {r["run_id"]: r["status"] for r in json.loads(listed.stdout)}
    assert status[killed] == RunStatus.FAILED
    tags = client.get_run(killed).data.tags
    assert "index 0 failed" in tags[system_tags.END_REASON]


def test_ctrl_c_of_the_follower_deletes_the_job_and_every_trial_ends_killed(
    kube: FakeKubeApi, project: Path, client: TrackingClient, cli: Any
) -> None:
    (project / "train.py").write_text("import time\nprint('up', flush=True)\ntime.sleep(600)\n")

    def interrupt() -> None:
        if kube.log_opened.wait(DEADLINE):
            os.kill(os.getpid(), signal.SIGINT)

    threading.Thread(target=interrupt, daemon=True).start()
    result = sweep(cli, project, "0.1,0.2,0.3", "--parallel", "2", "--json")
    assert result.exit_code == 130
    shown = json.loads(result.stdout)
    assert shown["status"] == RunStatus.KILLED
    assert "Interrupted: deleting Kubernetes Job ml/k8s-sweep-" in result.stderr
    (delete,) = kube.calls_to("DELETE", "/jobs/")
    assert delete.body["propagationPolicy"] == "Foreground"
    assert kube.jobs == {}
    statuses = {n: r.info.status for n, r in trials_of(client, shown["run_id"]).items()}
    assert statuses == {1: "KILLED", 2: "KILLED", 3: "KILLED"}
