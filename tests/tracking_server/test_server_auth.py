"""``mlcli server --auth-db``: users, personal tokens and per-experiment / per-model
permissions, against real server processes (and the real ``mlflow`` client).

The route walk reads the app's own route table, so a route added without a rule in
``mlcli.tracking_server.auth.rules`` fails here."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from trackingserver import TrackingServer, mlflow_environment

pytest.importorskip("argon2")

PASSWORD = "s3cret pass"
ROLES = ("admin", "manage", "edit", "read", "none", "default")
LEVELS = {"manage": "MANAGE", "edit": "EDIT", "read": "READ", "none": "NO_PERMISSIONS"}
RANK = {"NO_PERMISSIONS": 0, "READ": 1, "EDIT": 2, "MANAGE": 3}


def basic(user: str, password: str = PASSWORD) -> dict[str, str]:
    pair = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {pair}"}


def auth(cli: Any, db: Path | str, *args: str, input: str | None = None) -> Any:
    result = cli("auth", *args, "--auth-db", str(db), input=input)
    assert result.exit_code == 0, result.stderr
    return result


# a few tests run on PostgreSQL too (test_server_auth_postgres.py has the rest)
BOTH_BACKENDS = pytest.mark.parametrize("auth_db", ["sqlite", "postgresql"], indirect=True)


@pytest.fixture
def auth_db(cli: Any, tmp_path: Path, request: pytest.FixtureRequest) -> Any:
    """An auth database with one user per role (``default`` has no grants): a SQLite
    file (a Path), or a PostgreSQL URL when parametrized with ``postgresql``."""
    db: Path | str = tmp_path / "auth.db"
    if getattr(request, "param", "sqlite") == "postgresql":
        db = request.getfixturevalue("postgres").new_database()
    for role in ROLES:
        flags = ["--admin"] if role == "admin" else []
        auth(cli, db, "users", "add", role, *flags, "--password-stdin", input=PASSWORD + "\n")
    return db


@pytest.fixture
def server(auth_db: Path | str, start_server: Callable[..., TrackingServer]) -> TrackingServer:
    return start_server("--auth-db", str(auth_db))


def call(
    server: TrackingServer, method: str, endpoint: str, body: Any = None, user: str = "admin"
) -> Any:
    return server.api(method, endpoint, body, headers=basic(user))


@dataclass
class World:
    """What one role's requests touch: an experiment with a run and a logged model,
    and a registered model with a version."""

    experiment_id: str
    run_id: str
    model_id: str
    model: str


def put_model(server: TrackingServer, experiment_id: str, run_id: str, user: str) -> str:
    """Upload a small MLmodel into the run's artifacts; the source to register it from."""
    root = f"/api/2.0/mlflow-artifacts/artifacts/{experiment_id}/{run_id}/artifacts/model"
    mlmodel = "flavors:\n  python_function:\n    loader_module: nothing\n"
    reply = server.request(
        "PUT", f"{root}/MLmodel", mlmodel, content_type="text/plain", headers=basic(user)
    )
    assert reply.status == 200, reply.text
    return f"mlflow-artifacts:/{experiment_id}/{run_id}/artifacts/model"


def make_world(server: TrackingServer, suffix: str) -> World:
    created = call(server, "POST", "experiments/create", {"name": f"exp-{suffix}"})
    experiment_id = created.json()["experiment_id"]
    run = call(server, "POST", "runs/create", {"experiment_id": experiment_id}).json()["run"]
    run_id = run["info"]["run_id"]
    logged = {"experiment_id": experiment_id, "source_run_id": run_id, "name": "m"}
    model_id = call(server, "POST", "logged-models", logged).json()["model"]["info"]["model_id"]
    name = f"model-{suffix}"
    assert call(server, "POST", "registered-models/create", {"name": name}).status == 200
    source = put_model(server, experiment_id, run_id, "admin")
    version = call(server, "POST", "model-versions/create", {"name": name, "source": source})
    assert version.status == 200, version.text
    return World(experiment_id, run_id, model_id, name)


# -- the admin commands ----------------------------------------------------------------------


