"""Who may set a run's owner and heartbeat on a server with users (``--auth-db``): only
a user allowed to update the run, as for any other change to it."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from trackingserver import TrackingServer

pytest.importorskip("argon2")

PASSWORD = "s3cret pass"
ELSEWHERE = {"host": "elsewhere", "boot": None, "pid_namespace": None, "pid": 42, "started": "7"}


def basic(user: str) -> dict[str, str]:
    pair = base64.b64encode(f"{user}:{PASSWORD}".encode()).decode()
    return {"Authorization": f"Basic {pair}"}


def test_only_a_user_who_may_update_the_run_sets_its_owner_or_heartbeat(
    cli: Any, tmp_path: Path, start_server: Callable[..., TrackingServer]
) -> None:
    users = tmp_path / "auth.db"
    for name, flags in (("root", ["--admin"]), ("alice", []), ("bob", [])):
        added = cli(
            "auth", "users", "add", name, *flags, "--password-stdin", "--auth-db", str(users),
            input=PASSWORD + "\n",
        )  # fmt: skip
        assert added.exit_code == 0, added.stderr
    server = start_server("--auth-db", str(users))
    made = server.api("POST", "experiments/create", {"name": "shared"}, headers=basic("root"))
    assert made.status == 200, made.body
    experiment_id = made.json()["experiment_id"]
    granted = cli("auth", "grant", "alice", "experiment", "shared", "EDIT", "--auth-db", str(users))
    assert granted.exit_code == 0, granted.stderr

    claim = {"mlcli_owner": ELSEWHERE, "mlcli_heartbeat": {"every": 20}}
    refused = server.api(
        "POST", "runs/create", {"experiment_id": experiment_id, **claim}, headers=basic("bob")
    )
    assert refused.status == 403, refused.body
    created = server.api(
        "POST", "runs/create", {"experiment_id": experiment_id, **claim}, headers=basic("alice")
    )
    assert created.status == 200, created.body
    run_id = created.json()["run"]["info"]["run_id"]

    def recorded() -> dict[str, Any]:
        doc = json.loads((Path(server.store) / "runs" / run_id / "run.json").read_text())
        return {"owner": doc["owner"], "every": doc["heartbeat"]["every"]}

    assert recorded() == {"owner": ELSEWHERE, "every": 20}
    beat = {"run_id": run_id, "mlcli_heartbeat": {"every": 0.5}}
    assert server.api("POST", "runs/update", beat, headers=basic("bob")).status == 403
    other = {"run_id": run_id, "status": "RUNNING", "mlcli_owner": {**ELSEWHERE, "pid": 7}}
    assert server.api("POST", "runs/update", other, headers=basic("bob")).status == 403
    assert recorded() == {"owner": ELSEWHERE, "every": 20}
    assert server.api("POST", "runs/update", beat, headers=basic("alice")).status == 200
    assert recorded() == {"owner": ELSEWHERE, "every": 0.5}
