"""Three `mlcli server` processes serving one store behind a load balancer, 16 clients
of both kinds (mlcli's Python API, MLflow's client) logging 20,000 points each at once,
and one server killed with SIGKILL with requests in flight: every point is there once,
read from every server.

(The server is stopped first, SIGSTOP, until the balancer has sent it a request it
cannot answer, so that the kill always cuts requests off: their clients get a 502 and
send them again. A request carried out whose answer is then lost is the case of
``test_lost_answers.py``.)"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from loadclients import MLCLI_CLIENT, MLFLOW_CLIENT, environment, history
from proxies import Balancer
from trackingserver import TrackingServer, start_tracking_server


@pytest.fixture(params=["directory", "bucket-and-postgres"])
def start_replica(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[Callable[[str], TrackingServer]]:
    """Replicas of one store: a directory they share, or a bucket (SeaweedFS) and a
    PostgreSQL index with nothing on the servers' disks."""
    if request.param == "directory":
        store: Path | str = tmp_path / "team" / ".mlruns"
        args: tuple[str, ...] = ()
    else:
        seaweedfs = request.getfixturevalue("seaweedfs")
        request.getfixturevalue("s3_env")(seaweedfs)
        store = f"s3://{seaweedfs.new_bucket()}/team"
        args = ("--index", request.getfixturevalue("postgres").new_database())
    servers: list[TrackingServer] = []

    def start(name: str) -> TrackingServer:
        server = start_tracking_server(store, tmp_path / f"{name}.log", *args)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def replicas(start_replica: Callable[[str], TrackingServer]) -> list[TrackingServer]:
    return [start_replica(f"server-{i}") for i in range(3)]


def test_a_replica_killed_under_load_loses_and_doubles_nothing(
    replicas: list[TrackingServer],
    start_replica: Callable[[str], TrackingServer],
    tmp_path: Path,
) -> None:
    balancer = Balancer([server.url for server in replicas])
    marks = tmp_path / "marks"
    marks.mkdir()
    environ = environment(balancer.url, tmp_path)
    created = subprocess.run(
        [sys.executable, "-m", "mlcli", "experiments", "create", "load"],
        env=environ,
        capture_output=True,
        text=True,
    )
    assert created.returncode == 0, created.stderr
    clients = {f"mlcli-{i}": (MLCLI_CLIENT, 20_000) for i in range(8)}
    clients |= {f"mlflow-{i}": (MLFLOW_CLIENT, 20_000) for i in range(8)}
    processes = {
        name: subprocess.Popen(
            [sys.executable, "-c", code, str(points), str(marks), name],
            env=environ,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name, (code, points) in clients.items()
    }
    try:
        while not all((marks / name).exists() for name in clients):  # all under way
            for name, process in processes.items():
                assert process.poll() in (None, 0), (name, process.communicate())
            time.sleep(0.02)
        stopped = replicas[1]
        stopped.process.send_signal(signal.SIGSTOP)
        while not balancer.in_flight[stopped.url]:  # a request it will never answer
            assert any(p.poll() is None for p in processes.values()), "all clients ended"
            time.sleep(0.01)
        stopped.process.send_signal(signal.SIGKILL)
        stopped.process.wait()
        for name, process in processes.items():
            _, err = process.communicate(timeout=300)
            assert process.returncode == 0, (name, err)
            assert "Traceback" not in err, (name, err)
        assert balancer.bad_gateways >= 1  # requests were cut off, and sent again
    finally:
        for process in processes.values():
            if process.poll() is None:
                process.kill()
                process.communicate()
        balancer.close()

    survivors = [replicas[0], replicas[2]]
    found = (
        survivors[0]
        .api("POST", "runs/search", {"experiment_ids": ["1"], "max_results": 100})
        .json()["runs"]
    )
    runs = {run["info"]["run_name"]: run["info"]["run_id"] for run in found}
    assert sorted(runs) == sorted(clients)
    replicas[1] = start_replica("server-1-again")
    for name, run_id in runs.items():
        expected = list(range(clients[name][1]))
        for server in [*survivors, replicas[1]]:
            assert history(server, run_id) == expected, (name, server.url)
    for server in survivors:
        assert " 500 " not in server.log()
