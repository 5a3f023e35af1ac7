"""A hostile test of mlcli as a client of a team server: bad input, odd URLs, a server
that answers garbage or tries to make the client write outside its cache, a shared
or damaged cache, a user who may only read, a token revoked mid-session, and writers
racing on one run. Every failure a user meets is one line, never a traceback."""

from __future__ import annotations

import http.server
import json
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from trackingserver import TrackingServer

from mlcli.errors import MlcliError, StoreError

PASSWORD = "s3cret pass"
RUN_ID = "ab" * 16
JSON = "application/json"


def mlcli(store: str, *args: str, cwd: Path | None = None, **env: str) -> Any:
    """``mlcli --store STORE ARGS`` in a clean environment plus ``env``."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("MLCLI_", "MLFLOW_"))}
    environ.update({"MLCLI_HTTP_RETRIES": "0", **env})
    return subprocess.run(
        [sys.executable, "-m", "mlcli", "--store", store, *args],
        env=environ,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


def one_line_error(result: Any) -> str:
    assert result.returncode != 0, result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("mlcli: error: "), result.stderr
    return str(lines[0])


# -- a tiny real HTTP server that answers what a test tells it to ------------------------------

Reply = tuple[int, bytes, str]


class CannedServer:
    """Answers each request with the reply of the longest path prefix in ``replies``
    (a reply, or a function of the request's path and query giving one)."""

    def __init__(self, replies: dict[str, Reply | Callable[[str, dict[str, list[str]]], Reply]]):
        self.replies = replies
        canned = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                parts = urlsplit(self.path)
                found = [p for p in canned.replies if parts.path.startswith(p)]
                if not found:
                    reply: Reply = (404, b'{"error_code": "ENDPOINT_NOT_FOUND"}', JSON)
                else:
                    chosen = canned.replies[max(found, key=len)]
                    reply = (
                        chosen(parts.path, parse_qs(parts.query)) if callable(chosen) else chosen
                    )
                status, body, kind = reply[:3]
                announced = reply[3] if len(reply) > 3 else len(body)  # type: ignore[misc]
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(announced))
                self.end_headers()
                self.wfile.write(body)
                self.close_connection = announced != len(body)  # a body cut short

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = answer

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def canned() -> Iterator[Callable[..., CannedServer]]:
    started: list[CannedServer] = []

    def start(replies: dict[str, Any]) -> CannedServer:
        started.append(CannedServer(replies))
        return started[-1]

    yield start
    for server in started:
        server.close()


def _run_doc(run_id: str = RUN_ID) -> bytes:
    info = {
        "run_id": run_id,
        "experiment_id": "1",
        "status": "RUNNING",
        "start_time": 1,
        "lifecycle_stage": "active",
        "artifact_uri": "mlflow-artifacts:/1/x/artifacts",
    }
    return json.dumps({"run": {"info": info, "data": {}}}).encode()


def _artifact_server(listed: str, run_id: str = RUN_ID) -> dict[str, Any]:
    """A server whose run lists ``listed`` in every artifact folder and serves any file."""

    def listing(path: str, query: dict[str, list[str]]) -> Reply:
        files = [{"path": listed, "is_dir": False, "file_size": 5}]
        return 200, json.dumps({"files": files}).encode(), JSON

    return {
        "/api/2.0/mlflow/runs/get": (200, _run_doc(run_id), JSON),
        "/api/2.0/mlflow/experiments/get": (
            200,
            b'{"experiment": {"experiment_id": "1", "name": "e", "lifecycle_stage": "active"}}',
            JSON,
        ),
        "/api/2.0/mlflow-artifacts/artifacts": listing,
        "/api/2.0/mlflow-artifacts/artifacts/": (200, b"owned", "application/octet-stream"),
        "/api": (200, b"owned", "application/octet-stream"),  # any path urllib3 normalised
        "/": (200, b"owned", "application/octet-stream"),
    }


# -- the same one-line error as against a local store ------------------------------------------


