"""mlcli's commands as clients of a team server: credentials, refusals, unreachable
servers and transient failures, each a one-line error a user can act on."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from proxies import FlakyProxy
from trackingserver import TrackingServer

pytest.importorskip("argon2")

PASSWORD = "s3cret pass"


def mlcli(url: str, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """``mlcli --store URL ARGS`` in a clean environment plus ``env``."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("MLCLI_", "MLFLOW_"))}
    environ.update(env)
    return subprocess.run(
        [sys.executable, "-m", "mlcli", "--store", url, *args],
        env=environ,
        capture_output=True,
        text=True,
        timeout=120,
    )


def one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("mlcli: error: "), result.stderr
    assert "Traceback" not in result.stderr
    return lines[0]


@pytest.fixture
def users(cli: Any, tmp_path: Path) -> Path:
    """An auth database with an admin, ``alice`` (EDIT on experiment ``shared``) and
    ``bob`` (READ on it, by the default permission)."""
    db = tmp_path / "auth.db"
    for name, flags in (("root", ["--admin"]), ("alice", []), ("bob", [])):
        result = cli(
            "auth", "users", "add", name, *flags, "--password-stdin", "--auth-db", str(db),
            input=PASSWORD + "\n",
        )  # fmt: skip
        assert result.exit_code == 0, result.stderr
    return db


@pytest.fixture
def guarded(users: Path, cli: Any, start_server: Callable[..., TrackingServer]) -> TrackingServer:
    server = start_server("--auth-db", str(users))
    created = mlcli(
        server.url, "experiments", "create", "shared",
        MLCLI_TRACKING_USERNAME="root", MLCLI_TRACKING_PASSWORD=PASSWORD,
    )  # fmt: skip
    assert created.returncode == 0, created.stderr
    granted = cli("auth", "grant", "alice", "experiment", "shared", "EDIT", "--auth-db", str(users))
    assert granted.exit_code == 0, granted.stderr
    return server


def test_users_sign_in_with_a_password_from_either_family_of_variables(
    guarded: TrackingServer,
) -> None:
    as_alice = {"MLCLI_TRACKING_USERNAME": "alice", "MLCLI_TRACKING_PASSWORD": PASSWORD}
    renamed = mlcli(guarded.url, "experiments", "rename", "shared", "alices", **as_alice)
    assert renamed.returncode == 0, renamed.stderr
    mlflow_names = {"MLFLOW_TRACKING_USERNAME": "bob", "MLFLOW_TRACKING_PASSWORD": PASSWORD}
    listed = mlcli(guarded.url, "experiments", "list", "--json", **mlflow_names)
    assert listed.returncode == 0, listed.stderr
    assert '"alices"' in listed.stdout


def test_mlcli_variables_win_over_mlflow_ones(guarded: TrackingServer) -> None:
    both = {
        "MLCLI_TRACKING_USERNAME": "alice",
        "MLCLI_TRACKING_PASSWORD": "wrong",
        "MLFLOW_TRACKING_USERNAME": "alice",
        "MLFLOW_TRACKING_PASSWORD": PASSWORD,
    }
    line = one_line_error(mlcli(guarded.url, "experiments", "list", **both))
    assert "refused the credentials (MLCLI_TRACKING_USERNAME/PASSWORD)" in line


def test_no_credentials_and_wrong_ones_are_refused_in_one_line(guarded: TrackingServer) -> None:
    result = mlcli(guarded.url, "runs", "list")
    line = one_line_error(result)
    assert result.returncode == 1
    assert f"the server at {guarded.url} refused the credentials (no credentials)" in line
    assert "MLCLI_TRACKING_TOKEN" in line
    wrong = mlcli(guarded.url, "runs", "list", MLCLI_TRACKING_TOKEN="not-a-token")
    assert "refused the credentials (MLCLI_TRACKING_TOKEN)" in one_line_error(wrong)


def test_a_personal_token_signs_in_ci(guarded: TrackingServer, users: Path, cli: Any) -> None:
    created = cli("auth", "tokens", "create", "alice", "--label", "ci", "--auth-db", str(users))
    token = created.stdout.strip()
    renamed = mlcli(
        guarded.url, "experiments", "rename", "shared", "by-ci", MLFLOW_TRACKING_TOKEN=token
    )
    assert renamed.returncode == 0, renamed.stderr
    shown = mlcli(guarded.url, "experiments", "list", "--json", MLCLI_TRACKING_TOKEN=token)
    assert '"by-ci"' in shown.stdout


