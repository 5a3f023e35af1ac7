"""Run summaries: a finished run's index rows, kept in the change journal, so that
building the index again (a deleted or damaged ``index.db``, a new index version,
``mlcli index rebuild``) need not read every run folder. A million run folders are
some 20 GB of small files: more than the page cache, and a quarter of an hour of disk
reads; their summaries are one file read from start to end.

A summary is a line of ``changes.jsonl``, written after the index read the run from
its files::

    {"summary":{"run":[...],"params":[[k,v]...],"tags":[...],"metrics":[...]},
     "journal":"<device>:<inode>","run_id":"<id>"}

Why the journal: it orders a summary against the run's later changes. Every mlcli
write to a run that is no longer live names the run in the journal *after* the
change, so the last line naming a run says whether its summary is current: a summary,
or a note after it (then the run's files are read). The race: a change made between
the index's read and the summary's append would be noted *before* the summary. So
after appending, each summarised run's files are looked at again (four stats, as a
refresh checks a live run), and a run that changed is noted after its summary.

Trust: a summary written into this very journal file (its ``journal`` field is the
file's device and inode) is taken as it is, as a refresh takes the journal's word for
finished runs. A summary in a journal that was replaced or copied (``rsync``, a
restore) is first checked against the run's files: the sizes of its logs and the size
and modification time of ``run.json``. ``mlcli index rebuild`` checks every summary
so: it is how files edited by hand get into the index.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from typing import Any

from mlcli.files.fileio import file_size, read_log_chunks
from mlcli.store.changes import SUMMARY_PREFIX, ChangeJournal
from mlcli.store.entities import RunStatus
from mlcli.store.index.rows import chunks
from mlcli.store.index.session import IndexSession
from mlcli.store.layout import METRICS_LOG, PARAMS_LOG, RUN_DOC, TAGS_LOG
from mlcli.store.scan import files_changed

# A run's row, as updates.insert_pending takes it: experiment_id, run_name, status,
# start_time, end_time, lifecycle_stage, deleted_time, user_id, parent_run_id,
# doc_signature, params_offset, tags_offset, metrics_offset, run_id.
RunRow = tuple[Any, ...]
_STATUS, _SIGNATURE = 2, 9
_RUN_ID_FIELD = b'"run_id":'

TRUST = "trust"  # summaries in this journal as they are, others checked by stat
VERIFY = "verify"  # every summary checked by stat


def is_summarized(run_row: RunRow) -> bool:
    """Whether a run is summarised once read: a finished one (a live run changes)."""
    return run_row[_STATUS] not in RunStatus.LIVE


def encode(
    run_row: RunRow,
    params: Sequence[tuple[Any, ...]],
    tags: Sequence[tuple[Any, ...]],
    metrics: Sequence[tuple[Any, ...]],
    journal: str,
) -> bytes:
    """The summary line of one run from its index rows (each child row begins with
    the run id, which the line keeps once)."""
    record = {
        "summary": {
            "run": list(run_row[:-1]),
            "params": [row[1:] for row in params],
            "tags": [row[1:] for row in tags],
            "metrics": [row[1:] for row in metrics],
        },
        "journal": journal,
        "run_id": run_row[-1],
    }
    return json.dumps(record, separators=(",", ":")).encode() + b"\n"


def check_row(run_row: RunRow) -> tuple[Any, ...]:
    """What ``scan.files_changed`` compares, from a run's row."""
    return (run_row[-1], run_row[_STATUS], run_row[_SIGNATURE], *run_row[10:13])


def append_checked(
    journal: ChangeJournal, runs_dir: str, lines: bytes, checks: Sequence[tuple[Any, ...]]
) -> None:
    """Append summary lines, then note every summarised run whose files changed since
    they were read (``checks``: ``check_row`` of each), so that the note comes after
    its stale summary. A journal this user may not write gets no summaries."""
    if not lines:
        return
    try:
        journal.append(lines, summaries=True)
    except OSError:
        return  # no summary written: nothing can be stale
    changed = [row[0] for row in checks if files_changed(runs_dir, row)]
    if changed:
        journal.append(b"".join(json.dumps({"run_id": r}).encode() + b"\n" for r in changed))