def test_bad_input_is_the_same_one_line_error_as_against_a_local_store(
    served_store: TrackingServer, tmp_path: Path
) -> None:
    local = tmp_path / "local" / ".mlruns"
    assert mlcli(str(local), "init").returncode == 0 or local.is_dir()
    sides = {"local": str(local), "server": served_store.url}
    ids = {}
    for side, store in sides.items():
        assert mlcli(store, "experiments", "create", "demo").returncode == 0
        created = mlcli(store, "runs", "create", "--experiment", "demo", "-q")
        ids[side] = created.stdout.strip()
    cases = [
        ("runs", "show", "nope"),
        ("runs", "show", ""),
        ("runs", "show", "f" * 32),
        ("runs", "show", "0" * 40),
        ("log", "metric", "loss", "1e400", "--run", "{run}"),
        ("log", "metric", "", "1", "--run", "{run}"),
        ("log", "metric", "loss", "abc", "--run", "{run}"),
        ("log", "param", "p", "x" * 10000, "--run", "{run}"),
        ("log", "param", "é/ü\u202e", "v", "--run", "{run}", "--json"),
        ("log", "tag", "t", "v", "--run", "0" * 32),
        ("experiments", "create", ""),
        ("experiments", "create", "demo"),
        ("experiments", "rename", "no-such-experiment", "x"),
        ("runs", "list", "--experiment", "no-such", "--json"),
        ("runs", "end", "{run}", "--status", "BOGUS"),
    ]
    for case in cases:
        seen = {}
        for side, store in sides.items():
            args = [arg.replace("{run}", ids[side]) for arg in case]
            result = mlcli(store, *args)
            assert "Traceback" not in result.stderr and "internal error" not in result.stderr
            if result.returncode == 0:
                seen[side] = (0, "")
                continue
            line = one_line_error(result).replace(ids[side], "RUN")
            seen[side] = (result.returncode, line.replace(str(local), "STORE"))
        assert seen["local"] == seen["server"], case


# -- URLs ------------------------------------------------------------------------------------------


@pytest.fixture
def users(cli: Any, tmp_path: Path) -> Path:
    """An auth database with an admin ``root`` and ``bob`` (READ everywhere, by default)."""
    pytest.importorskip("argon2")
    db = tmp_path / "auth.db"
    for name, flags in (("root", ["--admin"]), ("bob", [])):
        result = cli(
            "auth", "users", "add", name, *flags, "--password-stdin", "--auth-db", str(db),
            input=PASSWORD + "\n",
        )  # fmt: skip
        assert result.exit_code == 0, result.stderr
    return db


@pytest.fixture
def guarded(users: Path, start_server: Callable[..., TrackingServer]) -> TrackingServer:
    return start_server("--auth-db", str(users))


def _with_user(url: str, user: str, password: str) -> str:
    from urllib.parse import quote

    return url.replace("://", f"://{quote(user, safe='')}:{quote(password, safe='')}@", 1)


def test_a_password_in_the_url_signs_in_and_is_never_shown(
    guarded: TrackingServer, tmp_path: Path
) -> None:
    signed_in = mlcli(_with_user(guarded.url, "root", PASSWORD), "experiments", "create", "e")
    assert signed_in.returncode == 0, signed_in.stderr
    wrong = mlcli(_with_user(guarded.url, "root", "hunter2-wrong"), "runs", "list")
    line = one_line_error(wrong)
    assert "hunter2" not in line and "root:" not in line
    assert "the user and password in the URL" in line and guarded.url in line
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{sock.getsockname()[1]}"
    unreachable = one_line_error(mlcli(_with_user(closed, "root", "hunter2"), "runs", "list"))
    assert "hunter2" not in unreachable and f"cannot reach the server at {closed}" in unreachable
    # the variables win over the URL, as MLflow's client lets them
    both = mlcli(
        _with_user(guarded.url, "root", "hunter2-wrong"), "runs", "list",
        MLCLI_TRACKING_USERNAME="root", MLCLI_TRACKING_PASSWORD=PASSWORD,
    )  # fmt: skip
    assert both.returncode == 0, both.stderr
    assert "hunter2" not in guarded.log()
    # the cache of the URL with a password is the cache of the URL without one
    from mlcli.store import ServerStore

    with_password = ServerStore(_with_user(guarded.url, "root", PASSWORD))
    assert with_password.url == with_password.location == guarded.url
    assert with_password._root == ServerStore(guarded.url + "/")._root


