"""Remotes kept in the store's config file: names, URLs, the default, and a file that
keeps what mlcli does not know."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from mlcli.errors import ConflictError, InvalidInputError, NotFoundError, StoreError
from mlcli.store import Remote, Remotes


@pytest.fixture
def remotes(store_root: Path) -> Remotes:
    return Remotes(store_root)


def test_the_first_remote_added_becomes_the_default(remotes: Remotes) -> None:
    assert remotes.list() == [] and remotes.default() is None
    remotes.add("origin", "s3://team-bucket/mlcli")
    remotes.add("nas", "/mnt/nas/store")
    assert remotes.list() == [
        Remote("origin", "s3://team-bucket/mlcli"),
        Remote("nas", "/mnt/nas/store"),
    ]
    assert remotes.default() == Remote("origin", "s3://team-bucket/mlcli")
    assert remotes.get("nas") == Remote("nas", "/mnt/nas/store")


def test_add_with_default_takes_the_default(remotes: Remotes) -> None:
    remotes.add("origin", "s3://team-bucket")
    remotes.add("nas", "/mnt/nas/store", default=True)
    assert remotes.default() == Remote("nas", "/mnt/nas/store")


def test_the_config_file_reads_like_git_config(remotes: Remotes, store_root: Path) -> None:
    remotes.add("origin", "s3://team-bucket/mlcli/")
    assert (store_root / "config").read_text() == (
        '[remote "origin"]\nurl = s3://team-bucket/mlcli\n\n[core]\ndefault-remote = origin\n'
    )


def test_a_taken_name_is_a_conflict(remotes: Remotes) -> None:
    remotes.add("origin", "s3://team-bucket")
    with pytest.raises(ConflictError, match="a remote named 'origin' exists already"):
        remotes.add("origin", "s3://other-bucket")
    assert remotes.get("origin").url == "s3://team-bucket"


def test_an_unknown_remote_is_not_found_everywhere(remotes: Remotes) -> None:
    message = r"no remote named 'nope' \(mlcli remote list shows them\)"
    for call in (
        lambda: remotes.get("nope"),
        lambda: remotes.remove("nope"),
        lambda: remotes.rename("nope", "other"),
        lambda: remotes.set_url("nope", "/x"),
        lambda: remotes.set_default("nope"),
        lambda: remotes.resolve("nope"),
    ):
        with pytest.raises(NotFoundError, match=message):
            call()


def test_remove_clears_the_default_when_it_was_the_default(remotes: Remotes) -> None:
    remotes.add("origin", "s3://team-bucket")
    remotes.add("nas", "/mnt/nas")
    assert remotes.remove("nas") == Remote("nas", "/mnt/nas")
    assert remotes.default() == Remote("origin", "s3://team-bucket")
    remotes.add("nas", "/mnt/nas")
    remotes.remove("origin")
    assert remotes.default() is None
    assert remotes.list() == [Remote("nas", "/mnt/nas")]
    with pytest.raises(InvalidInputError, match="no remote given and no default remote"):
        remotes.resolve(None)


def test_rename_keeps_the_url_the_settings_and_the_default(
    remotes: Remotes, store_root: Path
) -> None:
    remotes.add("origin", "s3://team-bucket")
    config = store_root / "config"
    config.write_text(config.read_text().replace("url = ", "push-workers = 16\nurl = "))
    assert remotes.rename("origin", "team") == Remote("team", "s3://team-bucket")
    assert remotes.list() == [Remote("team", "s3://team-bucket")]
    assert remotes.default() == Remote("team", "s3://team-bucket")
    assert "push-workers = 16" in config.read_text()


def test_rename_onto_a_taken_name_is_a_conflict(remotes: Remotes) -> None:
    remotes.add("origin", "s3://team-bucket")
    remotes.add("nas", "/mnt/nas")
    with pytest.raises(ConflictError, match="a remote named 'nas' exists already"):
        remotes.rename("origin", "nas")
    assert remotes.list() == [Remote("origin", "s3://team-bucket"), Remote("nas", "/mnt/nas")]


def test_set_url_and_set_default(remotes: Remotes) -> None:
    remotes.add("origin", "s3://team-bucket")
    remotes.add("nas", "/mnt/nas")
    assert remotes.set_url("nas", "file:///srv/nas/") == Remote("nas", "file:///srv/nas")
    remotes.set_default("nas")
    assert remotes.default() == Remote("nas", "file:///srv/nas")
    assert remotes.resolve(None) == Remote("nas", "file:///srv/nas")


def test_resolve_reads_names_and_urls(remotes: Remotes, tmp_path: Path) -> None:
    remotes.add("origin", "s3://team-bucket")
    assert remotes.resolve("origin") == Remote("origin", "s3://team-bucket")
    assert remotes.resolve("s3://other-bucket/p/") == Remote(None, "s3://other-bucket/p")
    assert remotes.resolve("file:///srv/x") == Remote(None, "file:///srv/x")
    assert remotes.resolve("/srv/x") == Remote(None, "/srv/x")
    assert remotes.resolve("./x") == Remote(None, os.path.abspath("x"))
    assert remotes.resolve("../x") == Remote(None, os.path.abspath("../x"))
    assert remotes.resolve("~/x") == Remote(None, os.path.expanduser("~/x"))
    with pytest.raises(InvalidInputError, match="team servers as remotes are not supported"):
        remotes.resolve("https://mlcli.example.com")


def test_a_plain_path_is_kept_absolute(remotes: Remotes, workdir: Path) -> None:
    remotes.add("backup", "backup")
    remotes.add("up", "../shared/")
    assert remotes.get("backup").url == str(workdir / "backup")
    assert remotes.get("up").url == str(workdir.parent / "shared")


@pytest.mark.parametrize(
    "name",
    ["", "-origin", ".origin", "a b", "a/b", 'a"b', "é", "a\nb", "x" * 101],
)
def test_bad_names_are_refused(remotes: Remotes, name: str) -> None:
    with pytest.raises(InvalidInputError, match="invalid remote name"):
        remotes.add(name, "s3://team-bucket")
    assert remotes.list() == []


def test_names_git_allows_are_taken(remotes: Remotes) -> None:
    for name in ("origin", "team-s3", "nas_2024.1", "A", "x" * 100):
        remotes.add(name, "/mnt/nas")
    with pytest.raises(InvalidInputError, match="invalid remote name"):
        remotes.rename("A", "-A")


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("", "cannot be empty"),
        ("http://127.0.0.1:5000", "team servers as remotes are not supported yet"),
        ("https://mlcli.example.com", "team servers as remotes are not supported yet"),
        ("ssh://host/path", r"use s3://bucket\[/prefix\], file:///absolute/path or a path"),
        ("gs://bucket", "unsupported remote URL"),
        ("host:/srv/store", "unsupported remote URL"),
        ("s3://", "is not an S3 bucket name"),
        ("s3://ab", "is not an S3 bucket name"),
        ("s3://Team_Bucket", "is not an S3 bucket name"),
        ("s3://-bucket", "is not an S3 bucket name"),
        ("s3://my..bucket", "is not an S3 bucket name"),
        ("s3://192.168.1.1", "is not an S3 bucket name"),
        ("s3://" + "b" * 64, "is not an S3 bucket name"),
        ("s3://bucket//prefix", "an empty, '.' or '..' part"),
        ("s3://bucket/a/../b", "an empty, '.' or '..' part"),
        ("file://host/srv/store", "absolute path on this host"),
        ("file://relative", "absolute path on this host"),
        ("/srv/a\nb", "control characters"),
    ],
)
def test_bad_urls_are_one_line_refusals(remotes: Remotes, url: str, message: str) -> None:
    with pytest.raises(InvalidInputError, match=message) as refused:
        remotes.add("origin", url)
    assert "\n" not in str(refused.value)
    assert remotes.list() == []


@pytest.mark.parametrize(
    ("url", "kept"),
    [
        ("s3://team-bucket", "s3://team-bucket"),
        ("s3://team-bucket/", "s3://team-bucket"),
        ("s3://team.bucket-1/a/b/", "s3://team.bucket-1/a/b"),
        ("S3://team-bucket/x", "s3://team-bucket/x"),
        ("file:///srv/store/", "file:///srv/store"),
        ("file://localhost/srv/store", "file:///srv/store"),
        ("/srv/store/", "/srv/store"),
    ],
)
def test_good_urls_are_kept_normalized(remotes: Remotes, url: str, kept: str) -> None:
    assert remotes.add("origin", url).url == kept
    assert remotes.get("origin").url == kept


def test_unknown_sections_and_keys_are_kept(remotes: Remotes, store_root: Path) -> None:
    config = store_root / "config"
    config.write_text(
        "[user]\nName = Alice\n\n"
        '[remote "origin"]\nurl = s3://team-bucket\nPushWorkers = 16\n\n'
        "[core]\ndefault-remote = origin\neditor = vi\n\n"
        "[DEFAULT]\nx = 1\n"
    )
    remotes.add("nas", "/mnt/nas")
    remotes.remove("origin")
    remotes.rename("nas", "shared")
    text = config.read_text()
    for kept in ("[user]\nName = Alice", "editor = vi", "[DEFAULT]\nx = 1"):
        assert kept in text
    assert "origin" not in text and "PushWorkers" not in text
    assert remotes.list() == [Remote("shared", "/mnt/nas")]


def test_hand_written_config_with_indented_keys_reads(remotes: Remotes, store_root: Path) -> None:
    (store_root / "config").write_text(
        '[remote "origin"]\n\turl = s3://team-bucket\n[core]\n\tdefault-remote = origin\n'
    )
    assert remotes.default() == Remote("origin", "s3://team-bucket")


def test_a_dangling_default_is_named(remotes: Remotes, store_root: Path) -> None:
    (store_root / "config").write_text("[core]\ndefault-remote = gone\n")
    assert remotes.default() is None
    with pytest.raises(InvalidInputError, match=r"the default remote 'gone' in .* is not"):
        remotes.resolve(None)


def test_a_remote_without_url_is_a_store_error(remotes: Remotes, store_root: Path) -> None:
    (store_root / "config").write_text('[remote "origin"]\nfetch = x\n')
    with pytest.raises(StoreError, match=r"remote 'origin' in .*config has no url"):
        remotes.list()


@pytest.mark.parametrize(
    ("text", "line", "reason"),
    [
        ("url = s3://team-bucket\n", 1, "a setting before any"),
        ('[remote "origin"\nurl = x\n', 1, "'\\[remote \"origin\"' is not a \\[section\\] header"),
        ('[remote "a"]\nurl = /a\nnot a setting\n', 3, "not a \\[section\\] or"),
        ('[remote "a"]\nurl = /a\n[remote "a"]\nurl = /b\n', 3, 'section \\[remote "a"\\] again'),
        ('[remote "a"]\nurl = /a\nurl = /b\n', 3, "'url' again"),
    ],
)
def test_a_malformed_file_is_one_line_naming_file_and_line(
    remotes: Remotes, store_root: Path, text: str, line: int, reason: str
) -> None:
    config = store_root / "config"
    config.write_text(text)
    for call in (remotes.list, lambda: remotes.add("nas", "/mnt/nas")):
        with pytest.raises(
            StoreError, match=f"{re.escape(str(config))}, line {line}: {reason}"
        ) as failed:
            call()
        assert "\n" not in str(failed.value)
    assert config.read_text() == text


def test_a_file_that_is_not_utf8_names_its_line(remotes: Remotes, store_root: Path) -> None:
    config = store_root / "config"
    config.write_bytes(b'[remote "a"]\nurl = /caf\xe9\n')
    with pytest.raises(StoreError, match=f"{config}, line 2: not UTF-8 text"):
        remotes.list()
