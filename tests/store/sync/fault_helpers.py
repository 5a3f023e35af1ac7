"""What the fault tests of push and pull share: a store with a bit of everything a
remote carries, and a push or pull run in a child process that SIGKILLs itself after
its Nth object write (push) or read (pull).

The kill needs no hook in mlcli: the child opens the remote with ``open_objects``,
wraps it in a counting subclass of its class, and hands that to the sync engine, the
way the commands do. The count is of calls that reached the remote (a write counts
once it returned), so the kill point is a count, never a time. The engine runs with
one worker, so that each N is the same point on every run.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from mlcli.registry import ModelRegistry
from mlcli.store import Store
from mlcli.store.entities import RunStatus
from mlcli.tracking import TrackingClient

EXPERIMENT = "shared"
MODEL = "churn"
KILLED = -9  # a child's returncode after SIGKILL

# The child: python -c CHILD <push|pull> <store root> <remote url> <kill after N or -1>.
# It prints the engine's report as JSON on its last line when it was not killed.
CHILD = r"""
import json, os, signal, sys, threading
from pathlib import Path

from mlcli.objects import open_objects
from mlcli.store import Store
from mlcli.store.sync import pull, push

direction, root, url, limit = sys.argv[1], Path(sys.argv[2]), sys.argv[3], int(sys.argv[4])
remote = open_objects(url)
WRITES = ("put", "create", "replace", "upload_file", "delete")
READS = ("get", "get_if_present", "download_file")
counted = WRITES if direction == "push" else READS
lock = threading.Lock()
calls = [0]


def counting(name):
    inner = getattr(type(remote), name)

    def call(self, *args, **kwargs):
        result = inner(self, *args, **kwargs)
        with lock:
            calls[0] += 1
            if calls[0] == limit:
                os.kill(os.getpid(), signal.SIGKILL)
        return result

    return call


Killing = type("Killing", (type(remote),), {name: counting(name) for name in counted})
remote.__class__ = Killing
store = Store.initialize(root)[0] if direction == "pull" else Store.open(root)
report = (push if direction == "push" else pull)(store, remote, workers=1)
store.close()
summary = report.to_dict()
summary["calls"] = calls[0]
print(json.dumps(summary))
"""


def run_child(
    direction: str, root: Path, url: str, kill_after: int, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """A push or pull of ``root`` with ``url`` in a child process, killed by SIGKILL
    after ``kill_after`` counted calls (never when it is -1)."""
    return subprocess.run(
        [sys.executable, "-c", CHILD, direction, str(root), url, str(kill_after)],
        env=child_env(env),
        capture_output=True,
        text=True,
        timeout=300,
    )


def child_report(result: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    """The report a child that was not killed printed (its ``calls`` counted too)."""
    assert result.returncode == 0, result.stderr
    return dict(json.loads(result.stdout.strip().splitlines()[-1]))


def child_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("MLCLI_")}
    if "MLCLI_DATA_DIR" in os.environ:
        environ["MLCLI_DATA_DIR"] = os.environ["MLCLI_DATA_DIR"]
    environ.update(extra or {})
    return environ


def build_store(root: Path, label: str, runs: int = 3) -> list[str]:
    """A store at ``root`` holding ``runs`` runs of the experiment ``shared`` (params,
    tags, metric histories with chosen steps and timestamps, artifacts; the last one
    still RUNNING), an experiment tag, and one version of the model ``churn`` from
    the first run with the alias ``champion``. Returns the run ids."""
    store, _ = Store.initialize(root)
    try:
        client = TrackingClient(store)
        experiment = client.get_or_create_experiment(EXPERIMENT).experiment_id
        client.set_experiment_tag(experiment, "team", "ml")
        ids = []
        for number in range(runs):
            run_id = client.create_run(experiment, run_name=f"{label}-{number}").info.run_id
            ids.append(run_id)
            client.log_batch(
                run_id,
                params={"label": label, "lr": f"0.{number + 1}", "layers": str(number + 2)},
                tags={"owner": label, "kind": "fault-test"},
            )
            for step in range(5):
                client.log_metric(run_id, "loss", 1.0 / (step + 1 + number), 1_000 + step, step)
                client.log_metric(run_id, "acc", step * 0.1 + number, 2_000 + step * 7, step * 2)
            client.log_text(run_id, f"{label} run {number}\n" * 50, "notes/readme.txt")
            client.log_dict(run_id, {"label": label, "number": number}, "config.json")
            client.store.artifacts(run_id).write_bytes("weights.bin", os.urandom(40_000))
            if number < runs - 1:
                client.set_terminated(run_id, RunStatus.FINISHED, end_time=10_000 + number)
        register(root, ids[0], label)
        return ids
    finally:
        store.close()


def register(root: Path, run_id: str, label: str, alias: str | None = "champion") -> int:
    """A version of ``churn`` from ``run_id`` (its files: a small model folder)."""
    source = root.parent / f"model-{label}-{run_id[:8]}"
    source.mkdir(parents=True, exist_ok=True)
    (source / "MLmodel").write_text(f"run_id: {run_id}\nlabel: {label}\n")
    (source / "model.bin").write_bytes(os.urandom(5_000))
    registry = ModelRegistry(Store.open(root).layout, "tester")
    version = registry.create_version(MODEL, source, f"runs:/{run_id}/model", run_id).version
    if alias is not None:
        registry.set_alias(MODEL, alias, version)
    return version
