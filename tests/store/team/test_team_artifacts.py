"""A team store's artifacts (``TeamArtifacts``) in a real bucket, on moto's S3 server and
on SeaweedFS: the local store's rules and errors, the keys of a remote, and a private
cache that follows the bucket."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import botocore.exceptions
import pytest

from mlcli.errors import InvalidInputError, NotFoundError, StoreError
from mlcli.files.trees import SkippedFileWarning
from mlcli.objects import ObjectStore, open_objects
from mlcli.objects.s3 import S3Objects
from mlcli.store.backend import Artifacts
from mlcli.store.sync import keys
from mlcli.store.team.artifacts import TeamArtifacts

RUN = "0123456789abcdef0123456789abcdef"
LONG = "a" * 300


@pytest.fixture(params=["moto", "seaweedfs"])
def objects(request: pytest.FixtureRequest, s3_env: Any) -> ObjectStore:
    """A fresh bucket (under a prefix) on each S3 server in turn."""
    server = request.getfixturevalue("moto_server" if request.param == "moto" else "seaweedfs")
    s3_env(server)
    return open_objects(f"s3://{server.new_bucket()}/team")


@pytest.fixture
def repo(objects: ObjectStore, tmp_path: Path) -> TeamArtifacts:
    return TeamArtifacts(objects, RUN, tmp_path / "cache")


def _conforms(repo: TeamArtifacts) -> Artifacts:
    """Where mypy checks that TeamArtifacts is the facade's ``Artifacts``."""
    return repo


def _keys(objects: ObjectStore) -> list[str]:
    return sorted(info.key for info in objects.list(""))


def _artifact(objects: ObjectStore, path: str) -> bytes:
    return objects.get(keys.run_artifact_key(RUN, path))[0]


# -- as the local store: files and folders in, listed, downloaded --------------------------------


def test_file_and_directory_round_trip(
    repo: TeamArtifacts, objects: ObjectStore, tmp_path: Path
) -> None:
    source = tmp_path / "src"
    (source / "sub").mkdir(parents=True)
    (source / "a.txt").write_text("A")
    (source / "sub" / "b.txt").write_text("BB")
    single = tmp_path / "notes.md"
    single.write_text("hello")
    assert repo.log_file(single, "docs") == "docs/notes.md"
    assert repo.log_dir(source, "data") == ["data/a.txt", "data/sub/b.txt"]

    assert _keys(objects) == [  # the layout of a remote: `mlcli pull` finds them there
        f"runs/{RUN}/artifacts/data/a.txt",
        f"runs/{RUN}/artifacts/data/sub/b.txt",
        f"runs/{RUN}/artifacts/docs/notes.md",
    ]
    listing = repo.list()
    assert [(f.path, f.is_dir) for f in listing] == [("data", True), ("docs", True)]
    assert [(f.path, f.file_size) for f in repo.list("data")] == [
        ("data/sub", None),
        ("data/a.txt", 1),
    ]
    assert [(f.path, f.file_size) for f in repo.list("docs/notes.md")] == [("docs/notes.md", 5)]
    assert [f.path for f in repo.list_all()] == ["data/a.txt", "data/sub/b.txt", "docs/notes.md"]
    target = repo.download("data", tmp_path / "out")
    assert target == tmp_path / "out" / "data"
    assert (target / "sub" / "b.txt").read_text() == "BB"
    assert repo.download("docs/notes.md", tmp_path / "one").read_text() == "hello"
    everything = repo.download("", tmp_path / "all")
    assert (everything.name, (everything / "docs" / "notes.md").read_text()) == (
        "artifacts",
        "hello",
    )


def test_names_beside_a_folder_are_told_apart(repo: TeamArtifacts) -> None:
    """``a`` the folder, ``a-b`` and ``a.txt`` beside it (SeaweedFS lists a folder's
    keys where its name sorts, not where ``a/`` does)."""
    repo.write_bytes("a/f.txt", b"1")
    repo.write_bytes("a.txt", b"22")
    repo.write_bytes("a-b/c", b"333")
    assert [(f.path, f.is_dir, f.file_size) for f in repo.list()] == [
        ("a", True, None),
        ("a-b", True, None),
        ("a.txt", False, 2),
    ]
    assert [f.path for f in repo.list("a")] == ["a/f.txt"]
    assert repo.resolve("a.txt").read_bytes() == b"22"
    assert sorted(os.listdir(repo.resolve("a"))) == ["f.txt"]