def test_a_netrc_file_holds_the_password(guarded: TrackingServer, tmp_path: Path) -> None:
    netrc = tmp_path / "netrc"
    netrc.write_text(f'machine 127.0.0.1\n  login alice\n  password "{PASSWORD}"\n')
    netrc.chmod(0o600)
    result = mlcli(guarded.url, "experiments", "list", "--json", NETRC=str(netrc))
    assert result.returncode == 0, result.stderr
    assert "shared" in result.stdout
    netrc.write_text("machine 127.0.0.1\n  login alice\n  pasword typo\n")  # damaged
    line = one_line_error(mlcli(guarded.url, "experiments", "list", NETRC=str(netrc)))
    assert f"cannot read the credentials in {netrc}" in line


def test_an_action_beyond_the_users_level_is_refused_in_one_line(
    guarded: TrackingServer,
) -> None:
    as_bob = {"MLCLI_TRACKING_USERNAME": "bob", "MLCLI_TRACKING_PASSWORD": PASSWORD}
    result = mlcli(guarded.url, "experiments", "rename", "shared", "mine", **as_bob)
    line = one_line_error(result)
    assert result.returncode == 1
    assert f"permission denied by the server at {guarded.url}" in line
    assert "bob" in line
    shown = mlcli(guarded.url, "experiments", "list", "--json", **as_bob)
    assert '"shared"' in shown.stdout  # nothing changed


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_an_unreachable_server_is_one_line_after_bounded_retries() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    result = mlcli(url, "runs", "list", MLCLI_HTTP_RETRIES="1")
    line = one_line_error(result)
    assert result.returncode == 1
    assert line == f"mlcli: error: cannot reach the server at {url}: connection refused"


def test_a_bad_retry_count_is_refused() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    line = one_line_error(mlcli(url, "runs", "list", MLCLI_HTTP_RETRIES="many"))
    assert "MLCLI_HTTP_RETRIES='many': expected a number from 0 to 100" in line


@pytest.fixture
def flaky(served_store: TrackingServer) -> Iterator[Callable[[int], FlakyProxy]]:
    proxies: list[FlakyProxy] = []

    def make(failures: int) -> FlakyProxy:
        proxies.append(FlakyProxy(served_store.url, failures))
        return proxies[-1]

    yield make
    for proxy in proxies:
        proxy.close()


def test_transient_503s_are_retried_and_then_succeed(
    flaky: Callable[[int], FlakyProxy],
) -> None:
    proxy = flaky(2)
    result = mlcli(proxy.url, "experiments", "create", "behind-a-balancer")
    assert result.returncode == 0, result.stderr
    assert proxy.seen >= 3
    listed = mlcli(proxy.url, "experiments", "list", "--json")
    assert "behind-a-balancer" in listed.stdout


def test_a_server_that_stays_unavailable_is_one_line(
    flaky: Callable[[int], FlakyProxy],
) -> None:
    proxy = flaky(100)
    result = mlcli(proxy.url, "runs", "list", MLCLI_HTTP_RETRIES="2")
    line = one_line_error(result)
    assert f"the server at {proxy.url} is not ready (503) after 2 retries" in line
    assert proxy.seen == 3


def test_a_url_that_is_not_a_tracking_server_says_so(tmp_path: Path) -> None:
    (tmp_path / "api").mkdir()
    server = subprocess.Popen(
        [sys.executable, "-m", "http.server", "--bind", "127.0.0.1", "0"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert server.stdout is not None
        first = server.stdout.readline()  # "Serving HTTP on 127.0.0.1 port N ..."
        port = first.split(" port ")[1].split()[0]
        line = one_line_error(mlcli(f"http://127.0.0.1:{port}", "runs", "list"))
        assert line.endswith("it is not an mlcli or MLflow tracking server"), line
    finally:
        server.terminate()
        server.wait()
        assert server.stdout is not None
        server.stdout.close()
