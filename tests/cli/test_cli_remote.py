"""``mlcli remote`` as a user runs it: every command, its output and its refusals (one
line on stderr, never a traceback), and eight adds at once."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest


@pytest.fixture
def remote(mlcli_process, store_root: Path):
    """``remote("add", "origin", URL)`` runs ``mlcli remote add origin URL`` in the
    store's folder; ``check=False`` returns a failure instead of raising."""

    def run(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return mlcli_process("remote", *args, cwd=store_root.parent, check=check)

    return run


def refusal(result: subprocess.CompletedProcess[str], code: int) -> str:
    """The one line a refused command printed, after checking its exit code."""
    assert result.returncode == code, result.stderr
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    assert result.stderr.count("\n") == 1, result.stderr
    return result.stderr


def test_every_command(remote, store_root: Path) -> None:
    added = remote("add", "origin", "s3://team-bucket/mlcli/")
    assert added.stderr == "Added remote 'origin' (s3://team-bucket/mlcli), the default remote\n"
    remote("add", "nas", "../nas", "--default")
    nas = str(store_root.parent.parent / "nas")
    assert [line.split() for line in remote("list").stdout.splitlines()] == [
        ["NAME", "URL", "DEFAULT"],
        ["origin", "s3://team-bucket/mlcli"],
        ["nas", nas, "*"],
    ]
    assert remote("list", "-q").stdout == "origin\nnas\n"

    remote("rename", "nas", "shared")
    remote("set-url", "origin", "file:///srv/team")
    remote("set-default", "origin")
    assert json.loads(remote("list", "--json").stdout) == [
        {"name": "origin", "url": "file:///srv/team", "default": True},
        {"name": "shared", "url": nas, "default": False},
    ]

    removed = remote("remove", "origin")
    assert removed.stderr == (
        "Removed remote 'origin' (file:///srv/team)\n"
        "It was the default: there is none now (mlcli remote set-default NAME)\n"
    )
    assert json.loads(remote("list", "--json").stdout) == [
        {"name": "shared", "url": nas, "default": False}
    ]
    assert remote("remove", "shared", "-q").stderr == ""
    empty = remote("list")
    assert (empty.stdout, empty.stderr) == (
        "",
        "No remotes (mlcli remote add origin s3://bucket/prefix adds one)\n",
    )
    assert remote("list", "--json").stdout == "[]\n"


REFUSED = [
    (["add", ".hidden", "/srv/x"], "invalid remote name '.hidden'"),
    (["add", "a/b", "/srv/x"], "invalid remote name 'a/b'"),
    (["add", "team", "http://127.0.0.1:5010"], "team servers as remotes are not supported"),
    (["add", "team", "ssh://host/srv"], "unsupported remote URL 'ssh://host/srv'"),
    (["add", "team", "s3://Bad_Bucket"], "'Bad_Bucket' is not an S3 bucket name"),
    (["add", "origin", "/srv/other"], "a remote named 'origin' exists already"),
    (["rename", "origin", "nas"], "a remote named 'nas' exists already"),
    (["rename", "origin", "o p"], "invalid remote name 'o p'"),
    (["remove", "nope"], "no remote named 'nope' (mlcli remote list shows them)"),
    (["rename", "nope", "x"], "no remote named 'nope'"),
    (["set-url", "nope", "/srv/x"], "no remote named 'nope'"),
    (["set-url", "origin", "gs://bucket"], "unsupported remote URL 'gs://bucket'"),
    (["set-default", "nope"], "no remote named 'nope'"),
]


def test_refusals_are_one_line_and_change_nothing(remote, store_root: Path) -> None:
    remote("add", "origin", "s3://team-bucket")
    remote("add", "nas", "/srv/nas")
    before = (store_root / "config").read_text()
    for args, message in REFUSED:
        assert message in refusal(remote(*args, check=False), 2), args
    assert (store_root / "config").read_text() == before


def test_a_malformed_config_file_is_named_and_left_untouched(remote, store_root: Path) -> None:
    config = store_root / "config"
    text = '[remote "origin"]\nurl = s3://team-bucket\nthis is not a setting\n'
    config.write_text(text)
    for args in (["list"], ["add", "nas", "/srv/nas"], ["remove", "origin"]):
        message = refusal(remote(*args, check=False), 1)
        assert message.startswith(f"mlcli: error: malformed config file {config}, line 3: ")
    assert config.read_text() == text


def test_unknown_sections_and_keys_survive_the_commands(remote, store_root: Path) -> None:
    config = store_root / "config"
    config.write_text(
        '[user]\nname = Alice\n\n[remote "origin"]\nurl = s3://team-bucket\nworkers = 16\n'
    )
    remote("add", "nas", "/srv/nas", "--default")
    remote("rename", "origin", "team")
    text = config.read_text()
    assert "[user]\nname = Alice\n" in text
    assert '[remote "team"]\nurl = s3://team-bucket\nworkers = 16\n' in text


def test_add_creates_the_store_and_list_needs_one(mlcli_process, workdir: Path) -> None:
    missing = mlcli_process("remote", "list", cwd=workdir, check=False)
    assert "no mlcli store found" in refusal(missing, 1)
    added = mlcli_process("remote", "add", "origin", "s3://team-bucket", cwd=workdir)
    assert added.stderr.startswith(f"mlcli: created a new store at {workdir / '.mlruns'}\n")
    assert "origin" in (workdir / ".mlruns" / "config").read_text()


def test_eight_adds_at_once_all_land(store_root: Path) -> None:
    adders = [
        subprocess.Popen(
            [sys.executable, "-m", "mlcli", "remote", "add", f"r{i}", f"/srv/r{i}"],
            cwd=store_root.parent,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(8)
    ]
    for adder in adders:
        _, stderr = adder.communicate(timeout=120)
        assert adder.returncode == 0, stderr
    listed = subprocess.run(
        [sys.executable, "-m", "mlcli", "remote", "list", "--json"],
        cwd=store_root.parent,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    remotes = json.loads(listed.stdout)
    assert sorted(r["name"] for r in remotes) == [f"r{i}" for i in range(8)]
    assert {r["url"] for r in remotes} == {f"/srv/r{i}" for i in range(8)}
    assert sum(r["default"] for r in remotes) == 1


def test_remote_list_imports_nothing_heavy(store_root: Path, loaded_modules) -> None:
    heavy = {"rich", "yaml", "requests", "urllib3", "pandas", "numpy", "pydantic", "git"}
    assert loaded_modules("remote", "list", "-q", cwd=store_root.parent) & heavy == set()