def test_an_empty_run_lists_nothing(repo: TeamArtifacts, tmp_path: Path) -> None:
    assert (repo.list(), repo.list_all()) == ([], [])
    assert repo.resolve("").is_dir()
    assert list(repo.download("", tmp_path / "out").iterdir()) == []


@pytest.mark.parametrize("bad", ["../x", "a/../../x", "/etc", "..", "a/..", "C:/x"])
def test_paths_that_escape_are_refused(
    repo: TeamArtifacts, objects: ObjectStore, tmp_path: Path, bad: str
) -> None:
    source = tmp_path / "f.txt"
    source.write_text("x")
    with pytest.raises(InvalidInputError):
        repo.log_file(source, bad)
    with pytest.raises(InvalidInputError):
        repo.resolve(bad)
    assert _keys(objects) == []
    assert not (tmp_path / "x").exists()


def test_missing_sources_and_artifacts(repo: TeamArtifacts, tmp_path: Path) -> None:
    with pytest.raises(NotFoundError, match="no such file"):
        repo.log_file(tmp_path / "absent")
    with pytest.raises(NotFoundError, match="no such directory"):
        repo.log_dir(tmp_path / "absent")
    with pytest.raises(NotFoundError, match="no artifact 'absent'"):
        repo.download("absent", tmp_path)
    with pytest.raises(NotFoundError, match="no artifact 'absent'"):
        repo.list("absent")
    with pytest.raises(NotFoundError, match="no artifact 'absent/x'"):
        repo.resolve("absent/x")
    with pytest.raises(NotFoundError, match="nothing was written at artifact 'new'"):
        repo.publish("new")


def test_write_bytes_is_nested(repo: TeamArtifacts, objects: ObjectStore) -> None:
    assert repo.write_bytes("a/b/c.json", b"{}") == "a/b/c.json"
    assert _artifact(objects, "a/b/c.json") == b"{}"
    assert [f.path for f in repo.list_all()] == ["a/b/c.json"]


# -- writes refused as the local store refuses them, before the first upload ---------------------


@pytest.fixture
def filled(repo: TeamArtifacts) -> TeamArtifacts:
    repo.write_bytes("notes.txt", b"a file")
    repo.write_bytes("folder/inner.txt", b"inside a folder")
    return repo


@pytest.mark.parametrize(
    ("artifact_path", "message"),
    [
        (
            LONG,
            f"cannot write artifact '{'a' * 60}...{'a' * 14}/f.txt': the name "
            f"'{'a' * 60}...{'a' * 20}' is 300 bytes long, longer than the 241 an artifact "
            "name may have",
        ),
        ("notes.txt", "cannot write artifact 'notes.txt/f.txt': 'notes.txt' is a file"),
        (
            "notes.txt/deeper",
            "cannot write artifact 'notes.txt/deeper/f.txt': 'notes.txt' is a file",
        ),
        (
            "/".join(["b" * 200] * 6),
            f"cannot write artifact '{'b' * 60}...{'b' * 14}/f.txt': the path is too long for "
            "an object key (at most 1024 bytes)",
        ),
    ],
    ids=["name-too-long", "beneath-a-file", "deeper-beneath-a-file", "key-too-long"],
)
def test_log_file_refuses_with_one_line(
    filled: TeamArtifacts, objects: ObjectStore, tmp_path: Path, artifact_path: str, message: str
) -> None:
    (tmp_path / "f.txt").write_text("x")
    before = _keys(objects)
    with pytest.raises(InvalidInputError) as raised:
        filled.log_file(tmp_path / "f.txt", artifact_path)
    assert str(raised.value) == message
    assert _keys(objects) == before


