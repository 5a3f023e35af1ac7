"""`mlcli diff` on runs made from different commits of a real git repository."""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest

from mlcli.store import Store

COMMIT_TAG = "mlcli.source.git.commit"


@pytest.fixture
def two_commits(git_repo, add_run, store: Store) -> dict:
    """Run A from the first commit, run B from the second (which changes train.py and
    adds data.py); params, metrics, tags and environment tags differ."""
    first = git_repo({"train.py": "lr = 0.1\nprint('train')\n", "README": "x\n"}, "first")
    second = git_repo(
        {"train.py": "lr = 0.01\nprint('train')\nprint('more')\n", "data.py": "rows = 3\n"},
        "tune the learning rate",
    )
    a = add_run(
        "baseline",
        params={"lr": "0.1", "epochs": "10", "momentum": "0.9"},
        metrics={"acc": 0.8, "loss": 0.5, "old": 1.0},
        tags={COMMIT_TAG: first, "team": "A", "mlcli.python.version": "3.10.1", "keep": "1"},
        start_time=1_000,
    )
    b = add_run(
        "tuned",
        params={"lr": "0.01", "epochs": "10", "dropout": "0.2"},
        metrics={"acc": 0.9, "loss": 0.6, "new": 2.0},
        tags={COMMIT_TAG: second, "team": "B", "mlcli.python.version": "3.11.7", "keep": "1"},
        start_time=2_000,
    )
    return {"a": a, "b": b, "first": first, "second": second, "repo": git_repo.repo}


def test_diff_shows_params_metrics_and_changed_files(cli, two_commits, monkeypatch) -> None:
    monkeypatch.chdir(two_commits["repo"])
    result = cli("diff", two_commits["a"][:8], two_commits["b"][:8])
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    first, second = two_commits["first"][:7], two_commits["second"][:7]
    assert f"Run A  {two_commits['a'][:8]}  baseline  (commit {first})" in out
    assert "~ lr        0.1 → 0.01" in out
    assert "+ dropout   0.2" in out and "- momentum  0.9" in out
    assert "~ acc   0.8 → 0.9  +0.1 (+12.5%)  better" in out
    assert "~ loss  0.5 → 0.6  +0.1 (+20.0%)  worse" in out
    assert "~ team  A → B" in out
    assert re.search(r"\n  ~ mlcli\.python\.version +3\.10\.1 → 3\.11\.7\n", out)
    assert f"1 commit(s) from {first} to {second}:" in out
    assert f"{second} tune the learning rate" in out
    assert "   train.py | 3 ++-\n" in out and "   data.py  | 1 +\n" in out


def test_diff_json(cli, two_commits, monkeypatch) -> None:
    monkeypatch.chdir(two_commits["repo"])
    data = cli("diff", two_commits["a"], two_commits["b"], "--json").json()
    assert data["run_a"] == {
        "run_id": two_commits["a"],
        "run_name": "baseline",
        "experiment_id": "0",
        "git_commit": two_commits["first"],
    }
    assert data["params"] == {
        "added": {"dropout": "0.2"},
        "removed": {"momentum": "0.9"},
        "changed": {"lr": {"a": "0.1", "b": "0.01"}},
    }
    metrics = {m["key"]: m for m in data["metrics"]}
    assert metrics["acc"]["status"] == "changed" and metrics["acc"]["better"] is True
    assert math.isclose(metrics["acc"]["change"], 0.1)
    assert math.isclose(metrics["acc"]["relative_change"], 0.125)
    assert metrics["loss"]["better"] is False
    assert metrics["new"] == {
        "key": "new",
        "a": None,
        "b": 2.0,
        "change": None,
        "relative_change": None,
        "status": "added",
        "better": None,
    }
    assert metrics["old"]["status"] == "removed"
    assert data["tags"]["changed"] == {"team": {"a": "A", "b": "B"}}
    assert "keep" not in data["tags"]["changed"]
    assert data["environment"]["changed"]["mlcli.python.version"] == {
        "a": "3.10.1",
        "b": "3.11.7",
    }
    code = data["code"]
    assert code["repository"] == str(two_commits["repo"].resolve())
    assert code["note"] is None
    assert code["commits"] == [
        {"commit": two_commits["second"], "subject": "tune the learning rate"}
    ]
    assert code["commits_back"] == []
    assert {f["path"]: (f["insertions"], f["deletions"]) for f in code["files"]} == {
        "data.py": (1, 0),
        "train.py": (2, 1),
    }
    assert "2 files changed" in code["stat"]