def test_the_admin_commands_add_list_and_remove_users_tokens_and_grants(
    cli: Any, auth_db: Path
) -> None:
    listed = json.loads(auth(cli, auth_db, "users", "list", "--json").stdout)
    assert [(u["name"], u["admin"]) for u in listed][:2] == [("admin", True), ("default", False)]
    auth(cli, auth_db, "grant", "edit", "experiment", "churn", "edit")
    auth(cli, auth_db, "grant", "edit", "model", "ranker", "MANAGE")
    listed = json.loads(auth(cli, auth_db, "users", "list", "--json").stdout)
    grants = next(u["permissions"] for u in listed if u["name"] == "edit")
    assert grants == [
        {"kind": "experiment", "target": "churn", "level": "EDIT"},
        {"kind": "model", "target": "ranker", "level": "MANAGE"},
    ]
    auth(cli, auth_db, "revoke", "edit", "model", "ranker")
    token = auth(cli, auth_db, "tokens", "create", "read", "--label", "ci").stdout.strip()
    assert len(token) >= 40
    tokens = json.loads(auth(cli, auth_db, "tokens", "list", "read", "--json").stdout)
    assert [(t["label"], t["revoked"]) for t in tokens] == [("ci", False)]
    assert token not in auth_db.read_bytes().decode("latin-1")  # only its hash is kept
    assert PASSWORD not in auth_db.read_bytes().decode("latin-1")
    auth(cli, auth_db, "tokens", "revoke", str(tokens[0]["id"]))
    auth(cli, auth_db, "users", "remove", "none")
    names = [u["name"] for u in json.loads(auth(cli, auth_db, "users", "list", "--json").stdout)]
    assert "none" not in names
    wrong = cli("auth", "grant", "edit", "dataset", "x", "READ", "--auth-db", str(auth_db))
    assert wrong.exit_code == 2 and "expected experiment or model" in wrong.stderr
    wrong = cli("auth", "grant", "edit", "experiment", "x", "OWNER", "--auth-db", str(auth_db))
    assert wrong.exit_code == 2 and "unknown permission level" in wrong.stderr
    missing = cli("auth", "users", "list", "--auth-db", str(auth_db.parent / "nope.db"))
    assert missing.exit_code == 2 and "no auth database" in missing.stderr


# -- authentication --------------------------------------------------------------------------


def test_requests_without_or_with_wrong_credentials_are_401(server: TrackingServer) -> None:
    for headers in (
        {},
        basic("admin", "wrong"),
        basic("nobody"),
        {"Authorization": "Bearer not-a-token"},
        {"Authorization": "Basic !!!"},
    ):
        reply = server.api("GET", "experiments/search", headers=headers)
        assert reply.status == 401, headers
        assert reply.json()["error_code"] == "UNAUTHENTICATED"
        assert "basic" in reply.headers["www-authenticate"].lower()
    assert server.request("GET", "/health").status == 200  # the probes need no credentials
    assert server.request("GET", "/ready").status == 200


@BOTH_BACKENDS
def test_basic_and_bearer_both_work_and_a_revoked_token_is_refused(
    cli: Any, auth_db: Path, server: TrackingServer
) -> None:
    assert server.api("GET", "experiments/search", headers=basic("read")).status == 200
    token = auth(cli, auth_db, "tokens", "create", "read").stdout.strip()
    bearer = {"Authorization": f"Bearer {token}"}
    assert server.api("GET", "experiments/search", headers=bearer).status == 200
    used = json.loads(auth(cli, auth_db, "tokens", "list", "read", "--json").stdout)
    assert used[0]["last_used"] is not None
    auth(cli, auth_db, "tokens", "revoke", str(used[0]["id"]))
    assert server.api("GET", "experiments/search", headers=bearer).status == 401
    auth(cli, auth_db, "users", "passwd", "read", "--password-stdin", input="new one\n")
    assert server.api("GET", "experiments/search", headers=basic("read")).status == 401
    assert server.api("GET", "experiments/search", headers=basic("read", "new one")).status == 200