def test_a_folder_where_the_file_would_go(
    filled: TeamArtifacts, objects: ObjectStore, tmp_path: Path
) -> None:
    (tmp_path / "folder").write_text("a file named like the stored folder")
    before = _keys(objects)
    with pytest.raises(
        InvalidInputError, match=r"^cannot write artifact 'folder': it is a folder$"
    ):
        filled.log_file(tmp_path / "folder")
    with pytest.raises(InvalidInputError, match="'folder': it is a folder"):
        filled.write_bytes("folder", b"x")
    with pytest.raises(InvalidInputError, match="'folder': it is a folder"):
        filled.writable("folder")
    assert _keys(objects) == before


def test_a_folder_copy_checks_every_name_before_the_first_upload(
    filled: TeamArtifacts, objects: ObjectStore, tmp_path: Path
) -> None:
    source = tmp_path / "src"
    (source / "notes.txt").mkdir(parents=True)  # a folder where the run has a file
    (source / "a-first.txt").write_text("would be uploaded first")
    (source / "notes.txt" / "x").write_text("x")
    before = _keys(objects)
    with pytest.raises(InvalidInputError) as raised:
        filled.log_dir(source)
    assert str(raised.value) == "cannot write artifact 'notes.txt/x': 'notes.txt' is a file"
    with pytest.raises(InvalidInputError, match=r"'folder/inner\.txt/x': 'folder/inner\.txt' is a"):
        filled.log_dir(source / "notes.txt", "folder/inner.txt")
    (source / "folder").mkdir()
    (source / "folder" / "inner.txt").mkdir()
    (source / "folder" / "inner.txt" / "y").write_text("y")
    (source / "notes.txt" / "x").unlink()
    with pytest.raises(InvalidInputError, match=r"'folder/inner\.txt/y': 'folder/inner\.txt' is a"):
        filled.log_dir(source)
    assert _keys(objects) == before


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("x\x00y", "artifact path 'x\\x00y' holds a NUL byte"),
        ("q\ud800", "artifact path 'q\\ud800' is not valid text"),
        ("notes.txt/a.json", "cannot write artifact 'notes.txt/a.json': 'notes.txt' is a file"),
        ("folder", "cannot write artifact 'folder': it is a folder"),
        ("c" * 242, "longer than the 241 an artifact name may have"),
    ],
    ids=["nul", "surrogate", "beneath-a-file", "a-folder", "name-too-long"],
)
def test_write_bytes_raises_invalid_input(
    filled: TeamArtifacts, objects: ObjectStore, name: str, message: str
) -> None:
    before = _keys(objects)
    with pytest.raises(InvalidInputError) as raised:
        filled.write_bytes(name, b"text")
    assert str(raised.value).endswith(message)
    assert _keys(objects) == before


def test_the_longest_name_allowed_is_written(repo: TeamArtifacts) -> None:
    name = "é" * 120 + "c"  # 241 bytes in UTF-8
    assert repo.write_bytes(name, b"fits") == name
    assert repo.resolve(name).read_bytes() == b"fits"


# -- folders copied in: links, progress, parallel uploads ---------------------------------------


def test_log_dir_skips_links_leading_out(
    repo: TeamArtifacts, objects: ObjectStore, tmp_path: Path
) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("s3cret")
    source = tmp_path / "src"
    source.mkdir()
    (source / "kept.txt").write_text("kept")
    (source / "inner.txt").symlink_to(source / "kept.txt")
    (source / "out").symlink_to(secret)
    with pytest.warns(SkippedFileWarning, match="skipped out"):
        logged = repo.log_dir(source, "folder")
    assert logged == ["folder/inner.txt", "folder/kept.txt"]
    assert _artifact(objects, "folder/inner.txt") == b"kept"
    assert all("out" not in key for key in _keys(objects))