def test_diff_never_changes_the_repository(cli, two_commits, monkeypatch, run_git) -> None:
    git = run_git
    repo = two_commits["repo"]
    (repo / "train.py").write_text("dirty\n")  # an uncommitted change must survive
    before = (git(repo, "status", "--porcelain"), git(repo, "rev-parse", "HEAD"))
    monkeypatch.chdir(repo)
    assert cli("diff", two_commits["a"], two_commits["b"]).exit_code == 0
    assert (git(repo, "status", "--porcelain"), git(repo, "rev-parse", "HEAD")) == before
    assert not (repo / ".git" / "index.lock").exists()


def test_repository_found_from_the_source_tag(cli, add_run, git_repo, workdir: Path) -> None:
    first = git_repo({"a.py": "1\n"}, "one")
    second = git_repo({"a.py": "2\n"}, "two")
    script = str(git_repo.repo / "a.py")
    a = add_run("a", tags={COMMIT_TAG: first, "mlcli.source.name": script})
    b = add_run("b", tags={COMMIT_TAG: second, "mlcli.source.name": script})
    data = cli("diff", a, b, "--json").json()  # the working directory is outside the repo
    assert data["code"]["repository"] == str(git_repo.repo.resolve())
    assert [f["path"] for f in data["code"]["files"]] == ["a.py"]


def test_repository_given_with_repo_and_reversed_order(cli, two_commits) -> None:
    data = cli(
        "diff", two_commits["b"], two_commits["a"], "--repo", str(two_commits["repo"]), "--json"
    ).json()
    assert data["code"]["commits"] == []
    assert [c["commit"] for c in data["code"]["commits_back"]] == [two_commits["second"]]


def test_commits_in_no_local_repository_are_reported(cli, two_commits, workdir: Path) -> None:
    result = cli("diff", two_commits["a"], two_commits["b"])  # workdir is not in the repo
    assert result.exit_code == 0, result.stderr
    first, second = two_commits["first"][:7], two_commits["second"][:7]
    assert f"commits {first} and {second} are not both in any local git repository" in (
        result.stdout
    )
    assert "~ lr" in result.stdout


def test_runs_without_commits(cli, add_run) -> None:
    a = add_run("a", params={"lr": "0.1"}, metrics={"acc": 0.5})
    b = add_run("b", params={"lr": "0.1"}, metrics={"acc": 0.5}, tags={COMMIT_TAG: "abc"})
    result = cli("diff", a, b)
    assert result.exit_code == 0, result.stderr
    assert "Params: no changes (1 the same)" in result.stdout
    assert "Metrics: no changes (1 the same)" in result.stdout
    assert "only one run recorded a git commit" in result.stdout


def test_uncommitted_changes_recorded_by_a_run(cli, add_run, store: Store) -> None:
    a = add_run("a")
    b = add_run("b")
    patch = (
        "# mlcli: uncommitted changes in /src against abc\n"
        "# Untracked files (their contents are not in this diff):\n"
        "#   notes.txt\n"
        "diff --git a/train.py b/train.py\n--- a/train.py\n+++ b/train.py\n@@ -1 +1 @@\n"
        "-x\n+y\n"
    )
    store.artifacts(b).write_bytes("source/uncommitted.diff", patch.encode())
    result = cli("diff", a, b)
    assert "run B had uncommitted changes: train.py, notes.txt" in result.stdout
    code = cli("diff", a, b, "--json").json()["code"]
    assert code["uncommitted_a"] is None
    assert code["uncommitted_b"]["files"] == ["train.py"]
    assert code["uncommitted_b"]["untracked"] == ["notes.txt"]
    assert code["uncommitted_b"]["text"] == patch


def test_unknown_run(cli, add_run) -> None:
    a = add_run("a")
    result = cli("diff", a, "ffffffff")
    assert result.exit_code == 2 and "no run with an id starting with 'ffffffff'" in result.stderr
