"""``mlcli push``, ``mlcli pull`` and ``mlcli clone`` as a user runs them, in subprocesses,
against a folder remote and moto's S3 server: their summaries, ``--json``, ``--dry-run``,
every selection, and every refusal as one line with its exit code."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from s3servers import S3Server, free_ports

Mlcli = Callable[..., subprocess.CompletedProcess[str]]
REPORT_KEYS = {
    "direction",
    "remote",
    "dry_run",
    "runs",
    "experiments",
    "models",
    "objects",
    "bytes",
    "conflicts",
    "notices",
}


@pytest.fixture(params=["directory", "moto"])
def remote_url(request: pytest.FixtureRequest, tmp_path: Path, s3_env) -> str:
    """An empty remote: a folder, or a prefix of a fresh bucket on moto's server (the
    variables pointing boto3 at it are in this test's environment, so every mlcli
    process the test starts sees them)."""
    if request.param == "directory":
        return str(tmp_path / "remote")
    server: S3Server = request.getfixturevalue("moto_server")
    s3_env(server)
    return f"s3://{server.new_bucket()}/team"


@pytest.fixture
def mlcli(mlcli_process, workdir: Path) -> Mlcli:
    """``mlcli("push", ...)`` in the working directory (another with ``cwd=``)."""

    def run(*args: str, cwd: Path | None = None, check: bool = True, **kw: Any) -> Any:
        return mlcli_process(*args, cwd=cwd or workdir, check=check, **kw)

    return run


def new_run(mlcli: Mlcli, experiment: str, lr: str = "0.1", cwd: Path | None = None) -> str:
    """A finished run in ``experiment`` with the param ``lr``; its full id."""
    run_id = mlcli("runs", "create", "-x", experiment, "-q", cwd=cwd).stdout.strip()
    mlcli("log", "param", "lr", lr, "--run", run_id, cwd=cwd)
    mlcli("log", "metric", "acc", "0.9", "--run", run_id, cwd=cwd)
    mlcli("runs", "end", run_id, cwd=cwd)
    return run_id


def register(mlcli: Mlcli, run_id: str, name: str, tmp_path: Path) -> None:
    """Log a tiny model folder to ``run_id`` and register it as the next version of ``name``."""
    model = tmp_path / f"model-{run_id}"
    model.mkdir()
    (model / "MLmodel").write_text("flavors: {}\n")
    (model / "weights.bin").write_bytes(run_id.encode())
    mlcli("log", "artifact", str(model), "--artifact-path", "model", "--run", run_id)
    mlcli("register", f"runs:/{run_id}/model", "--name", name, "-q")


def report(result: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(result.stdout)
    assert set(data) == REPORT_KEYS
    return data


def refusal(result: subprocess.CompletedProcess[str], code: int) -> str:
    """The one line a refused command printed, after checking its exit code."""
    assert result.returncode == code, result.stderr
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    assert result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith("mlcli: error: "), result.stderr
    return result.stderr


def test_push_clone_pull_round_trip(
    mlcli: Mlcli, workdir: Path, tmp_path: Path, remote_url: str
) -> None:
    churn = new_run(mlcli, "churn")
    vision = new_run(mlcli, "vision")
    mlcli("remote", "add", "origin", remote_url)

    pushed = mlcli("push")
    assert pushed.stdout.splitlines() == sorted([churn, vision])  # ids only: no progress
    assert pushed.stderr.startswith("Pushed 2 run(s), 3 experiment(s), 0 model(s) (")
    assert pushed.stderr.rstrip().endswith(f"to {remote_url}")
    again = mlcli("push")
    assert (again.stdout, again.stderr) == ("", f"Everything up to date with {remote_url}\n")
    nothing = report(mlcli("push", "--json"))
    assert (nothing["runs"], nothing["objects"], nothing["bytes"]) == ([], 0, 0)
    assert nothing["direction"] == "push" and nothing["remote"] == remote_url

    cloned = mlcli("clone", remote_url, str(tmp_path / "bob"), "--json", cwd=tmp_path)
    clone_report = json.loads(cloned.stdout)
    assert clone_report["store"] == str(tmp_path / "bob" / ".mlruns")
    assert sorted(clone_report["runs"]) == sorted([churn, vision])
    assert set(clone_report["experiments"]) >= {"churn", "vision"}
    bob = tmp_path / "bob"
    runs = json.loads(mlcli("runs", "list", "--json", cwd=bob).stdout)
    assert sorted(r["run_id"] for r in runs) == sorted([churn, vision])
    assert json.loads(mlcli("remote", "list", "--json", cwd=bob).stdout) == [
        {"name": "origin", "url": remote_url, "default": True}
    ]

    later = new_run(mlcli, "churn", lr="0.2", cwd=bob)
    assert mlcli("push", cwd=bob).stdout.splitlines() == [later]
    pulled = mlcli("pull")
    assert pulled.stdout.splitlines() == [later]
    assert pulled.stderr.startswith("Pulled 1 run(s)")
    assert pulled.stderr.rstrip().endswith(f"from {remote_url}")
    assert mlcli("pull").stderr == f"Everything up to date with {remote_url}\n"
    shown = json.loads(mlcli("runs", "show", later, "--json").stdout)
    assert shown["params"] == {"lr": "0.2"}


def test_dry_run_moves_nothing(mlcli: Mlcli, tmp_path: Path, remote_url: str) -> None:
    run_id = new_run(mlcli, "churn")
    mlcli("remote", "add", "origin", remote_url)
    would = mlcli("push", "--dry-run")
    assert would.stdout.splitlines() == [run_id]
    assert would.stderr.startswith("Would have pushed 1 run(s)")
    assert report(mlcli("push", "--dry-run", "--json"))["dry_run"] is True
    # nothing reached the remote: a clone finds no store there, and a real push moves all
    assert mlcli("push").stdout.splitlines() == [run_id]

    mlcli("clone", remote_url, str(tmp_path / "bob"), cwd=tmp_path)
    bob = tmp_path / "bob"
    other = new_run(mlcli, "churn", cwd=bob)
    mlcli("push", cwd=bob)
    dry = mlcli("pull", "--dry-run")
    assert dry.stdout.splitlines() == [other]
    assert dry.stderr.startswith("Would have pulled 1 run(s)")
    listed = json.loads(mlcli("runs", "list", "--json").stdout)
    assert [r["run_id"] for r in listed] == [run_id]
    assert mlcli("pull").stdout.splitlines() == [other]


def test_push_selection(mlcli: Mlcli, workdir: Path, tmp_path: Path, remote_url: str) -> None:
    churn_a = new_run(mlcli, "churn", lr="0.1")
    churn_b = new_run(mlcli, "churn", lr="0.5")
    vision = new_run(mlcli, "vision", lr="0.1")
    register(mlcli, vision, "detector", tmp_path)
    register(mlcli, churn_a, "churner", tmp_path)
    mlcli("remote", "add", "origin", remote_url)

    def pushed(*args: str) -> dict[str, Any]:
        return report(mlcli("push", "--dry-run", "--json", *args))

    only_churn = pushed("-x", "churn")
    assert sorted(only_churn["runs"]) == sorted([churn_a, churn_b])
    assert only_churn["models"] == []
    assert sorted(pushed("--experiment", "churn", "-x", "vision")["runs"]) == sorted(
        [churn_a, churn_b, vision]
    )
    assert sorted(pushed("--filter", "params.lr = '0.1'")["runs"]) == sorted([churn_a, vision])
    assert pushed("-x", "churn", "--filter", "params.lr = '0.1'")["runs"] == [churn_a]
    assert pushed("--run", churn_b[:8])["runs"] == [churn_b]
    registry = pushed("--models")
    assert (registry["runs"], sorted(registry["models"])) == ([], ["churner", "detector"])
    one_model = pushed("--model", "detector")
    assert (one_model["runs"], one_model["models"]) == ([], ["detector"])
    everything = pushed()
    assert sorted(everything["runs"]) == sorted([churn_a, churn_b, vision])
    assert sorted(everything["models"]) == ["churner", "detector"]

    # a real, selected push moves only what was selected
    assert mlcli("push", "-x", "vision").stdout.splitlines() == [vision]
    left = report(mlcli("push", "--json"))
    assert sorted(left["runs"]) == sorted([churn_a, churn_b])


def test_pull_selection(mlcli: Mlcli, tmp_path: Path, remote_url: str) -> None:
    churn = new_run(mlcli, "churn")
    vision = new_run(mlcli, "vision")
    register(mlcli, vision, "detector", tmp_path)
    mlcli("remote", "add", "origin", remote_url)
    mlcli("push")
    bob = tmp_path / "bob"
    bob.mkdir()
    mlcli("init", cwd=bob)
    mlcli("remote", "add", "team", remote_url, cwd=bob)

    def pulled(*args: str) -> dict[str, Any]:
        return report(mlcli("pull", "--dry-run", "--json", *args, cwd=bob))

    assert pulled("-x", "churn")["runs"] == [churn]
    assert pulled("--run", vision)["runs"] == [vision]
    registry = pulled("--models")
    assert (registry["runs"], registry["models"]) == ([], ["detector"])
    assert pulled("--model", "detector")["models"] == ["detector"]

    assert mlcli("pull", "team", "--experiment", "vision", cwd=bob).stdout.splitlines() == [vision]
    listed = json.loads(mlcli("runs", "list", "--json", cwd=bob).stdout)
    assert [r["run_id"] for r in listed] == [vision]
    # a partial pull leaves the cursor: the next full pull still brings the rest
    assert mlcli("pull", cwd=bob).stdout.splitlines() == [churn]
    models = json.loads(mlcli("models", "list", "--json", cwd=bob).stdout)
    assert [m["name"] for m in models] == ["detector"]


# --- refusals: one line, an exit code, never a traceback


def test_unknown_and_missing_remotes(mlcli: Mlcli, workdir: Path) -> None:
    new_run(mlcli, "churn")
    assert "no remote named 'nope'" in refusal(mlcli("push", "nope", check=False), 2)
    assert "no remote named 'nope'" in refusal(mlcli("pull", "nope", check=False), 2)
    assert "no default remote" in refusal(mlcli("push", check=False), 2)
    assert "no default remote" in refusal(mlcli("pull", check=False), 2)


def test_pull_refuses_a_filter(mlcli: Mlcli, workdir: Path, remote_url: str) -> None:
    mlcli("remote", "add", "origin", remote_url)
    line = refusal(mlcli("pull", "--filter", "params.lr = '0.1'", check=False), 2)
    assert "--filter" in line


def test_clone_refuses_an_existing_store(mlcli: Mlcli, tmp_path: Path, remote_url: str) -> None:
    new_run(mlcli, "churn")
    mlcli("remote", "add", "origin", remote_url)
    mlcli("push")
    mlcli("clone", remote_url, "copy", cwd=tmp_path)
    line = refusal(mlcli("clone", remote_url, "copy", check=False, cwd=tmp_path), 2)
    assert line == (
        f"mlcli: error: {tmp_path / 'copy' / '.mlruns'} already exists: "
        "clone into a new directory\n"
    )


def test_unreachable_endpoint(
    mlcli: Mlcli,
    workdir: Path,
    monkeypatch: pytest.MonkeyPatch,
    s3_env,
) -> None:
    closed = free_ports(1)[0]
    s3_env(S3Server("closed", f"http://127.0.0.1:{closed}", "test", "test"))
    new_run(mlcli, "churn")
    mlcli("remote", "add", "origin", "s3://team-bucket/mlcli")
    line = refusal(mlcli("push", check=False), 1)
    assert "s3://team-bucket" in line or "127.0.0.1" in line, line


_WITHOUT_BOTO3 = """
import sys

