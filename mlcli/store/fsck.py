"""Checking a store's files (``mlcli fsck``): every damaged document, torn or damaged
log line, orphan left by a killed writer, and a damaged index.

Readers tolerate all of these (a torn last line is ignored, a damaged run is left out
with a warning), so nothing else lists them. ``repair`` does only what loses nothing a
reader could see:

- a torn last line (no newline: its writer was killed mid-write) is trimmed, under
  the file's lock, so that no appender is mid-write;
- orphans older than ``orphans_older_than`` seconds are removed (see leftovers.py);
- the index is rebuilt (it is only a cache).

A damaged document or a damaged line in the middle of a log needs a person: fsck
names it and leaves it as it is.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import sqlite3
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlcli.files.fileio import read_document
from mlcli.store.damage import experiment_doc_problem, run_doc_problem
from mlcli.store.inputs import dataset_input_from_dict
from mlcli.store.layout import (
    EXPERIMENT_DOC,
    INPUTS_LOG,
    LOGGED_MODELS_DIR,
    METRICS_LOG,
    PARAMS_LOG,
    RUN_DOC,
    TAGS_LOG,
)
from mlcli.store.leftovers import ORPHAN_AFTER_SECONDS, find_leftovers, remove_leftover
from mlcli.store.records import decode_metric
from mlcli.store.store import Store

DocumentCheck = Callable[[Any], "str | None"]


@dataclass
class Problem:
    path: Path
    kind: str  # damaged-document, missing-document, torn-line, damaged-line, orphan, index
    detail: str
    repaired: str | None = None  # what --repair did about it

    def to_dict(self, root: Path) -> dict[str, Any]:
        return {
            "path": str(
                self.path.relative_to(root) if self.path.is_relative_to(root) else self.path
            ),
            "kind": self.kind,
            "detail": self.detail,
            "repaired": self.repaired,
        }


@dataclass
class FsckReport:
    problems: list[Problem] = field(default_factory=list)
    files_checked: int = 0

    @property
    def clean(self) -> bool:
        """Nothing is left that needs a person (everything found was repaired)."""
        return all(problem.repaired for problem in self.problems)


def check_store(
    store: Store, repair: bool = False, orphans_older_than: float = ORPHAN_AFTER_SECONDS
) -> FsckReport:
    report = FsckReport()
    check = _Checker(store.root, report, repair)
    check.version(store.layout.version_file)
    check.experiments(store.layout.experiments_dir, orphans_older_than)
    check.runs(store.layout.runs_dir)
    check.models(store.layout.models_dir)
    check.log(store.layout.changes_log, _any_object)
    for leftover in find_leftovers(store.layout, orphans_older_than):
        kind = "folder" if leftover.is_dir else "file"
        problem = Problem(
            leftover.path, "orphan", f"a {kind} left by a killed writer ({leftover.size} bytes)"
        )
        if repair:
            remove_leftover(leftover)
            problem.repaired = "removed"
        report.problems.append(problem)
    index_problem = _index_problem(store.layout.index_path)
    if index_problem is not None:
        report.problems.append(Problem(store.layout.index_path, "index", index_problem))
    if repair:
        store.index.rebuild()
        if index_problem is not None:
            report.problems[-1].repaired = "rebuilt"
    return report


class _Checker:
    def __init__(self, root: Path, report: FsckReport, repair: bool) -> None:
        self.root = root
        self.report = report
        self.repair = repair

    def add(self, path: Path, kind: str, detail: str) -> Problem:
        problem = Problem(path, kind, detail)
        self.report.problems.append(problem)
        return problem

    def version(self, path: Path) -> None:
        self.report.files_checked += 1
        try:
            text = path.read_text(errors="replace").strip()
        except FileNotFoundError:
            self.add(path, "missing-document", "missing: the store's format version")
            return
        if not text.isdigit():
            self.add(path, "damaged-document", f"not a format number: {text[:40]!r}")

    def document(self, path: Path, check: DocumentCheck, required: bool = True) -> None:
        try:
            doc, problem = read_document(path)
        except FileNotFoundError:
            if required:
                self.add(path, "missing-document", "missing")
            return
        except IsADirectoryError:
            self.add(path, "damaged-document", "a folder where a document belongs")
            return
        self.report.files_checked += 1
        problem = problem or check(doc)
        if problem is not None:
            self.add(path, "damaged-document", problem)

    def log(self, path: Path, check: DocumentCheck) -> None:
        """Each line of a JSON-lines log: complete, a JSON object, a valid record."""
        try:
            handle = open(path, "rb")  # noqa: SIM115 - closed below
        except FileNotFoundError:
            return
        self.report.files_checked += 1
        torn = None
        with handle:
            for number, line in enumerate(handle, start=1):
                if not line.endswith(b"\n"):
                    torn = (number, len(line))
                    break
                if line == b"\n":
                    continue  # a writer that found a torn line started afresh
                problem = _line_problem(line, check)
                if problem is not None:
                    self.add(path, "damaged-line", f"line {number}: {problem}")
        if torn is not None:
            number, size = torn
            torn_problem = self.add(
                path, "torn-line", f"line {number} is cut short ({size} bytes, no newline)"
            )
            if self.repair:
                trimmed = _trim_torn_line(path)
                if trimmed:
                    torn_problem.repaired = f"trimmed the torn line ({trimmed} bytes)"

    def experiments(self, folder: Path, young: float) -> None:
        for entry in _visible_folders(folder):
            doc = entry / EXPERIMENT_DOC
            # A new experiment's id is taken (mkdir) just before its document is written.
            just_made = not doc.exists() and _age(entry) < young
            self.document(doc, experiment_doc_problem, required=not just_made)

    def runs(self, folder: Path) -> None:
        for run in _visible_folders(folder):
            self.document(run / RUN_DOC, run_doc_problem)
            for name in sorted(os.listdir(run)):
                path = run / name
                if name.endswith(".jsonl"):
                    self.log(path, _LOG_RECORD_CHECKS.get(name, _any_object))
            for doc in sorted((run / LOGGED_MODELS_DIR).glob("*.json")):
                self.document(doc, _any_object)

    def models(self, folder: Path) -> None:
        for model in _visible_folders(folder):
            self.document(model / "model.json", _any_object)
            self.document(model / "aliases.json", _any_object, required=False)
            self.log(model / "events.jsonl", _any_object)
            for version in _visible_folders(model / "versions"):
                self.document(version / "version.json", _any_object)


def _line_problem(line: bytes, check: DocumentCheck) -> str | None:
    try:
        record = json.loads(line)
    except ValueError:
        return f"not JSON: {line[:60]!r}"
    return check(record)


def _any_object(record: Any) -> str | None:
    return None if isinstance(record, dict) else f"not a JSON object: {record!r:.60}"


def _keyed_record(record: Any) -> str | None:
    problem = _any_object(record)
    if problem is None and not isinstance(record.get("key"), str):
        problem = "a record without a key"
    return problem


def _metric_record(record: Any) -> str | None:
    problem = _any_object(record)
    if problem is None and decode_metric(record) is None:
        problem = f"not a metric point: {json.dumps(record)[:60]}"
    return problem


def _input_record(record: Any) -> str | None:
    problem = _any_object(record)
    if (
        problem is None
        and not isinstance(record.get("model_id"), str)
        and dataset_input_from_dict(record) is None
    ):
        problem = f"not a dataset or model input: {json.dumps(record)[:60]}"
    return problem


_LOG_RECORD_CHECKS: dict[str, DocumentCheck] = {
    INPUTS_LOG: _input_record,
    PARAMS_LOG: _keyed_record,
    TAGS_LOG: _keyed_record,
    METRICS_LOG: _metric_record,
}


def _trim_torn_line(path: Path) -> int:
    """Cut a torn last line off ``path``, holding the lock appenders take (so that no
    append is half-way); returns the bytes removed (0 when it was whole by then)."""
    fd = os.open(path, os.O_RDWR)
    try:
        with contextlib.suppress(OSError):
            fcntl.flock(fd, fcntl.LOCK_EX)
        size = os.fstat(fd).st_size
        if not size or os.pread(fd, 1, size - 1) == b"\n":
            return 0
        keep = _end_of_last_line(fd, size)
        os.ftruncate(fd, keep)
        os.fsync(fd)
        return size - keep
    finally:
        os.close(fd)


def _end_of_last_line(fd: int, size: int, block: int = 1 << 16) -> int:
    """The offset just past the last newline of the file (0 when there is none)."""
    end = size
    while end > 0:
        start = max(0, end - block)
        found = os.pread(fd, end - start, start).rfind(b"\n")
        if found >= 0:
            return start + found + 1
        end = start
    return 0


def _index_problem(path: Path) -> str | None:
    """What is wrong with the index database (None when it is sound or absent)."""
    if not path.exists():
        return None
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=60)
    except sqlite3.Error as exc:
        return f"cannot be opened: {exc}"
    try:
        rows = db.execute("PRAGMA quick_check").fetchall()
    except sqlite3.DatabaseError as exc:
        return f"damaged: {exc}"
    finally:
        db.close()
    findings = [row[0] for row in rows if row[0] != "ok"]
    return f"damaged: {findings[0]}" if findings else None


def _visible_folders(folder: Path) -> Iterator[Path]:
    """The entries of ``folder`` that readers see (hidden ones are a writer's)."""
    try:
        names = sorted(os.listdir(folder))
    except (FileNotFoundError, NotADirectoryError):
        return
    for name in names:
        path = folder / name
        if not name.startswith(".") and path.is_dir():
            yield path


def _age(path: Path) -> float:
    return time.time() - path.stat().st_mtime
