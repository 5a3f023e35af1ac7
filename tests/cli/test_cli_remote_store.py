"""Every kind of command on a store on object storage (``--store s3://bucket/prefix``,
``MLCLI_STORE``, a remote's name), through the local mirror, against moto's S3 server.

Two users (or hosts) are two cache folders (``XDG_CACHE_HOME``): each has its own
mirror, and what one writes the other sees."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from s3servers import S3Server

Mlcli = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def store_url(moto_server: S3Server, s3_env) -> str:
    """A prefix of a fresh bucket on moto's server, boto3 pointed at it."""
    s3_env(moto_server)
    return f"s3://{moto_server.new_bucket()}/team/mlruns"


@pytest.fixture
def user(mlcli_process, tmp_path: Path) -> Callable[[str], Mlcli]:
    """``user("alice")("runs", "list", ...)``: mlcli as that user, whose own cache (and
    so own mirror and index) is a folder of this test; it runs in a folder with no
    store, so only ``--store``/``MLCLI_STORE`` name one."""

    def as_user(name: str) -> Mlcli:
        home = tmp_path / name
        (home / "work").mkdir(parents=True, exist_ok=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith("MLCLI_")}
        env["MLCLI_DATA_DIR"] = os.environ["MLCLI_DATA_DIR"]
        env["XDG_CACHE_HOME"] = str(home / "cache")

        def run(*args: str, check: bool = True, cwd: Path | None = None, **extra: str) -> Any:
            return mlcli_process(*args, cwd=cwd or home / "work", env={**env, **extra}, check=check)

        return run

    return as_user


def run_ids(result: subprocess.CompletedProcess[str]) -> list[str]:
    return sorted(r["run_id"] for r in json.loads(result.stdout))


def test_every_kind_of_command(user, store_url: str, tmp_path: Path) -> None:
    alice = user("alice")
    store = ["--store", store_url]
    first = alice(*store, "runs", "create", "-x", "churn", "-n", "base", "-q").stdout.strip()
    second = alice(*store, "runs", "create", "-x", "churn", "-n", "wide", "-q").stdout.strip()
    for run_id, lr, acc in ((first, "0.1", "0.8"), (second, "0.5", "0.9")):
        alice(*store, "log", "param", "lr", lr, "--run", run_id)
        alice(*store, "log", "metric", "acc", acc, "--run", run_id)
        alice(*store, "log", "tag", "owner", "alice", "--run", run_id)
    model = tmp_path / "model"
    model.mkdir()
    (model / "MLmodel").write_text("flavors: {}\n")
    alice(*store, "log", "artifact", str(model), "-a", "model", "--run", second)
    alice(*store, "runs", "end", first)
    alice(*store, "runs", "end", second)

    assert run_ids(alice(*store, "runs", "list", "--json")) == sorted([first, second])
    compared = alice(*store, "compare", first, second).stdout
    assert first[:8] in compared and second[:8] in compared
    best = alice(*store, "select", "--max", "metrics.acc", "--experiment", "churn")
    assert best.stdout.strip() == second
    assert "lr" in alice(*store, "diff", first, second).stdout
    assert alice(*store, "register", f"runs:/{second}/model", "--name", "churner", "-q").stdout == (
        "1\n"
    )
    alice(*store, "promote", "churner", "1", "--alias", "champion")
    models = json.loads(alice(*store, "models", "list", "--json").stdout)
    assert [m["name"] for m in models] == ["churner"]

    # bob, on another host: his own cache, the same bucket
    bob = user("bob")
    assert run_ids(bob(*store, "runs", "list", "--json")) == sorted([first, second])
    shown = json.loads(bob(*store, "runs", "show", second, "--json").stdout)
    assert (shown["params"], shown["tags"]["owner"]) == ({"lr": "0.5"}, "alice")
    assert "champion" in bob(*store, "models", "show", "churner", "--json").stdout
    # and what bob writes, alice sees
    bob(*store, "log", "tag", "reviewed", "bob", "--run", first)
    again = json.loads(alice(*store, "runs", "show", first, "--json").stdout)
    assert again["tags"]["reviewed"] == "bob"