def test_the_server_refuses_to_start_without_its_auth_database(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            *(sys.executable, "-m", "mlcli", "--store", str(tmp_path / ".mlruns"), "server"),
            *("--auth-db", str(tmp_path / "missing.db"), "--port", "0"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2 and "no auth database" in result.stderr


# -- authorization: every route, every role --------------------------------------------------


def app_routes(store: Path) -> list[tuple[str, str]]:
    """(method, path template) of every route of the app, read from the app itself."""
    from mlcli.tracking_server.app import TrackingApp
    from mlcli.tracking_server.backend import Backend
    from mlcli.tracking_server.config import ServerConfig
    from mlcli.web.log import ServerLog
    from mlcli.web.metrics import HttpMetrics

    config = ServerConfig(str(store))
    app = TrackingApp(config, Backend(store), ServerLog(name="test"), HttpMetrics()).starlette()
    found = []
    for route in app.routes:
        for method in sorted(getattr(route, "methods", None) or ()):
            if method != "HEAD":
                found.append((method, route.path))
    return found


def request_for(method: str, template: str, world: World) -> tuple[str, Any]:
    """A request on the route that names ``world``'s experiment, run and models."""
    artifact = f"{world.experiment_id}/{world.run_id}/artifacts"
    path = (
        template.replace("{model_id}", world.model_id)
        .replace("{tag_key}", "k")
        .replace("{path:path}", f"{artifact}/f.txt")
    )
    fields: dict[str, Any] = {
        "experiment_id": world.experiment_id,
        "experiment_name": f"exp-{world.model.removeprefix('model-')}",
        "experiment_ids": [world.experiment_id],
        "run_id": world.run_id,
        "source_run_id": world.run_id,
        "name": world.model,
        "version": "1",
        "path": artifact,
    }
    if method == "GET":
        return path + "?" + urlencode(fields, doseq=True), None
    if method == "PUT":
        return path, b"content"
    return path, fields


# The expected matrix, written here apart from the server's rules (MLflow's: a read needs
# READ, a write EDIT, deleting or restoring a whole thing MANAGE; creating and the
# searches, which are filtered, need only a signed-in user).
SIGNED_IN_ROUTES = {
    "/experiments/create", "/registered-models/create", "/experiments/search",
    "/registered-models/search", "/model-versions/search", "/metrics", "/version",
    "/api/3.0/mlflow/server-info", "/api/2.0/mlcli/experiments/activity",
}  # fmt: skip
MANAGE_ROUTES = {
    ("POST", "/experiments/delete"), ("POST", "/experiments/restore"),
    ("POST", "/runs/delete"), ("POST", "/runs/restore"),
    ("DELETE", "/logged-models/{model_id}"), ("DELETE", "/registered-models/delete"),
    ("DELETE", "/model-versions/delete"),
}  # fmt: skip
READING_POSTS = {"/runs/search", "/logged-models/search", "/registered-models/get-latest-versions"}


def expected_level(method: str, template: str) -> int:
    """The level a route needs by the matrix above (0: signed in is enough)."""
    from mlcli.tracking_server.auth.rules import rule_for

    rule_for(method, template)  # KeyError: a route without a rule
    path = template.removeprefix("/api/2.0/mlflow").removeprefix("/ajax-api/2.0/mlflow")
    if path in SIGNED_IN_ROUTES:
        return 0
    if (method, path) in MANAGE_ROUTES:
        return RANK["MANAGE"]
    if method == "GET" or path in READING_POSTS:
        return RANK["READ"]
    return RANK["EDIT"]


def expected_allowed(role: str, method: str, template: str) -> bool:
    if role == "admin":
        return True
    return RANK[LEVELS.get(role, "READ")] >= expected_level(method, template)  # default: READ


def test_every_route_answers_each_role_as_its_rule_says(
    cli: Any, auth_db: Path, server: TrackingServer
) -> None:
    routes = app_routes(server.store)
    assert len(routes) > 60
    # what the destructive routes (MANAGE) do comes last, so the other checks find things
    routes.sort(key=lambda route: expected_level(*route))
    mismatches = []
    for role in (*ROLES, "anonymous"):
        world = make_world(server, role)
        if role in LEVELS:
            auth(cli, auth_db, "grant", role, "experiment", world.experiment_id, LEVELS[role])
            auth(cli, auth_db, "grant", role, "model", world.model, LEVELS[role])
        headers = {} if role == "anonymous" else basic(role)
        for method, template in routes:
            path, body = request_for(method, template, world)
            content_type = "application/octet-stream" if method == "PUT" else "application/json"
            reply = server.request(method, path, body, headers=headers, content_type=content_type)
            if template in ("/health", "/ready"):
                wanted = "200"
                got = str(reply.status)
            elif role == "anonymous":
                wanted, got = "401", str(reply.status)
            elif expected_allowed(role, method, template):
                wanted = "allowed"
                got = "allowed" if reply.status not in (401, 403) else str(reply.status)
            else:
                wanted = "403 PERMISSION_DENIED"
                code = reply.json().get("error_code") if reply.status == 403 else ""
                got = f"{reply.status} {code}"
            if got != wanted:
                mismatches.append(f"{role} {method} {path}: {got}, not {wanted}: {reply.text}")
    assert not mismatches, "\n".join(mismatches)
    assert " 500 " not in server.log()


@BOTH_BACKENDS
def test_searches_show_only_what_the_user_can_read(
    cli: Any, auth_db: Path, server: TrackingServer
) -> None:
    visible, hidden = make_world(server, "visible"), make_world(server, "hidden")
    auth(cli, auth_db, "grant", "read", "experiment", f"exp-{'hidden'}", "NO_PERMISSIONS")
    auth(cli, auth_db, "grant", "read", "model", hidden.model, "NO_PERMISSIONS")
    experiments = call(server, "GET", "experiments/search", user="read").json()["experiments"]
    names = {e["name"] for e in experiments}
    assert "exp-visible" in names and "exp-hidden" not in names
    activity = server.request(
        "GET", "/api/2.0/mlcli/experiments/activity", headers=basic("read")
    ).json()["experiments"]
    shown = {e["experiment_id"] for e in activity}
    assert visible.experiment_id in shown and hidden.experiment_id not in shown
    models = call(server, "GET", "registered-models/search", user="read").json()
    assert [m["name"] for m in models["registered_models"]] == [visible.model]
    versions = call(server, "GET", "model-versions/search", user="read").json()
    assert {v["name"] for v in versions["model_versions"]} == {visible.model}
    runs = call(
        server, "POST", "runs/search", {"experiment_ids": [visible.experiment_id]}, user="read"
    )
    assert [r["info"]["run_id"] for r in runs.json()["runs"]] == [visible.run_id]
    both = {"experiment_ids": [visible.experiment_id, hidden.experiment_id]}
    refused = call(server, "POST", "runs/search", both, user="read")
    assert refused.status == 403 and refused.json()["error_code"] == "PERMISSION_DENIED"


@BOTH_BACKENDS
def test_the_default_permission_applies_where_no_grant_is(
    cli: Any, auth_db: Path, server: TrackingServer
) -> None:
    world = make_world(server, "somewhere")
    get = {"experiment_id": world.experiment_id}
    assert call(server, "GET", "experiments/get", get, user="default").status == 200
    auth(cli, auth_db, "default-permission", "NO_PERMISSIONS")
    assert call(server, "GET", "experiments/get", get, user="default").status == 403
    auth(cli, auth_db, "default-permission", "EDIT")
    tag = {"experiment_id": world.experiment_id, "key": "k", "value": "v"}
    assert call(server, "POST", "experiments/set-experiment-tag", tag, user="default").status == 200
    assert call(server, "POST", "experiments/delete", get, user="default").status == 403


@BOTH_BACKENDS
def test_creators_manage_what_they_create_and_the_registry_records_who(
    cli: Any, auth_db: Path, server: TrackingServer
) -> None:
    auth(cli, auth_db, "default-permission", "READ")
    created = call(server, "POST", "experiments/create", {"name": "mine"}, user="default")
    experiment_id = created.json()["experiment_id"]
    model = call(server, "POST", "registered-models/create", {"name": "m"}, user="default")
    assert model.status == 200
    listed = json.loads(auth(cli, auth_db, "users", "list", "--json").stdout)
    grants = next(u["permissions"] for u in listed if u["name"] == "default")
    assert {"kind": "experiment", "target": experiment_id, "level": "MANAGE"} in grants
    assert {"kind": "model", "target": "m", "level": "MANAGE"} in grants
    alias = {"name": "m", "alias": "champion", "version": "1"}
    run = call(server, "POST", "runs/create", {"experiment_id": experiment_id}, user="default")
    source = put_model(server, experiment_id, run.json()["run"]["info"]["run_id"], "default")
    version = {"name": "m", "source": source}
    assert call(server, "POST", "model-versions/create", version, user="default").status == 200
    assert call(server, "POST", "registered-models/alias", alias, user="edit").status == 403
    auth(cli, auth_db, "grant", "edit", "model", "m", "EDIT")
    assert call(server, "POST", "registered-models/alias", alias, user="edit").status == 200
    history = cli("--store", str(server.store), "models", "history", "m", "--json")
    events = json.loads(history.stdout)
    assert {(e["action"], e["user"]) for e in events} >= {
        ("create_model", "default"),
        ("register", "default"),
    }
    assert any(e["user"] == "edit" for e in events), events


def test_the_dashboard_is_for_admins(server: TrackingServer) -> None:
    assert server.request("GET", "/", headers=basic("admin")).status == 200
    refused = server.request("GET", "/", headers=basic("manage"))
    assert refused.status == 403 and refused.json()["error_code"] == "PERMISSION_DENIED"
    assert server.request("GET", "/").status == 401


# -- the real mlflow client ------------------------------------------------------------------

MLFLOW_SCRIPT = """
import json, sys
import mlflow
from mlflow.exceptions import MlflowException

mlflow.set_experiment(sys.argv[1])
with mlflow.start_run() as run:
    mlflow.log_param("p", 1)
    mlflow.log_metric("loss", 0.5)
try:
    mlflow.MlflowClient().get_experiment_by_name(sys.argv[2])
    refused = None
except MlflowException as exc:
    refused = exc.error_code
print(json.dumps({"run_id": run.info.run_id, "refused": refused}))
"""


@pytest.mark.slow
@pytest.mark.mlflow
def test_the_mlflow_client_signs_in_with_username_and_password(
    cli: Any, auth_db: Path, server: TrackingServer, tmp_path: Path
) -> None:
    pytest.importorskip("mlflow")
    secret = make_world(server, "secret")
    auth(cli, auth_db, "grant", "edit", "experiment", secret.experiment_id, "NO_PERMISSIONS")
    script = tmp_path / "client.py"
    script.write_text(MLFLOW_SCRIPT)
    environ = mlflow_environment(
        server, MLFLOW_TRACKING_USERNAME="edit", MLFLOW_TRACKING_PASSWORD=PASSWORD
    )
    result = subprocess.run(
        [sys.executable, str(script), "mine", "exp-secret"],
        env=environ,
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert result.returncode == 0, f"{result.stderr}\n{server.log()}"
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["refused"] == "PERMISSION_DENIED"
    run = call(server, "GET", "runs/get", {"run_id": report["run_id"]}).json()["run"]
    assert run["data"]["params"] == [{"key": "p", "value": "1"}]
    environ["MLFLOW_TRACKING_PASSWORD"] = "wrong"
    refused = subprocess.run(
        [sys.executable, str(script), "mine", "exp-secret"],
        env=environ,
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert refused.returncode != 0
    assert "401" in refused.stderr or "UNAUTHENTICATED" in refused.stderr


# -- a reverse proxy that signs users in (SSO) -----------------------------------------------


def test_a_trusted_proxy_names_the_user_in_its_header(
    cli: Any, auth_db: Path, start_server: Callable[..., TrackingServer]
) -> None:
    server = start_server(
        "--auth-db", str(auth_db), "--user-header", "X-Forwarded-User", "--trusted-proxy",
        "127.0.0.1",
    )  # fmt: skip
    as_read = {"X-Forwarded-User": "read"}
    assert server.api("GET", "experiments/search", headers=as_read).status == 200
    made = server.api("POST", "experiments/create", {"name": "by-proxy"}, headers=as_read)
    experiment_id = made.json()["experiment_id"]
    listed = json.loads(auth(cli, auth_db, "users", "list", "--json").stdout)
    grants = next(u["permissions"] for u in listed if u["name"] == "read")
    assert {"kind": "experiment", "target": experiment_id, "level": "MANAGE"} in grants
    stranger = server.api("GET", "experiments/search", headers={"X-Forwarded-User": "mallory"})
    assert stranger.status == 403 and "'mallory', who is no user" in stranger.json()["message"]
    assert server.api("GET", "experiments/search").status == 401  # no header: sign in


def test_the_header_of_a_client_that_is_not_the_proxy_is_ignored(
    auth_db: Path, start_server: Callable[..., TrackingServer]
) -> None:
    server = start_server(
        "--auth-db", str(auth_db), "--user-header", "X-Forwarded-User", "--trusted-proxy",
        "10.0.0.7",
    )  # fmt: skip
    forged = {"X-Forwarded-User": "admin"}
    assert server.api("GET", "experiments/search", headers=forged).status == 401
    assert server.api("GET", "experiments/search", headers=basic("read")).status == 200


def test_a_user_header_without_a_trusted_proxy_or_users_is_refused(tmp_path: Path) -> None:
    base = [sys.executable, "-m", "mlcli", "--store", str(tmp_path / ".mlruns"), "server"]
    for extra, said in (
        (["--user-header", "X-Forwarded-User"], "--user-header needs --auth-db"),
        (
            ["--user-header", "X-Forwarded-User", "--auth-db", str(tmp_path / "auth.db")],
            "--user-header needs --trusted-proxy ADDRESS",
        ),
    ):
        result = subprocess.run(
            [*base, *extra, "--port", "0"], capture_output=True, text=True, timeout=60
        )
        assert result.returncode == 2 and said in result.stderr, result.stderr
        assert "Traceback" not in result.stderr