def test_odd_urls_are_one_line_errors(served_store: TrackingServer) -> None:
    host_port = served_store.url.split("://", 1)[1]
    tls = one_line_error(mlcli(f"https://{host_port}", "runs", "list"))
    assert "TLS handshake failed (is it an http:// server" in tls
    prefixed = one_line_error(mlcli(served_store.url + "/prefix", "runs", "list"))
    assert f"{served_store.url}/prefix has no endpoint POST /api/2.0/mlflow" in prefixed
    odd = (
        "http://127.0.0.1:99999",
        "http://[::1",
        "http://",
        "http://a b",
        f"http://{host_port}:80",
    )
    odd += (f"{served_store.url}/?x=1", f"{served_store.url}#top", f"{served_store.url}/ ")
    for url in odd:
        assert "not a server URL" in one_line_error(mlcli(url, "runs", "list")), url
    assert mlcli(served_store.url + "//", "runs", "list").returncode == 0
    ipv6 = one_line_error(mlcli("http://[::1]:1", "runs", "list"))
    assert "cannot reach the server at http://[::1]:1" in ipv6


class PrefixProxy:
    """A real reverse proxy that serves ``target`` under ``/team`` (as nginx would with
    ``location /team/ { proxy_pass http://target/; }``) and nothing elsewhere."""

    def __init__(self, target: str) -> None:
        import urllib.error
        import urllib.request

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def relay(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                if not self.path.startswith("/team/"):
                    status, data, kind = 404, b"<html>no such page</html>", "text/html"
                else:
                    headers = {k: v for k, v in self.headers.items() if k.lower() != "host"}
                    request = urllib.request.Request(
                        target + self.path[len("/team") :],
                        data=body,
                        headers=headers,
                        method=self.command,
                    )
                    try:
                        with urllib.request.urlopen(request) as reply:
                            status, data = reply.status, reply.read()
                            kind = reply.headers.get("Content-Type", JSON)
                    except urllib.error.HTTPError as error:
                        status, data = error.code, error.read()
                        kind = error.headers.get("Content-Type", JSON)
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = relay

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/team"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_a_server_behind_a_path_prefix(served_store: TrackingServer, tmp_path: Path) -> None:
    proxy = PrefixProxy(served_store.url)
    try:
        env = {"XDG_CACHE_HOME": str(tmp_path / "cache")}
        for url in (proxy.url, proxy.url + "/"):
            run_id = mlcli(url, "runs", "create", "-q", **env).stdout.strip()
            assert len(run_id) == 32
            (tmp_path / "f.txt").write_text("behind a proxy")
            logged = mlcli(url, "log", "artifact", str(tmp_path / "f.txt"), "--run", run_id, **env)
            assert logged.returncode == 0, logged.stderr
            shown = mlcli(url, "runs", "artifacts", run_id, "--json", **env)
            assert [e["path"] for e in json.loads(shown.stdout)] == ["f.txt"]
        model = tmp_path / "model"
        model.mkdir()
        (model / "MLmodel").write_text("flavors:\n  python_function:\n    loader_module: x\n")
        registered = mlcli(proxy.url, "register", str(model), "-n", "m", **env)
        assert registered.returncode == 0, registered.stderr
        missing = one_line_error(mlcli(proxy.url[: -len("/team")], "runs", "list", **env))
        assert "it is not an mlcli or MLflow tracking server" in missing
    finally:
        proxy.close()


# -- a server that answers garbage -------------------------------------------------------------


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        ((200, b"<html><body>login</body></html>", "text/html"), "is not a JSON document"),
        ((200, b'{"experiments": [{"experiment_id"', JSON), "is not a JSON document"),
        ((200, b"[1, 2, 3]", JSON), "is not a JSON document"),
        ((200, b'["ab"]', JSON), "is not a JSON document"),
        ((200, b"[" * 100000, JSON), "is not a JSON document"),
        (
            (200, b'{"error_code": "INTERNAL_ERROR", "message": "boom\\nline two"}', JSON),
            "failed on POST /api/2.0/mlflow/experiments/search (200): boom",
        ),
        ((500, b"<html>\n<h1>oops</h1>\n</html>", "text/html"), "it is not an mlcli or MLflow"),
        (
            (400, b'{"error_code": "BAD_REQUEST", "message": "\\u001b[2Jgone\\u0007"}', JSON),
            "\\x1b[2Jgone\\x07",  # no escape sequence reaches the terminal
        ),
        ((502, b"bad gateway", "text/plain"), "is not ready (502)"),
    ],
)
def test_a_server_answering_garbage_is_one_line(
    canned: Callable[..., CannedServer], reply: Reply, expected: str
) -> None:
    server = canned({"/": reply})
    for args in (["runs", "list"], ["runs", "show", RUN_ID, "--json"], ["experiments", "list"]):
        line = one_line_error(mlcli(server.url, *args))
        assert expected in line, line