def test_mlcli_store_and_a_remote_name(user, store_url: str, tmp_path: Path) -> None:
    alice = user("alice")
    run_id = alice("runs", "create", "-x", "nlp", "-q", MLCLI_STORE=store_url).stdout.strip()
    alice("runs", "end", run_id, MLCLI_STORE=store_url)

    bob = user("bob")
    bob("init")  # bob's own store, with the bucket as a remote
    bob("remote", "add", "team", store_url)
    assert run_ids(bob("--store", "team", "runs", "list", "--json")) == [run_id]
    assert run_ids(bob("runs", "list", "--json", MLCLI_STORE="team")) == [run_id]
    # bob's own store is untouched: the name chose the remote, not the store it is in
    assert run_ids(bob("runs", "list", "--json")) == []


def test_mlcli_run_of_a_project(user, store_url: str, tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / "MLproject").write_text(
        textwrap.dedent(
            """\
            name: tiny
            entry_points:
              main:
                parameters:
                  alpha: {type: float, default: 0.5}
                command: "python train.py {alpha}"
            """
        )
    )
    (project / "train.py").write_text(
        textwrap.dedent(
            """\
            import sys
            import mlcli

            with mlcli.start_run():
                mlcli.log_metric("score", float(sys.argv[1]) * 2)
            """
        )
    )
    alice = user("alice")
    alice("--store", store_url, "run", str(project), "-P", "alpha=0.25", "--env-manager", "local")
    runs = json.loads(user("bob")("--store", store_url, "runs", "list", "--json").stdout)
    assert len(runs) == 1
    shown = user("bob")("--store", store_url, "runs", "show", runs[0]["run_id"], "--json")
    data = json.loads(shown.stdout)
    assert (data["status"], data["params"]["alpha"], data["metrics"]["score"]) == (
        "FINISHED",
        "0.25",
        0.5,
    )


def test_python_api(user, store_url: str, tmp_path: Path) -> None:
    script = textwrap.dedent(
        """\
        import mlcli

        mlcli.set_experiment("api")
        with mlcli.start_run(run_name="from-python") as run:
            mlcli.log_param("depth", 3)
            mlcli.log_metrics({"loss": 0.25, "acc": 0.75})
        print(run.info.run_id)
        """
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLCLI_")}
    env.update(
        MLCLI_DATA_DIR=os.environ["MLCLI_DATA_DIR"],
        MLCLI_STORE=store_url,
        XDG_CACHE_HOME=str(tmp_path / "alice-cache"),
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    run_id = result.stdout.strip()
    shown = json.loads(user("bob")("--store", store_url, "runs", "show", run_id, "--json").stdout)
    assert (shown["run_name"], shown["params"], shown["metrics"]) == (
        "from-python",
        {"depth": "3"},
        {"loss": 0.25, "acc": 0.75},
    )


def test_serve_a_model_from_the_bucket(user, store_url: str, tmp_path: Path) -> None:
    pytest.importorskip("sklearn")
    pytest.importorskip("uvicorn")
    from scoring.servinghelpers import start_server
    from sklearn.linear_model import LinearRegression

    import mlcli.sklearn

    model = LinearRegression().fit([[0.0], [1.0], [2.0]], [1.0, 3.0, 5.0])
    saved = tmp_path / "saved-model"
    mlcli.sklearn.save_model(model, saved)  # records its digests: this user trusts it
    alice = user("alice")
    store = ["--store", store_url]
    run_id = alice(*store, "runs", "create", "-x", "serving", "-q").stdout.strip()
    alice(*store, "log", "artifact", str(saved), "-a", "model", "--run", run_id)
    alice(*store, "runs", "end", run_id)
    alice(*store, "register", f"runs:/{run_id}/model", "--name", "line", "-q")

    server = start_server(
        ["-m", "models:/line/1", "--store", store_url],
        tmp_path / "serve.log",
        {"XDG_CACHE_HOME": str(tmp_path / "server-cache")},
    )
    try:
        reply = server.post({"inputs": [[3.0]]})
        assert reply.status == 200, reply.body
        assert reply.json()["predictions"] == pytest.approx([7.0])
    finally:
        server.stop()
