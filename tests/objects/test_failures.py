"""How an object store fails: one line that says what is wrong, never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest
from s3servers import S3Server

from mlcli.errors import InvalidInputError, NotFoundError, StoreError
from mlcli.objects import open_objects
from mlcli.objects.directory import DirectoryObjects


def test_an_endpoint_that_does_not_answer_is_a_store_error(s3_env) -> None:
    s3_env(S3Server("nothing", "http://127.0.0.1:1", "test", "test"))
    with pytest.raises(StoreError) as raised:
        open_objects("s3://b/p").get("k")
    message = str(raised.value)
    assert message.startswith("s3://b/p: cannot reach the endpoint http://127.0.0.1:1 (")
    assert "\n" not in message


def test_a_missing_bucket_is_a_store_error(s3_server: S3Server) -> None:
    objects = open_objects("s3://no-such-bucket-here/p")
    for attempt in (lambda: objects.get("k"), lambda: list(objects.list(""))):
        with pytest.raises(StoreError, match=r"^s3://no-such-bucket-here/p: no such bucket"):
            attempt()


def test_wrong_credentials_are_refused(seaweedfs: S3Server, s3_env) -> None:
    """SeaweedFS checks them (moto takes any)."""
    s3_env(S3Server("wrong", seaweedfs.endpoint, seaweedfs.access_key, "wrong-secret"))
    bucket = seaweedfs.new_bucket()
    with pytest.raises(
        StoreError, match=rf"^s3://{bucket}/p: access denied \(SignatureDoesNotMatch\)$"
    ):
        open_objects(f"s3://{bucket}/p").put("k", b"x")


def test_no_credentials_at_all(s3_env, monkeypatch: pytest.MonkeyPatch) -> None:
    s3_env(S3Server("nothing", "http://127.0.0.1:1", "x", "x"))
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    with pytest.raises(
        StoreError, match=r"^s3://b/p: no credentials found \(set AWS_ACCESS_KEY_ID"
    ):
        open_objects("s3://b/p").get("k")


@pytest.mark.parametrize("url", ["gs://bucket/p", "http://host/p", "s3://", "file://host/p", ""])
def test_unsupported_locations_are_refused(url: str) -> None:
    with pytest.raises(InvalidInputError):
        open_objects(url)


def test_a_file_url_and_a_path_name_the_same_directory(tmp_path: Path) -> None:
    open_objects(f"file://{tmp_path}/remote").put("k", b"x")
    assert open_objects(str(tmp_path / "remote")).get("k")[0] == b"x"


def test_a_directory_store_follows_no_link_out_of_it(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret").write_bytes(b"s")
    root = tmp_path / "remote"
    root.mkdir()
    (root / "runs").symlink_to(outside)
    objects = DirectoryObjects(root)
    with pytest.raises(StoreError, match="symbolic link"):
        objects.get("runs/secret")
    with pytest.raises(StoreError, match="symbolic link"):
        objects.put("runs/new", b"x")
    assert list(objects.list("")) == []
    assert not (outside / "new").exists()


def test_a_directory_store_hides_its_own_files_and_honours_the_umask(tmp_path: Path) -> None:
    import os

    objects = DirectoryObjects(tmp_path / "remote")
    etag = objects.put("a/b", b"x")
    objects.replace("a/b", b"y", etag)
    (tmp_path / "remote" / "a" / ".b.0123abcd.tmp").write_bytes(b"left by a killed writer")
    assert [info.key for info in objects.list("")] == ["a/b"]
    assert list(objects.list_prefixes("")) == ["a/"]
    previous = os.umask(0o027)
    try:
        objects.create("c", b"x")
    finally:
        os.umask(previous)
    assert (tmp_path / "remote" / "c").stat().st_mode & 0o777 == 0o640
    with pytest.raises(NotFoundError):
        objects.get("a")
