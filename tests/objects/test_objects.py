"""What the sync engine relies on, checked on every kind of object store (a directory,
moto's S3 server, SeaweedFS): whole objects, conditional create, compare-and-swap,
ordered listings from a cursor, large files in parts, and writers racing each other."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from mlcli.errors import InvalidInputError, NotFoundError
from mlcli.objects import ObjectStore


def test_put_then_get_gives_the_bytes_and_the_etag(objects: ObjectStore) -> None:
    etag = objects.put("runs/r1/run.json", b'{"a": 1}')
    assert objects.get("runs/r1/run.json") == (b'{"a": 1}', etag)
    assert objects.get_if_present("runs/r1/run.json") == (b'{"a": 1}', etag)
    assert objects.put("runs/r1/run.json", b"") != etag
    assert objects.get("runs/r1/run.json")[0] == b""


def test_a_missing_object_is_not_found(objects: ObjectStore) -> None:
    with pytest.raises(NotFoundError) as raised:
        objects.get("runs/none/run.json")
    assert str(raised.value) == f"{objects.url}: no object 'runs/none/run.json'"
    assert objects.get_if_present("runs/none/run.json") is None


def test_create_takes_a_free_key_only_once(objects: ObjectStore) -> None:
    etag = objects.create("models/m/versions/1", b"first")
    assert etag is not None
    assert objects.create("models/m/versions/1", b"second") is None
    assert objects.get("models/m/versions/1") == (b"first", etag)


def test_replace_needs_the_current_etag(objects: ObjectStore) -> None:
    first = objects.put("experiments.json", b"v1")
    second = objects.replace("experiments.json", b"v2", first)
    assert second is not None and second != first
    assert objects.get("experiments.json") == (b"v2", second)

    assert objects.replace("experiments.json", b"v3", first) is None  # stale
    assert objects.get("experiments.json") == (b"v2", second)


def test_replace_of_a_missing_object_writes_nothing(objects: ObjectStore) -> None:
    etag = objects.put("gone", b"x")
    objects.delete("gone")
    assert objects.replace("gone", b"y", etag) is None
    assert objects.get_if_present("gone") is None


KEYS = ["a/b", "a/c/d", "ab", "b/x", "b/y/z", "b0", "c"]


def test_list_is_in_key_order_from_a_cursor(objects: ObjectStore) -> None:
    for key in reversed(KEYS):
        objects.put(key, key.encode() * 2)
    listed = list(objects.list(""))
    assert [info.key for info in listed] == KEYS
    for info in listed:
        data, etag = objects.get(info.key)
        assert (info.size, info.etag) == (len(data), etag)

    assert [info.key for info in objects.list("", start_after="a/b")] == KEYS[1:]
    assert [info.key for info in objects.list("", start_after="a/zzz")] == KEYS[2:]
    assert [info.key for info in objects.list("", start_after="b/y/z")] == ["b0", "c"]
    assert [info.key for info in objects.list("b/")] == ["b/x", "b/y/z"]
    assert [info.key for info in objects.list("a")] == ["a/b", "a/c/d", "ab"]
    assert [info.key for info in objects.list("b/", start_after="b/x")] == ["b/y/z"]
    assert list(objects.list("nothing/")) == []


def test_list_puts_a_name_below_slash_before_the_folder_it_extends(
    objects: ObjectStore, request: pytest.FixtureRequest
) -> None:
    """S3's order is the keys' bytes: "a.txt" < "a/b" ('.' < '/'). SeaweedFS sorts a
    folder by its name instead ("a" < "a.txt"), so only there it comes out otherwise."""
    if "seaweedfs" in request.node.callspec.id:
        request.applymarker(
            pytest.mark.xfail(reason="SeaweedFS lists a folder by its name", strict=True)
        )
    for key in ["a/b", "a.txt", "a-1"]:
        objects.put(key, b"x")
    assert [info.key for info in objects.list("")] == ["a-1", "a.txt", "a/b"]
    assert [info.key for info in objects.list("", start_after="a.txt")] == ["a/b"]


def test_list_prefixes_gives_the_folders_under_a_prefix(objects: ObjectStore) -> None:
    for key in ["runs/r2/meta", "runs/r1/artifacts/model/x", "runs/index", "VERSION"]:
        objects.put(key, b"x")
    assert list(objects.list_prefixes("")) == ["runs/"]
    assert list(objects.list_prefixes("runs/")) == ["runs/r1/", "runs/r2/"]
    assert list(objects.list_prefixes("runs/r1/")) == ["runs/r1/artifacts/"]
    assert list(objects.list_prefixes("runs/r2/")) == []


def test_a_folder_emptied_by_deletes_is_no_folder(
    objects: ObjectStore, request: pytest.FixtureRequest
) -> None:
    if "seaweedfs" in request.node.callspec.id:
        request.applymarker(
            pytest.mark.xfail(reason="SeaweedFS keeps listing an emptied folder", strict=True)
        )
    objects.put("runs/r1/meta", b"x")
    objects.put("runs/r2/meta", b"x")
    objects.delete("runs/r2/meta")
    assert list(objects.list_prefixes("runs/")) == ["runs/r1/"]


def test_delete_is_idempotent(objects: ObjectStore) -> None:
    objects.put("k", b"x")
    objects.delete("k")
    objects.delete("k")
    objects.delete("never/was")
    assert objects.get_if_present("k") is None
    assert list(objects.list("")) == []


def test_a_large_file_goes_up_and_comes_back_byte_identical(
    objects: ObjectStore, tmp_path: Path
) -> None:
    source = tmp_path / "model.bin"
    source.write_bytes(os.urandom(20 << 20))  # above the 8 MB part size: a multipart upload
    objects.upload_file("runs/r1/artifacts/model.bin", source)
    [info] = objects.list("runs/r1/")
    assert (info.key, info.size) == ("runs/r1/artifacts/model.bin", 20 << 20)

    destination = tmp_path / "back" / "model.bin"
    destination.parent.mkdir()
    objects.download_file("runs/r1/artifacts/model.bin", destination)
    assert destination.read_bytes() == source.read_bytes()
    assert os.listdir(destination.parent) == ["model.bin"]  # no temporary file left


def test_download_of_a_missing_object_is_not_found(objects: ObjectStore, tmp_path: Path) -> None:
    with pytest.raises(NotFoundError, match=r"no object 'nothing\.bin'"):
        objects.download_file("nothing.bin", tmp_path / "nothing.bin")
    assert [name for name in os.listdir(tmp_path) if name != "remote"] == []  # no leftovers


def test_keys_may_hold_spaces_and_any_unicode(objects: ObjectStore, tmp_path: Path) -> None:
    key = "runs/r1/artifacts/my plots/Übersicht € 日本.png"
    etag = objects.put(key, b"png")
    assert objects.get(key) == (b"png", etag)
    assert [info.key for info in objects.list("runs/r1/artifacts/my plots/")] == [key]
    assert list(objects.list_prefixes("runs/r1/artifacts/")) == ["runs/r1/artifacts/my plots/"]
    objects.download_file(key, tmp_path / "out.png")
    assert (tmp_path / "out.png").read_bytes() == b"png"


@pytest.mark.parametrize("key", ["", "/abs", "a//b", "a/../b", "./a", "a/", "a\0b"])
def test_keys_that_are_no_relative_path_are_refused(objects: ObjectStore, key: str) -> None:
    with pytest.raises(InvalidInputError):
        objects.put(key, b"x")


def test_racing_creates_have_exactly_one_winner(objects: ObjectStore) -> None:
    start = threading.Barrier(8)

    def claim(writer: int) -> str | None:
        start.wait()
        return objects.create("models/m/versions/7", f"writer {writer}".encode())

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(claim, range(8)))
    winners = [writer for writer, etag in enumerate(results) if etag is not None]
    assert len(winners) == 1
    assert objects.get("models/m/versions/7") == (
        f"writer {winners[0]}".encode(),
        results[winners[0]],
    )


def test_compare_and_swap_loses_no_increment(objects: ObjectStore) -> None:
    writers, increments = 8, 4
    objects.put("counter", b"0")
    start = threading.Barrier(writers)

    def add_one() -> None:
        while True:
            data, etag = objects.get("counter")
            if objects.replace("counter", str(int(data) + 1).encode(), etag) is not None:
                return

    def work(_: int) -> None:
        start.wait()
        for _ in range(increments):
            add_one()

    with ThreadPoolExecutor(writers) as pool:
        list(pool.map(work, range(writers)))
    assert objects.get("counter")[0] == str(writers * increments).encode()


BLOCK_BOTO3 = """
import sys

class NoBoto3:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("boto3", "botocore"):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None

sys.meta_path.insert(0, NoBoto3())
from mlcli.errors import MlcliError
from mlcli.objects import open_objects
try:
    open_objects("s3://bucket/prefix")
except MlcliError as exc:
    print(type(exc).__name__, exc)
"""


def test_without_boto3_an_s3_store_names_the_extra() -> None:
    result = subprocess.run(
        [sys.executable, "-c", BLOCK_BOTO3], capture_output=True, text=True, timeout=60
    )
    assert result.stderr == ""
    assert result.stdout == (
        "InvalidInputError s3:// stores need the S3 extra: pip install 'mlcli[s3]'\n"
    )
