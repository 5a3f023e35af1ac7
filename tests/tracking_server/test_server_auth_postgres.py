"""``--auth-db postgresql://...``: the admin commands, and several ``mlcli server``
processes sharing one auth database on a real PostgreSQL (``tests/pgserver.py``) —
what a team's servers on several hosts do. PostgreSQL going down is a 503 and a
``/ready`` that says so; once it is back, every server serves again without a restart.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from trackingserver import TrackingServer

pytest.importorskip("argon2")

PASSWORD = "s3cret pass"


def basic(user: str, password: str = PASSWORD) -> dict[str, str]:
    pair = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {pair}"}


def auth(cli: Any, db: str, *args: str, input: str | None = None) -> Any:
    result = cli("auth", *args, "--auth-db", db, input=input)
    assert result.exit_code == 0, result.stderr
    return result


def add_user(cli: Any, db: str, name: str, *flags: str) -> None:
    auth(cli, db, "users", "add", name, *flags, "--password-stdin", input=PASSWORD + "\n")


def stored_text(url: str) -> str:
    """Every value of every table of the auth database, as text."""
    import psycopg

    with psycopg.connect(url) as connection:
        tables = ("users", "tokens", "permissions", "settings")
        return "\n".join(
            repr(connection.execute(f"SELECT * FROM {table}").fetchall()) for table in tables
        )


def test_the_admin_commands_work_on_a_postgresql_auth_database(cli: Any, postgres: Any) -> None:
    db = postgres.new_database()
    missing = cli("auth", "users", "list", "--auth-db", db)  # an empty database: no tables
    assert missing.exit_code == 2 and "no auth database at postgresql://" in missing.stderr
    add_user(cli, db, "alice", "--admin")
    add_user(cli, db, "bob")
    again = cli("auth", "users", "add", "bob", "--password-stdin", "--auth-db", db, input="x\n")
    assert again.exit_code == 2 and again.stderr.strip() == "mlcli: error: user 'bob' exists"
    auth(cli, db, "grant", "bob", "model", "ranker", "EDIT")
    auth(cli, db, "grant", "bob", "experiment", "churn", "READ")
    auth(cli, db, "grant", "bob", "experiment", "churn", "MANAGE")  # a grant replaced
    token = auth(cli, db, "tokens", "create", "bob", "--label", "ci").stdout.strip()
    auth(cli, db, "default-permission", "NO_PERMISSIONS")
    listed = json.loads(auth(cli, db, "users", "list", "--json").stdout)
    assert [(u["name"], u["admin"]) for u in listed] == [("alice", True), ("bob", False)]
    assert listed[1]["permissions"] == [
        {"kind": "experiment", "target": "churn", "level": "MANAGE"},
        {"kind": "model", "target": "ranker", "level": "EDIT"},
    ]
    assert "Default permission: NO_PERMISSIONS" in auth(cli, db, "users", "list").stderr
    tokens = json.loads(auth(cli, db, "tokens", "list", "bob", "--json").stdout)
    assert [(t["label"], t["revoked"]) for t in tokens] == [("ci", False)]
    stored = stored_text(db)
    assert token not in stored and PASSWORD not in stored  # hashes only
    auth(cli, db, "tokens", "revoke", str(tokens[0]["id"]))
    assert json.loads(auth(cli, db, "tokens", "list", "bob", "--json").stdout)[0]["revoked"]
    for args, said in (
        (("grant", "carol", "experiment", "x", "READ"), "no user 'carol'"),
        (("grant", "bob", "dataset", "x", "READ"), "expected experiment or model"),
        (("grant", "bob", "experiment", "x", "OWNER"), "unknown permission level"),
        (("revoke", "bob", "experiment", "x"), "has no grant on experiment 'x'"),
        (("tokens", "revoke", "999"), "no token 999"),
        (("users", "remove", "carol"), "no user 'carol'"),
    ):
        wrong = cli("auth", *args, "--auth-db", db)
        assert wrong.exit_code == 2 and said in wrong.stderr, (args, wrong.stderr)
        assert len(wrong.stderr.strip().splitlines()) == 1
    auth(cli, db, "users", "remove", "bob")
    assert [u["name"] for u in json.loads(auth(cli, db, "users", "list", "--json").stdout)] == [
        "alice"
    ]


def test_admin_commands_at_once_on_a_new_database_create_it_once(postgres: Any) -> None:
    """Processes that all find no tables create them together; of two adding one name,
    one wins and the other is told, as on SQLite."""
    db = postgres.new_database()
    names = ["ann", "ben", "cat", "same", "same"]
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "mlcli", "auth", "users", "add", name, "--password-stdin"],
            env={**os.environ, "MLCLI_AUTH_DB": db},
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in names
    ]
    results = [(p.communicate(PASSWORD + "\n", timeout=120), p.returncode) for p in processes]
    codes = sorted(code for _, code in results)
    assert codes == [0, 0, 0, 0, 2], results
    refused = next(err for (_, err), code in results if code == 2)
    assert refused.strip() == "mlcli: error: user 'same' exists"
    listed = subprocess.run(
        [sys.executable, "-m", "mlcli", "auth", "users", "list", "--json", "--auth-db", db],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert [u["name"] for u in json.loads(listed.stdout)] == ["ann", "ben", "cat", "same"]


def test_an_unreachable_postgresql_is_one_line_naming_it_without_its_password(
    cli: Any,
) -> None:
    url = "postgresql://team:hunter2@127.0.0.1:1/auth"  # nothing listens on port 1
    result = cli("auth", "users", "list", "--auth-db", url)
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "cannot be reached" in lines[0], lines
    assert "postgresql://team:***@127.0.0.1:1/auth" in lines[0]
    assert "hunter2" not in result.stderr
    also = cli("auth", "users", "list", "--auth-db", "postgres://127.0.0.1:1/auth")
    assert also.exit_code == 1 and "cannot be reached" in also.stderr
    other = cli("auth", "users", "list", "--auth-db", "mysql://team:hunter2@db/auth")
    assert other.exit_code == 2 and "unsupported --auth-db mysql://..." in other.stderr
    assert "hunter2" not in other.stderr


_WITHOUT_PSYCOPG = """
import sys