class NoBoto:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("boto3", "botocore"):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None

sys.meta_path.insert(0, NoBoto())
sys.argv = ["mlcli", *sys.argv[1:]]
from mlcli.cli.main import main
main()
"""


def test_s3_extra_missing(mlcli: Mlcli, workdir: Path) -> None:
    """Without boto3 (the ``s3`` extra), an s3:// remote is one line naming the extra."""
    new_run(mlcli, "churn")
    mlcli("remote", "add", "origin", "s3://team-bucket/mlcli")
    for command in (["push"], ["pull"], ["clone", "s3://team-bucket/mlcli", "copy"]):
        result = subprocess.run(
            [sys.executable, "-c", _WITHOUT_BOTO3, *command],
            cwd=workdir,
            env=dict(os.environ),
            capture_output=True,
            text=True,
            timeout=120,
        )
        line = refusal(result, 2)
        assert "mlcli[s3]" in line, line
    assert not (workdir / "copy").exists()


def test_damaged_manifest_on_the_remote(mlcli: Mlcli, tmp_path: Path, remote_url: str) -> None:
    from mlcli.objects import open_objects
    from mlcli.store.sync.keys import run_manifest_key

    run_id = new_run(mlcli, "churn")
    mlcli("remote", "add", "origin", remote_url)
    mlcli("push")
    open_objects(remote_url).put(run_manifest_key(run_id), b"{not json")
    result = mlcli("clone", remote_url, str(tmp_path / "bob"), check=False, cwd=tmp_path)
    assert "Traceback" not in result.stderr
    assert result.returncode == 1, result.stderr
    assert result.stderr.count("\n") == 1, result.stderr
    assert "manifest" in result.stderr and run_id in result.stderr, result.stderr
