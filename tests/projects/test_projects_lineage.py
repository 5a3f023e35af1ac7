"""Git lineage from real repositories: one frozen record, credentials stripped."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from projecthelpers import git, git_repository

from mlcli.projects.lineage import collect_lineage, redact_credentials, strip_credentials


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    (root / "src").mkdir(parents=True)
    (root / "src" / "train.py").write_text("print('v1')\n")
    (root / "README").write_text("readme\n")
    git_repository(root)
    return root


def test_a_clean_repository(repo: Path) -> None:
    lineage = collect_lineage(repo / "src")
    assert lineage is not None
    assert lineage.root == repo
    assert lineage.commit == git(repo, "rev-parse", "HEAD").strip()
    assert lineage.branch == "main"
    assert lineage.repo_url is None
    assert not lineage.dirty and lineage.uncommitted_changes() is None
    assert lineage.tags() == {
        "mlcli.source.git.commit": lineage.commit,
        "mlcli.source.git.branch": "main",
        "mlcli.source.git.dirty": "false",
    }
    with pytest.raises(dataclasses.FrozenInstanceError):
        lineage.dirty = True  # type: ignore[misc]


def test_a_dirty_repository_has_the_diff_and_the_untracked_files(repo: Path) -> None:
    (repo / "src" / "train.py").write_text("print('v2')\n")
    (repo / "README").unlink()
    (repo / "notes.txt").write_text("scratch\n")
    (repo / "data").mkdir()
    (repo / "data" / "new.csv").write_text("x\n")
    lineage = collect_lineage(repo)
    assert lineage is not None and lineage.dirty
    assert lineage.untracked == ("data/", "notes.txt")
    report = lineage.uncommitted_changes()
    assert report is not None
    assert report.startswith(f"# mlcli: uncommitted changes in {repo} against {lineage.commit}")
    assert "#   notes.txt\n#   data/\n" in report or "#   data/\n#   notes.txt\n" in report
    assert "-print('v1')\n+print('v2')" in report
    assert "deleted file mode" in report
    # The artifact applies as a patch onto the commit (git skips the comment header).
    clone = repo.parent / "clone"
    git(repo.parent, "clone", "-q", str(repo), str(clone))
    (clone / "change.diff").write_text(report)
    git(clone, "apply", "change.diff")
    assert (clone / "src" / "train.py").read_text() == "print('v2')\n"
    assert not (clone / "README").exists()


def test_untracked_files_alone_make_it_dirty(repo: Path) -> None:
    (repo / "scratch.py").write_text("x = 1\n")
    lineage = collect_lineage(repo)
    assert lineage is not None and lineage.dirty
    assert lineage.diff == "" and lineage.untracked == ("scratch.py",)


def test_staged_changes_and_renames_count(repo: Path) -> None:
    git(repo, "mv", "README", "README.md")
    lineage = collect_lineage(repo)
    assert lineage is not None and lineage.dirty
    assert "rename from README" in lineage.diff or "README.md" in lineage.diff


def test_ignored_files_do_not_make_it_dirty(repo: Path) -> None:
    (repo / ".gitignore").write_text(".mlruns/\n")
    git(repo, "add", ".gitignore")
    git(repo, "commit", "-q", "-m", "ignore")
    (repo / ".mlruns").mkdir()
    (repo / ".mlruns" / "VERSION").write_text("1\n")
    lineage = collect_lineage(repo)
    assert lineage is not None and not lineage.dirty


def test_a_detached_head_has_no_branch(repo: Path) -> None:
    commit = git(repo, "rev-parse", "HEAD").strip()
    git(repo, "checkout", "-q", "--detach", commit)
    lineage = collect_lineage(repo)
    assert lineage is not None and lineage.branch is None and lineage.commit == commit


def test_a_repository_without_commits(tmp_path: Path) -> None:
    root = tmp_path / "fresh"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    (root / "a.py").write_text("1\n")
    git(root, "add", "a.py")
    lineage = collect_lineage(root)
    assert lineage is not None
    assert lineage.commit is None and lineage.branch == "main" and lineage.dirty
    assert "+1" in lineage.diff
    assert "mlcli.source.git.commit" not in lineage.tags()


def test_the_remote_url_is_recorded_without_credentials(repo: Path) -> None:
    git(repo, "remote", "add", "backup", "https://backup.example.com/r.git")
    git(repo, "remote", "add", "origin", "https://alice:s3cret@git.example.com/team/r.git")
    lineage = collect_lineage(repo)
    assert lineage is not None
    assert lineage.repo_url == "https://git.example.com/team/r.git"
    assert lineage.tags()["mlcli.source.git.repoURL"] == "https://git.example.com/team/r.git"


def test_the_upstream_remote_wins_over_origin(repo: Path) -> None:
    upstream = repo.parent / "upstream.git"
    git(repo.parent, "init", "-q", "--bare", str(upstream))
    git(repo, "remote", "add", "origin", "https://example.com/fork.git")
    git(repo, "remote", "add", "team", str(upstream))
    git(repo, "push", "-q", "team", "main")
    git(repo, "branch", "-q", "--set-upstream-to", "team/main")
    lineage = collect_lineage(repo)
    assert lineage is not None and lineage.repo_url == str(upstream)


def test_outside_git_there_is_no_lineage(tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    assert collect_lineage(plain) is None


def test_a_repository_git_refuses_to_read_has_no_lineage(tmp_path: Path) -> None:
    broken = tmp_path / "broken"
    (broken / ".git").mkdir(parents=True)  # not a repository, though it looks like one
    assert collect_lineage(broken) is None


@pytest.mark.parametrize(
    ("url", "stripped"),
    [
        ("https://user:token@github.com/a/b.git", "https://github.com/a/b.git"),
        ("https://token@github.com/a/b.git", "https://github.com/a/b.git"),
        ("https://u:p@host:8443/r", "https://host:8443/r"),
        ("https://github.com/a/b.git", "https://github.com/a/b.git"),
        ("git@github.com:a/b.git", "git@github.com:a/b.git"),
        ("/srv/repos/r", "/srv/repos/r"),
    ],
)
def test_strip_credentials(url: str, stripped: str) -> None:
    assert strip_credentials(url) == stripped


def test_credentials_are_redacted_from_messages() -> None:
    message = "fatal: unable to access 'https://bob:hunter2@example.com/r.git/': 403"
    assert "hunter2" not in redact_credentials(message)
    assert "https://example.com/r.git/" in redact_credentials(message)