def test_log_dir_reports_progress_and_uploads_many_files(
    repo: TeamArtifacts, tmp_path: Path
) -> None:
    source = tmp_path / "src"
    source.mkdir()
    for i in range(40):
        (source / f"f{i:02d}.bin").write_bytes(bytes([i]) * (i + 1))
    seen: list[tuple[int, int]] = []
    logged = repo.log_dir(source, "many", progress=lambda done, total: seen.append((done, total)))
    total = sum(range(1, 41))
    assert logged == [f"many/f{i:02d}.bin" for i in range(40)]
    assert len(seen) == 40 and seen[-1] == (total, total)
    assert [done for done, _ in seen] == sorted(done for done, _ in seen)
    assert {(f.path, f.file_size) for f in repo.list("many")} == {
        (f"many/f{i:02d}.bin", i + 1) for i in range(40)
    }


def test_keys_another_tool_wrote_outside_the_rules_are_skipped(
    repo: TeamArtifacts, objects: ObjectStore, tmp_path: Path
) -> None:
    repo.write_bytes("good.txt", b"ok")
    assert isinstance(objects, S3Objects)
    client = objects.client  # the tool: raw S3, past mlcli's key checks
    bucket, prefix = objects.bucket, objects.prefix
    key = f"{prefix}/runs/{RUN}/artifacts/x\\..\\..\\evil"
    try:
        client.put_object(Bucket=bucket, Key=key, Body=b"!")
    except botocore.exceptions.ClientError:
        pytest.skip("this S3 server refuses such keys itself (SeaweedFS)")
    with pytest.warns(SkippedFileWarning, match="not an artifact path"):
        assert [f.path for f in repo.list_all()] == ["good.txt"]
    with pytest.warns(SkippedFileWarning):
        repo.resolve("")
    assert not (tmp_path / "cache" / RUN / "evil").exists()
    assert not (tmp_path / "cache" / "evil").exists()


# -- the cache: private, following the bucket ----------------------------------------------------


def test_the_cache_is_private(repo: TeamArtifacts, tmp_path: Path) -> None:
    repo.write_bytes("model/MLmodel", b"flavors: {}")
    copy = repo.resolve("model/MLmodel")
    assert copy == repo.root / "model" / "MLmodel"
    assert copy.read_bytes() == b"flavors: {}"
    for folder in (tmp_path / "cache", tmp_path / "cache" / RUN):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert repo.root.is_relative_to(tmp_path / "cache" / RUN)
    assert sorted(os.listdir(repo.root)) == ["model"]  # the records live beside, not inside