def test_an_answer_missing_its_fields_is_one_line(canned: Callable[..., CannedServer]) -> None:
    server = canned(
        {
            "/api/2.0/mlflow/experiments/search": (200, b'{"experiments": []}', JSON),
            "/api/2.0/mlflow/runs/get": (200, b'{"run": {"data": {}}}', JSON),
            "/api/2.0/mlflow/experiments/get": (200, b"{}", JSON),
        }
    )
    line = one_line_error(mlcli(server.url, "runs", "show", RUN_ID))
    assert "the server's answer to GET /api/2.0/mlflow/runs/get has no field 'info'" in line
    line = one_line_error(mlcli(server.url, "runs", "list", "--experiment", "1"))
    assert "has no field" in line


def test_an_answer_with_fields_of_the_wrong_kind_is_one_line(
    canned: Callable[..., CannedServer],
) -> None:
    server = canned(
        {
            "/api/2.0/mlflow/experiments/search": (200, b'{"experiments": []}', JSON),
            "/api/2.0/mlflow/runs/search": (200, b'{"runs": 7}', JSON),
        }
    )
    result = mlcli(server.url, "runs", "list")
    line = one_line_error(result)
    assert line.startswith(
        f"mlcli: error: the server at {server.url} answered something this client cannot read"
    )
    assert result.returncode == 1


