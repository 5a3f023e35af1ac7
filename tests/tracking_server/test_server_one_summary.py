"""One definition of each summary, the same through the CLI, the UI and the server.

- An experiment's last activity is the latest of its own update and its runs' latest
  activity: ``experiments list`` (LAST ACTIVITY, and ``last_activity`` in --json), the
  UI's ``/api/experiments`` and the server's ``last_update_time``.
- A registered model's last update is its newest event, promotions and aliases
  included: ``models list`` (UPDATED, and --json), the UI's ``/api/models`` and the
  server's ``last_updated_timestamp``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from trackingserver import TrackingServer, start_tracking_server

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "ui"))
from uihelpers import UiServer, start_ui

from mlcli.clock import format_timestamp

pytest.importorskip("starlette")
pytest.importorskip("uvicorn")

DAY_MS = 86_400_000


def _ok(reply: Any) -> Any:
    assert reply.status == 200, reply.body
    return reply.json()


def _cli(store: Path, *args: str) -> str:
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("MLCLI_", "MLFLOW_"))}
    environ["MLCLI_STORE"] = str(store)
    done = subprocess.run(
        [sys.executable, "-m", "mlcli", *args], capture_output=True, text=True, env=environ
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def _after(ms: int) -> None:
    """Wait until the clock has passed ``ms``, so the next change is strictly newer."""
    while time.time() * 1000 <= ms + 1:
        time.sleep(0.005)


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TrackingServer, UiServer]]:
    directory = tmp_path_factory.mktemp("one-summary")
    server = start_tracking_server(directory / ".mlruns", directory / "server.log")
    try:
        ui = start_ui(directory / ".mlruns", directory / "ui.log")
        try:
            yield server, ui
        finally:
            ui.stop()
    finally:
        server.stop()


def test_an_experiments_last_activity_is_the_same_everywhere(
    servers: tuple[TrackingServer, UiServer],
) -> None:
    server, ui = servers
    now = int(time.time() * 1000)
    busy = _ok(server.api("POST", "experiments/create", {"name": "busy"}))["experiment_id"]
    quiet = _ok(server.api("POST", "experiments/create", {"name": "quiet"}))["experiment_id"]
    # busy's run started after busy was last updated; quiet's long before.
    _ok(server.api("POST", "runs/create", {"experiment_id": busy, "start_time": now + DAY_MS}))
    _ok(server.api("POST", "runs/create", {"experiment_id": quiet, "start_time": now - DAY_MS}))
    quiet_own = _ok(server.api("GET", "experiments/get", {"experiment_id": quiet}))
    expected = {
        "busy": now + DAY_MS,
        "quiet": quiet_own["experiment"]["creation_time"],  # never renamed or tagged
    }

    cli = {
        e["name"]: e["last_activity"]
        for e in json.loads(_cli(server.store, "experiments", "list", "--json"))
    }
    table = _cli(server.store, "experiments", "list")
    page = {e["name"]: e["last_activity"] for e in ui.api("experiments")["experiments"]}
    rest = {
        name: _ok(server.api("GET", "experiments/get", {"experiment_id": eid}))["experiment"][
            "last_update_time"
        ]
        for name, eid in (("busy", busy), ("quiet", quiet))
    }
    searched = {
        e["name"]: e["last_update_time"]
        for e in _ok(server.api("POST", "experiments/search", {"max_results": 100}))["experiments"]
    }
    for name, value in expected.items():
        assert (cli[name], page[name], rest[name], searched[name]) == (value,) * 4, name
        row = next(line for line in table.splitlines() if f" {name} " in line)
        assert format_timestamp(value) in row
    found = _ok(
        server.api(
            "POST", "experiments/search", {"filter": f"last_update_time > {now + DAY_MS - 1}"}
        )
    )["experiments"]
    assert [e["name"] for e in found] == ["busy"]


def test_a_models_last_update_includes_promotions_everywhere(
    servers: tuple[TrackingServer, UiServer],
) -> None:
    server, ui = servers
    home = _ok(server.api("POST", "experiments/create", {"name": "models-home"}))["experiment_id"]
    run_id = _ok(server.api("POST", "runs/create", {"experiment_id": home}))["run"]["info"][
        "run_id"
    ]
    root = f"/api/2.0/mlflow-artifacts/artifacts/{home}/{run_id}/artifacts/model"
    mlmodel = "flavors:\n  python_function:\n    loader_module: nothing\n"
    assert (
        server.request("PUT", f"{root}/MLmodel", mlmodel, content_type="text/plain").status == 200
    )
    _ok(server.api("POST", "registered-models/create", {"name": "churn"}))
    source = f"mlflow-artifacts:/{home}/{run_id}/artifacts/model"
    version = _ok(
        server.api(
            "POST", "model-versions/create", {"name": "churn", "source": source, "run_id": run_id}
        )
    )["model_version"]
    _after(int(version["last_updated_timestamp"]))
    _ok(
        server.api(
            "POST",
            "registered-models/alias",
            {"name": "churn", "alias": "champion", "version": "1"},
        )
    )
    events = ui.api("models/churn")["events"]
    newest = max(e["time"] for e in events)
    assert newest > int(version["last_updated_timestamp"])  # the alias is the newest event

    cli = {
        m["name"]: m["last_update_time"]
        for m in json.loads(_cli(server.store, "models", "list", "--json"))
    }
    table = _cli(server.store, "models", "list")
    page = {m["name"]: m["last_update_time"] for m in ui.api("models")["models"]}
    rest = _ok(server.api("GET", "registered-models/get", {"name": "churn"}))["registered_model"]
    searched = _ok(server.api("GET", "registered-models/search", {}))["registered_models"]
    assert (cli["churn"], page["churn"], int(rest["last_updated_timestamp"])) == (newest,) * 3
    assert [int(m["last_updated_timestamp"]) for m in searched if m["name"] == "churn"] == [newest]
    row = next(line for line in table.splitlines() if line.startswith("churn "))
    assert format_timestamp(newest) in row
