"""The write and read primitives: atomic documents, single-write appends, torn lines."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from mlcli.errors import StoreError
from mlcli.files.fileio import append_bytes, read_json, read_log, write_json_atomic


def test_atomic_document_replaces_whole_file_and_leaves_no_temporaries(tmp_path: Path) -> None:
    path = tmp_path / "doc.json"
    write_json_atomic(path, {"a": 1})
    write_json_atomic(path, {"b": 2})
    assert read_json(path) == {"b": 2}
    assert os.listdir(tmp_path) == ["doc.json"]


def test_non_finite_numbers_are_refused_in_documents(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        write_json_atomic(tmp_path / "doc.json", {"x": float("nan")})
    assert not (tmp_path / "doc.json").exists()


def test_damaged_document_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "run.json"
    path.write_text("{not json")
    with pytest.raises(StoreError, match=r"run\.json is not valid JSON"):
        read_json(path)


def test_read_log_resumes_from_offset(tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    append_bytes(path, b'{"n": 1}\n{"n": 2}\n')
    records, offset = read_log(path)
    assert [r["n"] for r in records] == [1, 2]
    append_bytes(path, b'{"n": 3}\n')
    records, end = read_log(path, offset)
    assert [r["n"] for r in records] == [3]
    assert end == path.stat().st_size


def test_torn_last_line_is_ignored_and_next_append_starts_a_fresh_line(tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    append_bytes(path, b'{"n": 1}\n')
    with open(path, "ab") as handle:  # what a writer killed mid-write leaves
        handle.write(b'{"n": 2, "val')
    records, offset = read_log(path)
    assert [r["n"] for r in records] == [1]
    assert offset == len(b'{"n": 1}\n')
    append_bytes(path, b'{"n": 3}\n')
    assert path.read_bytes().endswith(b'{"n": 2, "val\n{"n": 3}\n')
    records, _ = read_log(path)
    assert [r["n"] for r in records] == [1, 3]


def test_missing_log_reads_as_empty(tmp_path: Path) -> None:
    assert read_log(tmp_path / "absent.jsonl") == ([], 0)


def test_lines_that_are_not_objects_are_skipped(tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    path.write_bytes(b'[1, 2]\n"text"\n\n{"ok": true}\n')
    assert read_log(path)[0] == [{"ok": True}]


def test_append_writes_all_bytes_of_a_large_batch(tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    lines = b"".join(json.dumps({"i": i, "pad": "x" * 100}).encode() + b"\n" for i in range(20000))
    append_bytes(path, lines)
    assert path.read_bytes() == lines