def test_a_huge_answer_is_refused_not_held_in_memory(
    canned: Callable[..., CannedServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    from mlcli.store import ServerConnection
    from mlcli.store.rest import connection

    server = canned({"/": (200, b'{"x": "' + b"y" * (3 << 20) + b'"}', JSON)})
    monkeypatch.setattr(connection, "MAX_ANSWER_BYTES", 2 << 20)
    with pytest.raises(StoreError, match="is larger than 2 MiB"):
        ServerConnection(server.url, retries=0).post("/experiments/search", {})


# -- the local cache -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "listed",
    ["/tmp/{tmp}/owned", "../../../../../../../../../{tmp}/owned", "a/../../../owned", "..", ""],
)
def test_a_server_cannot_make_the_client_write_outside_its_cache(
    canned: Callable[..., CannedServer],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    listed: str,
) -> None:
    from mlcli.store import ServerStore

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    name = listed.replace("/tmp/{tmp}", str(tmp_path)).replace("{tmp}", str(tmp_path)[1:])
    server = canned(_artifact_server(name))
    artifacts = ServerStore(server.url).artifacts(RUN_ID)
    (tmp_path / "out").mkdir()
    for read in (
        lambda: artifacts.resolve(""),
        lambda: artifacts.download("", tmp_path / "out"),
        lambda: artifacts.list_all(),
    ):
        with pytest.raises(MlcliError, match="the server listed"):
            read()
    assert not (tmp_path / "owned").exists() and not Path("/tmp/owned").exists()
    assert [p for p in (tmp_path / "out").rglob("*") if p.is_file()] == []


def test_a_run_id_from_the_server_that_is_no_run_id_is_refused(
    canned: Callable[..., CannedServer], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mlcli.store import ServerStore

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    evil = f"../../../../../../../../..{tmp_path}/evil"
    server = canned(_artifact_server("f.txt", run_id=evil))
    with pytest.raises(StoreError, match="not a run id"):
        ServerStore(server.url).artifacts(RUN_ID)
    assert not (tmp_path / "evil").exists()


def test_the_cache_is_private_to_its_user(
    served_store: TrackingServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mlcli.store import ServerStore

    created = mlcli(served_store.url, "runs", "create", "-q")
    run_id = created.stdout.strip()
    (tmp_path / "f.txt").write_bytes(b"x" * 100_000)
    logged = mlcli(served_store.url, "log", "artifact", str(tmp_path / "f.txt"), "--run", run_id)
    assert logged.returncode == 0, logged.stderr

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "fresh"))
    store = ServerStore(served_store.url)
    assert store.artifacts(run_id).resolve("f.txt").read_bytes() == b"x" * 100_000
    assert (store.root.stat().st_mode & 0o777) == 0o700

    # shared with another user (or left writable by all): refused in one line
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "shared"))
    folder = ServerStore(served_store.url)._root
    folder.mkdir(parents=True)
    folder.chmod(0o777)
    with pytest.raises(StoreError, match="others may write in it; set XDG_CACHE_HOME"):
        ServerStore(served_store.url).artifacts(run_id)
    if os.geteuid() == 0:
        folder.chmod(0o700)
        os.chown(folder, 65534, 65534)
        with pytest.raises(StoreError, match="it belongs to another user"):
            ServerStore(served_store.url).artifacts(run_id)

    # a symbolic link planted where the cache goes
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "planted"))
    folder = ServerStore(served_store.url)._root
    folder.parent.mkdir(parents=True)
    (tmp_path / "elsewhere").mkdir()
    folder.symlink_to(tmp_path / "elsewhere")
    with pytest.raises(StoreError, match="not a folder"):
        ServerStore(served_store.url).artifacts(run_id).resolve("f.txt")
    assert list((tmp_path / "elsewhere").iterdir()) == []

    # a cache that cannot be made: one line from the command
    (tmp_path / "a-file").write_text("")
    result = mlcli(
        served_store.url, "models", "list", XDG_CACHE_HOME=str(tmp_path / "a-file" / "x")
    )
    line = one_line_error(result)
    assert "cannot use the cache folder" in line and "XDG_CACHE_HOME" in line


def test_links_and_partial_files_planted_inside_the_cache(
    served_store: TrackingServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mlcli.store import ServerStore

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    run_id = mlcli(served_store.url, "runs", "create", "-q").stdout.strip()
    source = tmp_path / "src"
    (source / "d").mkdir(parents=True)
    (source / "d" / "f.txt").write_bytes(b"whole file")
    assert mlcli(served_store.url, "log", "artifact", str(source), "--run", run_id).returncode == 0
    artifacts = ServerStore(served_store.url).artifacts(run_id)
    cache = artifacts.root
    cache.mkdir(parents=True)
    outside = tmp_path / "outside"
    outside.mkdir()
    (cache / "d").symlink_to(outside)
    with pytest.raises(MlcliError, match="escapes the run's artifacts through a symbolic link"):
        artifacts.resolve("d/f.txt")
    assert list(outside.iterdir()) == []
    (cache / "d").unlink()
    # a download killed midway leaves only its temporary name: never taken as the file
    (cache / "d").mkdir()
    (cache / "d" / ".f.txt.tmp-killed").write_bytes(b"who")
    assert artifacts.resolve("d/f.txt").read_bytes() == b"whole file"
    # a folder's file of the wrong size (cut short by hand) is fetched again
    (cache / "d" / "f.txt").write_bytes(b"who")
    assert (artifacts.resolve("d") / "f.txt").read_bytes() == b"whole file"


_DOWNLOAD = """
import sys
from mlcli.store import ServerStore
path = ServerStore(sys.argv[1]).artifacts(sys.argv[2]).resolve("big.bin")
print(path.stat().st_size)
"""


def test_two_processes_downloading_one_artifact_at_once_both_get_it_whole(
    served_store: TrackingServer, tmp_path: Path
) -> None:
    run_id = mlcli(served_store.url, "runs", "create", "-q").stdout.strip()
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(1 << 20) * 24)
    assert mlcli(served_store.url, "log", "artifact", str(big), "--run", run_id).returncode == 0
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache")}
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", _DOWNLOAD, served_store.url, run_id],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    for process in processes:
        out, err = process.communicate(timeout=120)
        assert process.returncode == 0, err
        assert out.strip() == str(24 << 20)
    cached = list((tmp_path / "cache").rglob("*"))
    files = [p for p in cached if p.is_file()]
    assert [p.name for p in files] == ["big.bin"]  # no temporary file left behind
    assert files[0].read_bytes() == big.read_bytes()


