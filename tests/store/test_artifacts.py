"""Artifacts: files and folders copied in, listed, downloaded; no path escapes the run."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from mlcli.errors import InvalidInputError, NotFoundError
from mlcli.store.artifacts import ArtifactRepository


@pytest.fixture
def repo(tmp_path: Path) -> ArtifactRepository:
    root = tmp_path / "run" / "artifacts"
    root.mkdir(parents=True)
    return ArtifactRepository(root)


def test_file_and_directory_round_trip(repo: ArtifactRepository, tmp_path: Path) -> None:
    source = tmp_path / "src"
    (source / "sub").mkdir(parents=True)
    (source / "a.txt").write_text("A")
    (source / "sub" / "b.txt").write_text("BB")
    single = tmp_path / "notes.md"
    single.write_text("hello")
    assert repo.log_file(single, "docs") == "docs/notes.md"
    assert repo.log_dir(source, "data") == ["data/a.txt", "data/sub/b.txt"]
    listing = repo.list()
    assert [(f.path, f.is_dir) for f in listing] == [("data", True), ("docs", True)]
    assert [(f.path, f.file_size) for f in repo.list("data")] == [
        ("data/sub", None),
        ("data/a.txt", 1),
    ]
    target = repo.download("data", tmp_path / "out")
    assert (target / "sub" / "b.txt").read_text() == "BB"


@pytest.mark.parametrize("bad", ["../x", "a/../../x", "/etc", "..", "a/..", "C:/x"])
def test_paths_that_escape_are_refused(repo: ArtifactRepository, tmp_path: Path, bad: str) -> None:
    source = tmp_path / "f.txt"
    source.write_text("x")
    with pytest.raises(InvalidInputError):
        repo.log_file(source, bad)
    assert not (tmp_path / "x").exists()


def test_symlinks_cannot_lead_outside(repo: ArtifactRepository, tmp_path: Path) -> None:
    outside = tmp_path / "secret"
    outside.mkdir()
    (outside / "key").write_text("s3cret")
    os.symlink(outside, repo.root / "link")
    with pytest.raises(InvalidInputError, match="escapes"):
        repo.resolve("link/key")
    source = tmp_path / "f.txt"
    source.write_text("x")
    with pytest.raises(InvalidInputError):
        repo.log_file(source, "link")
    assert sorted(os.listdir(outside)) == ["key"]


def test_missing_sources_and_artifacts(repo: ArtifactRepository, tmp_path: Path) -> None:
    with pytest.raises(NotFoundError):
        repo.log_file(tmp_path / "absent")
    with pytest.raises(NotFoundError):
        repo.download("absent", tmp_path)
    with pytest.raises(NotFoundError, match="no artifact 'absent'"):
        repo.list("absent")


def test_write_bytes_is_atomic_and_nested(repo: ArtifactRepository) -> None:
    assert repo.write_bytes("a/b/c.json", b"{}") == "a/b/c.json"
    assert (repo.root / "a" / "b" / "c.json").read_bytes() == b"{}"
    assert [f.path for f in repo.list_all()] == ["a/b/c.json"]
