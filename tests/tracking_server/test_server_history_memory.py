"""``metrics/get-history`` pages through a history without loading it: a real
``mlcli server`` over a run of a million points stays small, and its pages are the
history in order."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from trackingserver import TrackingServer

from mlcli.store import Store
from mlcli.store.records import metric_line

POINTS = 1_000_000
KEYS = 10
PEAK_BOUND_MB = 250  # reading the whole log took the server past 700 MB


def _write_run(root: Path, points: int) -> str:
    """A finished run of ``points`` points of KEYS keys, by the store's own writer."""
    store, _ = Store.initialize(root)
    run_id = store.runs.create(experiment_id="0", run_name="huge", user_id="u", tags={}).run_id
    names = [f"m{k}" for k in range(KEYS)]
    for first in range(0, points, 100_000):
        lines = "".join(
            metric_line(names[n % KEYS], float(n), n // KEYS, 1_700_000_000_000 + n)
            for n in range(first, min(points, first + 100_000))
        )
        store.runs.append_metric_lines(run_id, lines.encode())
    store.runs.set_status(run_id, "FINISHED")
    store.close()
    return run_id


def _peak_rss_mb(server: TrackingServer) -> float:
    with open(f"/proc/{server.process.pid}/status") as status:
        line = next(line for line in status if line.startswith("VmHWM:"))
    return int(line.split()[1]) / 1024


def _history(server: TrackingServer, run_id: str, **extra: object) -> dict:
    reply = server.api(
        "GET", "metrics/get-history", {"run_id": run_id, "metric_key": "m3", **extra}
    )
    assert reply.status == 200, reply.body
    return reply.json()


@pytest.mark.slow
def test_a_page_of_a_huge_history_holds_a_page(
    start_server: Callable[..., TrackingServer], tmp_path: Path
) -> None:
    if not Path("/proc/self/status").is_file():
        pytest.skip("needs /proc to read the server's peak memory")
    root = tmp_path / ".mlruns"
    run_id = _write_run(root, POINTS)
    server = start_server(store=root)

    first = _history(server, run_id)  # the default page: 25,000 points
    last = _history(server, run_id, max_results=7, page_token=_token(POINTS // KEYS - 3))
    run = server.api("GET", "runs/get", {"run_id": run_id}).json()["run"]

    assert [m["step"] for m in first["metrics"]] == list(range(25_000))
    assert first["metrics"][1] == {
        "key": "m3",
        "value": float(KEYS + 3),
        "step": 1,
        "timestamp": 1_700_000_000_000 + KEYS + 3,
    }
    assert "next_page_token" in first
    assert [m["step"] for m in last["metrics"]] == [99_997, 99_998, 99_999]
    assert "next_page_token" not in last
    assert {m["key"]: m["step"] for m in run["data"]["metrics"]}["m3"] == 99_999
    assert _peak_rss_mb(server) < PEAK_BOUND_MB


def test_pages_of_a_history_are_the_history_in_order(
    start_server: Callable[..., TrackingServer], tmp_path: Path
) -> None:
    root = tmp_path / ".mlruns"
    run_id = _write_run(root, 7 * KEYS)
    server = start_server(store=root)

    steps, token, pages = [], None, 0
    while True:
        extra = {"page_token": token} if token else {}
        page = _history(server, run_id, max_results=3, **extra)
        steps += [m["step"] for m in page["metrics"]]
        pages += 1
        token = page.get("next_page_token")
        if not token:
            break

    assert (steps, pages) == (list(range(7)), 3)
    assert _history(server, run_id, page_token=_token(7)) == {"metrics": []}
    assert _history(server, run_id, page_token=_token(2**70)) == {"metrics": []}


def _token(offset: int) -> str:
    """A page token as the server writes them (an offset into the history)."""
    return base64.urlsafe_b64encode(json.dumps({"offset": offset}).encode()).decode().rstrip("=")