# -- permissions -----------------------------------------------------------------------------------


def test_a_read_only_user_is_refused_every_write_in_one_line(
    guarded: TrackingServer, tmp_path: Path
) -> None:
    as_root = {"MLCLI_TRACKING_USERNAME": "root", "MLCLI_TRACKING_PASSWORD": PASSWORD}
    as_bob = {"MLCLI_TRACKING_USERNAME": "bob", "MLCLI_TRACKING_PASSWORD": PASSWORD}
    assert mlcli(guarded.url, "experiments", "create", "team", **as_root).returncode == 0
    run_id = mlcli(guarded.url, "runs", "create", "--experiment", "team", "-q", **as_root)
    run_id = run_id.stdout.strip()
    (tmp_path / "f.txt").write_text("x")
    model = tmp_path / "model"
    model.mkdir()
    (model / "MLmodel").write_text("flavors:\n  python_function:\n    loader_module: nothing\n")
    registered = mlcli(guarded.url, "register", str(model), "-n", "churn", **as_root)
    assert registered.returncode == 0, registered.stderr
    before = mlcli(guarded.url, "runs", "show", run_id, "--json", **as_bob)
    models_before = mlcli(guarded.url, "models", "show", "churn", "--json", **as_bob)
    assert models_before.returncode == 0, models_before.stderr
    assert before.returncode == 0, before.stderr
    # (creating an experiment or a model is open to anyone signed in, who then manages it)
    writes = [
        ("experiments", "rename", "team", "mine"),
        ("experiments", "delete", "team"),
        ("runs", "create", "--experiment", "team"),
        ("runs", "end", run_id),
        ("runs", "delete", run_id),
        ("log", "metric", "m", "1", "--run", run_id),
        ("log", "param", "p", "1", "--run", run_id),
        ("log", "tag", "t", "1", "--run", run_id),
        ("log", "artifact", str(tmp_path / "f.txt"), "--run", run_id),
        ("log", "batch", "-", "--run", run_id),
        ("register", str(model), "-n", "churn"),
        ("promote", "churn", "1", "--stage", "Production"),
        ("models", "tag", "churn", "k=v"),
        ("models", "describe", "churn", "-d", "mine now"),
        ("models", "alias", "set", "churn", "champion", "1"),
        ("models", "delete-version", "churn", "1"),
        ("models", "delete", "churn", "--yes"),
    ]
    for args in writes:
        result = mlcli(guarded.url, *args, **as_bob, cwd=tmp_path)
        if args[:2] == ("log", "batch"):
            result = subprocess.run(
                [sys.executable, "-m", "mlcli", "--store", guarded.url, *args],
                input='{"metric": "m", "value": 1}\n',
                env={**os.environ, **as_bob, "MLCLI_HTTP_RETRIES": "0"},
                capture_output=True,
                text=True,
                timeout=120,
            )
        line = one_line_error(result)
        assert result.returncode == 1, (args, line)
        assert f"permission denied by the server at {guarded.url}" in line, (args, line)
        assert "bob" in line, (args, line)
    after = mlcli(guarded.url, "runs", "show", run_id, "--json", **as_bob)
    assert json.loads(after.stdout) == json.loads(before.stdout)
    models_after = mlcli(guarded.url, "models", "show", "churn", "--json", **as_bob)
    assert json.loads(models_after.stdout) == json.loads(models_before.stdout)
    listed = mlcli(guarded.url, "models", "list", "--json", **as_bob)
    assert [m["name"] for m in json.loads(listed.stdout)] == ["churn"]
    listed = mlcli(guarded.url, "experiments", "list", "--json", **as_bob)
    assert [e["name"] for e in json.loads(listed.stdout) if e["name"] != "Default"] == ["team"]