class NoPsycopg:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("psycopg", "psycopg_binary", "psycopg_c"):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None

sys.meta_path.insert(0, NoPsycopg())
sys.argv = ["mlcli", *sys.argv[1:]]
from mlcli.cli.main import main
main()
"""


def test_without_psycopg_a_postgresql_url_names_the_extra_to_install(tmp_path: Path) -> None:
    url = "postgresql://team@127.0.0.1:1/auth"
    for args in (
        ("auth", "users", "list", "--auth-db", url),
        ("--store", str(tmp_path / ".mlruns"), "server", "--auth-db", url, "--port", "0"),
    ):
        result = subprocess.run(
            [sys.executable, "-c", _WITHOUT_PSYCOPG, *args],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 2, result.stderr
        assert "Traceback" not in result.stderr
        assert result.stderr.strip().splitlines()[-1] == (
            "mlcli: error: postgresql:// auth databases need the server extra: "
            "pip install 'mlcli[server]'"
        )


def test_a_server_refuses_to_start_on_a_postgresql_database_without_users(
    postgres: Any, tmp_path: Path
) -> None:
    result = subprocess.run(
        [
            *(sys.executable, "-m", "mlcli", "--store", str(tmp_path / ".mlruns"), "server"),
            *("--auth-db", postgres.new_database(), "--port", "0"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2 and "no auth database at postgresql://" in result.stderr


@pytest.fixture
def team(
    cli: Any, postgres: Any, start_server: Callable[..., TrackingServer]
) -> tuple[str, list[TrackingServer]]:
    """One PostgreSQL auth database (an admin; nobody else sees anything unless granted)
    and two servers over one store that share it (the second with two workers)."""
    db = postgres.new_database()
    add_user(cli, db, "admin", "--admin")
    auth(cli, db, "default-permission", "NO_PERMISSIONS")
    first = start_server("--auth-db", db)
    second = start_server("--auth-db", db, "--workers", "2", store=first.store)
    return db, [first, second]


@pytest.mark.slow
def test_two_servers_honour_the_users_grants_and_revocations_of_one_database(
    cli: Any, team: tuple[str, list[TrackingServer]]
) -> None:
    db, servers = team
    assert f"users and permissions of {db}" in servers[0].log()
    made = servers[0].api("POST", "experiments/create", {"name": "shared"}, headers=basic("admin"))
    get = {"experiment_id": made.json()["experiment_id"]}
    for server in servers:
        assert server.api("GET", "experiments/search", headers=basic("carol")).status == 401
    add_user(cli, db, "carol")
    for server in servers:
        assert server.api("GET", "experiments/get", get, headers=basic("carol")).status == 403
    auth(cli, db, "grant", "carol", "experiment", "shared", "READ")
    for server in servers:
        reply = server.api("GET", "experiments/get", get, headers=basic("carol"))
        assert reply.status == 200 and reply.json()["experiment"]["name"] == "shared"
        tag = {**get, "key": "k", "value": "v"}
        refused = server.api("POST", "experiments/set-experiment-tag", tag, headers=basic("carol"))
        assert refused.status == 403 and refused.json()["error_code"] == "PERMISSION_DENIED"
    token = auth(cli, db, "tokens", "create", "carol", "--label", "ci").stdout.strip()
    bearer = {"Authorization": f"Bearer {token}"}
    for server in servers:
        assert server.api("GET", "experiments/get", get, headers=bearer).status == 200
    listed = json.loads(auth(cli, db, "tokens", "list", "carol", "--json").stdout)
    assert listed[0]["last_used"] is not None
    auth(cli, db, "tokens", "revoke", str(listed[0]["id"]))
    for server in servers:
        reply = server.api("GET", "experiments/get", get, headers=bearer)
        assert reply.status == 401 and reply.json()["error_code"] == "UNAUTHENTICATED"
    # what a server grants (the creator manages it) the other one honours
    created = servers[1].api(
        "POST", "experiments/create", {"name": "carols"}, headers=basic("carol")
    )
    mine = {"experiment_id": created.json()["experiment_id"]}
    assert servers[0].api("POST", "experiments/delete", mine, headers=basic("carol")).status == 200
    for server in servers:
        assert " 500 " not in server.log()


@pytest.mark.slow
def test_postgresql_down_is_a_503_and_not_ready_until_it_is_back(
    cli: Any, postgres: Any, team: tuple[str, list[TrackingServer]]
) -> None:
    db, servers = team
    for server in servers:  # each server holds connections open from here on
        assert server.api("GET", "experiments/search", headers=basic("admin")).status == 200
        assert server.request("GET", "/ready").json()["checks"]["auth"] == "ok"
    with postgres.stopped():
        for server in servers:
            reply = server.api("GET", "experiments/search", headers=basic("admin"))
            assert reply.status == 503, reply.text
            assert reply.json()["error_code"] == "TEMPORARILY_UNAVAILABLE"
            assert "the auth database" in reply.json()["message"]
            assert "cannot be reached" in reply.json()["message"]
            ready = server.request("GET", "/ready")
            assert ready.status == 503
            assert ready.json()["status"] == "not ready"
            assert ready.json()["checks"]["auth"] == "the auth database cannot be reached"
            assert server.request("GET", "/health").status == 200  # alive all the same
        down = cli("auth", "users", "list", "--auth-db", db)
        assert down.exit_code == 1 and "cannot be reached" in down.stderr
    for server in servers:
        assert server.api("GET", "experiments/search", headers=basic("admin")).status == 200
        assert server.request("GET", "/ready").status == 200
        assert server.process.poll() is None
        assert " 500 " not in server.log()
    assert "not ready" in servers[0].log() and "ready again" in servers[0].log()
    with postgres.stopped():  # a restart between two requests: nobody sees it
        pass
    for server in servers:
        assert server.api("GET", "experiments/search", headers=basic("admin")).status == 200