def summarize_indexed(session: IndexSession, run_ids: Sequence[str]) -> None:
    """Append the summaries of those of these runs that are finished, from the rows the
    index holds now (inside the write transaction that put them there)."""
    if not session.summarize:
        return
    db, identity = session.db, session.journal.identity()
    lines, checks = [], []
    live = tuple(RunStatus.LIVE)
    for chunk in chunks(sorted(run_ids)):
        marks = ",".join("?" * len(chunk))
        runs = db.execute(
            "SELECT experiment_id, run_name, status, start_time, end_time, lifecycle_stage, "
            "deleted_time, user_id, parent_run_id, doc_signature, params_offset, "
            f"tags_offset, metrics_offset, run_id FROM runs WHERE run_id IN ({marks}) "
            f"AND status NOT IN ({','.join('?' * len(live))})",
            (*chunk, *live),
        ).fetchall()
        if not runs:
            continue
        children: dict[str, dict[str, list[tuple[Any, ...]]]] = {
            row[-1]: {"params": [], "tags": [], "latest_metrics": []} for row in runs
        }
        marks = ",".join("?" * len(runs))
        ids = [row[-1] for row in runs]
        for table, columns in (
            ("params", "run_id, key, value"),
            ("tags", "run_id, key, value"),
            ("latest_metrics", "run_id, key, value, is_nan, step, timestamp"),
        ):
            for row in db.execute(f"SELECT {columns} FROM {table} WHERE run_id IN ({marks})", ids):
                children[row[0]][table].append(row)
        for row in runs:
            rows = children[row[-1]]
            lines.append(
                encode(row, rows["params"], rows["tags"], rows["latest_metrics"], identity)
            )
            checks.append(check_row(row))
    append_checked(session.journal, str(session.layout.runs_dir), b"".join(lines), checks)


Location = tuple[int, int]  # a line's offset in the journal, and its length


def latest_lines(journal: ChangeJournal, wanted: set[str]) -> dict[str, Location]:
    """For each run of ``wanted`` whose last line in the journal is a summary, where
    that line is. Only the run id of each line is looked at: the value of its one
    ``"run_id":`` key (no summary holds an object with that key but the line's own)."""
    latest: dict[str, Location] = {}
    start = 0
    for data, end in read_log_chunks(journal.path, 0):
        position = start
        for line in data.splitlines(keepends=True):
            at = line.find(_RUN_ID_FIELD)  # a key of the line's object, once
            if at >= 0:
                opening = line.find(b'"', at + len(_RUN_ID_FIELD))
                closing = line.find(b'"', opening + 1)
                run_id = line[opening + 1 : closing].decode(errors="replace")
                if opening >= 0 and closing > opening and run_id in wanted:
                    if line.startswith(SUMMARY_PREFIX):
                        latest[run_id] = (position, len(line))
                    else:
                        latest.pop(run_id, None)
            position += len(line)
        start = end
    return latest


def rows_of_line(
    line: bytes, run_id: str, runs_dir: str, journal: str | None, mode: str
) -> tuple[RunRow, list[Any], list[Any], list[Any]] | None:
    """The rows a summary line holds: the run's row, its params, tags and latest
    metrics; None when the line is not one run's sound summary, or (for a summary of
    another journal, or in ``VERIFY`` mode) when the run's files differ from it."""
    try:
        record = json.loads(line)
        summary = record["summary"]
        row = (*summary["run"], run_id)
        if len(row) != 14 or record.get("run_id") != run_id:
            return None
        params = [(run_id, key, value) for key, value in summary["params"]]
        tags = [(run_id, key, value) for key, value in summary["tags"]]
        metrics = [
            (run_id, key, value, is_nan, step, timestamp)
            for key, value, is_nan, step, timestamp in summary["metrics"]
        ]
    except (KeyError, TypeError, ValueError):
        return None
    if mode == VERIFY or record.get("journal") != journal:
        signature = _checked_signature(runs_dir, row)
        if signature is None:
            return None
        row = (*row[:_SIGNATURE], signature, *row[_SIGNATURE + 1 :])
    return row, params, tags, metrics


def _checked_signature(runs_dir: str, row: RunRow) -> str | None:
    """run.json's signature now, if the run's files are as the summary says (the
    same log sizes, and run.json of the same size and modification time: a copy
    keeps those, not the inode); None if not."""
    folder = f"{runs_dir}{os.sep}{row[-1]}{os.sep}"
    try:
        stat = os.stat(f"{folder}{RUN_DOC}")
    except OSError:
        return None
    recorded = str(row[_SIGNATURE]).split(":")
    if recorded[1:] != [str(stat.st_size), str(stat.st_mtime_ns)]:
        return None
    for log, offset in zip((PARAMS_LOG, TAGS_LOG, METRICS_LOG), row[10:13], strict=True):
        if file_size(f"{folder}{log}") != offset:
            return None
    return f"{stat.st_ino}:{stat.st_size}:{stat.st_mtime_ns}"