def test_a_token_revoked_mid_session_is_one_line(
    guarded: TrackingServer, users: Path, cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mlcli.store import ServerStore
    from mlcli.store.rest.connection import AccessDenied

    token = cli("auth", "tokens", "create", "root", "--label", "t", "--auth-db", str(users))
    monkeypatch.setenv("MLCLI_TRACKING_TOKEN", token.stdout.strip())
    monkeypatch.setenv("MLCLI_HTTP_RETRIES", "0")
    store = ServerStore(guarded.url)
    store.check()
    listed = cli("auth", "tokens", "list", "root", "--json", "--auth-db", str(users))
    token_id = json.loads(listed.stdout)[0]["id"]
    assert cli("auth", "tokens", "revoke", str(token_id), "--auth-db", str(users)).exit_code == 0
    with pytest.raises(AccessDenied) as refused:
        store.check()
    message = str(refused.value)
    assert "\n" not in message and "refused the credentials (MLCLI_TRACKING_TOKEN)" in message
    assert token.stdout.strip() not in message


# -- concurrency -----------------------------------------------------------------------------------


def test_four_processes_logging_to_one_run_at_once(
    served_store: TrackingServer, tmp_path: Path
) -> None:
    run_id = mlcli(served_store.url, "runs", "create", "-q").stdout.strip()
    # two write point by point (a request each), two through the fluent API's buffer
    script = (
        "import sys\n"
        "import mlcli\n"
        "from mlcli.tracking.client import TrackingClient\n"
        "client = TrackingClient(sys.argv[1])\n"
        "w = int(sys.argv[3])\n"
        "if w < 2:\n"
        "    for step in range(200):\n"
        "        client.log_metric(sys.argv[2], f'w{w}', step + w * 1000, step=step)\n"
        "    client.log_metric(sys.argv[2], 'shared', w, step=0)\n"
        "else:\n"
        "    mlcli.set_tracking_uri(sys.argv[1])\n"
        "    with mlcli.start_run(run_id=sys.argv[2]):\n"
        "        for step in range(3000):\n"
        "            mlcli.log_metric(f'w{w}', step + w * 1000, step=step)\n"
        "        mlcli.log_metric('shared', w, step=0)\n"
        "client.log_param(sys.argv[2], f'p{w}', str(w))\n"
    )
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", script, served_store.url, run_id, str(w)],
            stderr=subprocess.PIPE,
            text=True,
        )
        for w in range(4)
    ]
    for process in processes:
        _, err = process.communicate(timeout=300)
        assert process.returncode == 0, err
    from mlcli.store import ServerStore

    store = ServerStore(served_store.url)
    run = store.get_run(run_id)
    assert run.data.params == {f"p{w}": str(w) for w in range(4)}
    for w in range(4):
        history = store.runs.read_metric_history(run_id, f"w{w}")
        steps = 200 if w < 2 else 3000
        assert sorted(m.value for m in history) == [float(s + w * 1000) for s in range(steps)]
    shared = store.runs.read_metric_history(run_id, "shared")
    assert sorted(m.value for m in shared) == [0.0, 1.0, 2.0, 3.0]