def test_a_cache_another_user_may_write_is_refused(objects: ObjectStore, tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    repo = TeamArtifacts(objects, RUN, shared)
    with pytest.raises(StoreError, match="others may write in it"):
        _ = repo.root


def test_a_changed_object_is_downloaded_again(
    repo: TeamArtifacts, objects: ObjectStore, tmp_path: Path
) -> None:
    repo.write_bytes("m/weights.bin", b"version-1")
    repo.write_bytes("m/conf.txt", b"same")
    copy = repo.resolve("m/weights.bin")
    conf = repo.resolve("m/conf.txt")
    inode = conf.stat().st_ino
    other = TeamArtifacts(open_objects(objects.url), RUN, tmp_path / "elsewhere")
    other.write_bytes("m/weights.bin", b"version-2")  # another replica, the same size
    assert repo.resolve("m/weights.bin").read_bytes() == b"version-2"
    assert copy.read_bytes() == b"version-2"
    other.write_bytes("m/weights.bin", b"v3, longer than before")
    folder = repo.resolve("m")
    assert (folder / "weights.bin").read_bytes() == b"v3, longer than before"
    assert (folder / "conf.txt").stat().st_ino == inode  # unchanged: not fetched again


def test_a_copy_replaced_on_disk_is_downloaded_again(repo: TeamArtifacts) -> None:
    repo.write_bytes("w.bin", b"the bucket's")
    copy = repo.resolve("w.bin")
    replacement = copy.with_name("other")
    replacement.write_bytes(b"someone else")  # as long as the bucket's object
    os.replace(replacement, copy)
    assert repo.resolve("w.bin").read_bytes() == b"the bucket's"


def test_what_is_written_in_place_is_published(
    repo: TeamArtifacts, objects: ObjectStore, tmp_path: Path
) -> None:
    folder = repo.resolve("model", must_exist=False)
    (folder / "data").mkdir(parents=True)
    (folder / "MLmodel").write_text("flavors: {}")
    (folder / "data" / "weights.bin").write_bytes(b"\x00" * 1000)
    repo.publish("model")
    assert _artifact(objects, "model/MLmodel") == b"flavors: {}"
    assert len(_artifact(objects, "model/data/weights.bin")) == 1000
    inode = (folder / "data" / "weights.bin").stat().st_ino
    assert repo.resolve("model") == folder
    assert (folder / "data" / "weights.bin").stat().st_ino == inode  # published: fresh

    target = repo.writable("notes/readme.md")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text("read me")
    repo.publish("notes/readme.md")
    assert _artifact(objects, "notes/readme.md") == b"read me"

    with pytest.raises(InvalidInputError, match="'model/MLmodel' is a file"):
        repo.writable("model/MLmodel/x")
    draft = repo.resolve("draft", must_exist=False)
    draft.mkdir()
    (draft / "unpublished.txt").write_text("mine")
    with pytest.raises(InvalidInputError, match="'draft': it is a folder"):
        repo.writable("draft")
    assert (draft / "unpublished.txt").read_text() == "mine"
    with pytest.raises(InvalidInputError, match="escapes"):
        repo.resolve("../other", must_exist=False)


_READER = """
import json, sys
from pathlib import Path
from mlcli.objects import open_objects
from mlcli.store.team.artifacts import TeamArtifacts

repo = TeamArtifacts(open_objects(sys.argv[1]), sys.argv[2], Path(sys.argv[3]))
print(json.dumps({
    "files": [[f.path, f.file_size] for f in repo.list_all()],
    "text": repo.resolve("data/sub/b.txt").read_text(),
}))
"""


def test_a_second_process_reads_what_the_first_wrote(
    repo: TeamArtifacts, objects: ObjectStore, tmp_path: Path
) -> None:
    source = tmp_path / "src"
    (source / "sub").mkdir(parents=True)
    (source / "a.txt").write_text("A")
    (source / "sub" / "b.txt").write_text("from the first process")
    repo.log_dir(source, "data")
    result = subprocess.run(
        [sys.executable, "-c", _READER, objects.url, RUN, str(tmp_path / "second-cache")],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {
        "files": [["data/a.txt", 1], ["data/sub/b.txt", 22]],
        "text": "from the first process",
    }


def test_each_write_is_announced_after_it_reached_the_bucket(
    objects: ObjectStore, tmp_path: Path
) -> None:
    seen: list[list[str]] = []
    repo = TeamArtifacts(
        objects, RUN, tmp_path / "cache", on_write=lambda: seen.append(_keys(objects))
    )
    repo.write_bytes("a.txt", b"a")
    (tmp_path / "b.txt").write_text("b")
    repo.log_file(tmp_path / "b.txt")
    with pytest.raises(InvalidInputError):
        repo.write_bytes("a.txt/x", b"refused: announces nothing")
    folder = repo.resolve("c", must_exist=False)
    folder.mkdir(parents=True)
    (folder / "d.txt").write_text("d")
    repo.publish("c")
    prefix = f"runs/{RUN}/artifacts/"
    assert seen == [
        [prefix + "a.txt"],
        [prefix + "a.txt", prefix + "b.txt"],
        [prefix + "a.txt", prefix + "b.txt", prefix + "c/d.txt"],
    ]


def test_a_link_planted_in_the_cache_leads_nowhere_outside(
    repo: TeamArtifacts, objects: ObjectStore, tmp_path: Path
) -> None:
    outside = tmp_path / "secret"
    outside.mkdir()
    (outside / "key").write_text("s3cret")
    (repo.root / "link").symlink_to(outside)
    with pytest.raises(InvalidInputError, match="escapes"):
        repo.resolve("link/key")
    with pytest.raises(InvalidInputError, match="escapes"):
        repo.resolve("link/key", must_exist=False)
    with pytest.raises(InvalidInputError, match="escapes"):
        repo.publish("link")
    assert _keys(objects) == [] and sorted(os.listdir(outside)) == ["key"]