def test_a_redirect_is_one_line_naming_where_it_leads(
    canned: Callable[..., CannedServer],
) -> None:
    moved = (301, b"", "text/plain")
    server = canned({"/": moved})

    class Redirecting(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            self.send_response(308)
            self.send_header("Location", "https://bob:hunter2@elsewhere.example" + self.path)
            self.send_header("Content-Length", "0")
            self.end_headers()

    server.server.RequestHandlerClass = Redirecting
    line = one_line_error(mlcli(server.url, "runs", "list"))
    assert "redirects POST /api/2.0/mlflow/experiments/search to https://elsewhere.example/" in line
    assert "hunter2" not in line


def test_a_server_on_ipv6_loopback(tmp_path: Path) -> None:
    import re
    import time

    if not socket.has_ipv6:
        pytest.skip("no IPv6")
    log = tmp_path / "server.log"
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("MLCLI_", "MLFLOW_"))}
    environ["MLCLI_STORE"] = str(tmp_path / ".mlruns")
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "mlcli", "server", "--host", "::1", "--port", "0"],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=environ,
        )
    try:
        found = None
        for _ in range(600):
            found = re.search(r"on (http://\[::1\]:\d+) \(", log.read_text())
            if found or process.poll() is not None:
                break
            time.sleep(0.1)
        if found is None:
            pytest.skip(f"mlcli server cannot listen on [::1]: {log.read_text()[-300:]}")
        url = found[1]
        env = {"XDG_CACHE_HOME": str(tmp_path / "cache")}
        run_id = mlcli(url, "runs", "create", "-q", **env).stdout.strip()
        (tmp_path / "f.txt").write_text("six")
        logged = mlcli(url, "log", "artifact", str(tmp_path / "f.txt"), "--run", run_id, **env)
        assert logged.returncode == 0, logged.stderr
        shown = mlcli(url + "/", "runs", "artifacts", run_id, "--json", **env)
        assert shown.returncode == 0, shown.stderr
        assert [e["path"] for e in json.loads(shown.stdout)] == ["f.txt"]
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_a_cached_artifact_replaced_on_the_server_or_cut_short_is_fetched_again(
    served_store: TrackingServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As against a local store, a reader sees what another client wrote last."""
    from mlcli.store import ServerStore

    run_id = mlcli(served_store.url, "runs", "create", "-q").stdout.strip()
    source = tmp_path / "s.txt"
    source.write_text("v1")
    assert mlcli(served_store.url, "log", "artifact", str(source), "--run", run_id).returncode == 0
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "reader"))
    reader = ServerStore(served_store.url).artifacts(run_id)
    assert reader.resolve("s.txt").read_text() == "v1"
    source.write_text("version two")  # another client (its own cache) replaces the file
    again = mlcli(
        served_store.url, "log", "artifact", str(source), "--run", run_id,
        XDG_CACHE_HOME=str(tmp_path / "writer"),
    )  # fmt: skip
    assert again.returncode == 0, again.stderr
    assert reader.resolve("s.txt").read_text() == "version two"
    reader.resolve("s.txt").write_text("vers")  # a copy cut short
    assert reader.resolve("s.txt").read_text() == "version two"


def test_a_registered_model_download_cut_short_is_one_line_and_never_cached(
    canned: Callable[..., CannedServer], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mlcli import MlcliClient
    from mlcli.store.rest.connection import ServerUnavailable

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("MLCLI_HTTP_RETRIES", "0")
    version = {
        "name": "m", "version": "1", "status": "READY", "current_stage": "None",
        "creation_timestamp": 5, "source": "x",
    }  # fmt: skip
    server = canned(
        {
            "/api/2.0/mlflow/experiments/search": (200, b'{"experiments": []}', JSON),
            "/api/2.0/mlflow/model-versions/get": (
                200,
                json.dumps({"model_version": version}).encode(),
                JSON,
            ),
            "/api/2.0/mlflow-artifacts/artifacts": (
                200,
                b'{"files": [{"path": "weights.bin", "is_dir": false, "file_size": 1000}]}',
                JSON,
            ),
            "/api/2.0/mlflow-artifacts/artifacts/": (200, b"w" * 10, "text/plain", 1000),
        }
    )

    registry = MlcliClient(server.url).registry()
    with pytest.raises(ServerUnavailable, match="was cut short"):
        registry.artifacts_path("m", 1)
    cache = tmp_path / "cache"
    assert not [p for p in cache.rglob("*") if p.is_file()]
    assert not [p for p in cache.rglob("versions/*") if p.is_dir()]


def test_a_tag_set_back_to_an_earlier_value_is_written(served_store: TrackingServer) -> None:
    """Batches are named to be written once when resent; a tag set to a, b, then a again
    is three writes, as against a local store, and ends as a."""
    run_id = mlcli(served_store.url, "runs", "create", "-q").stdout.strip()
    for value in ("a", "b", "a"):
        assert (
            mlcli(served_store.url, "log", "tag", "stage", value, "--run", run_id).returncode == 0
        )
    shown = mlcli(served_store.url, "runs", "show", run_id, "--json")
    assert json.loads(shown.stdout)["tags"]["stage"] == "a"
