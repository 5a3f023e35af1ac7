"""A comparison as text: CSV and Markdown (JSON is ``Comparison.records``), and the
human form of each cell that tables and Markdown show."""

from __future__ import annotations

import csv
import io

from mlcli.clock import format_duration, format_timestamp, now_ms
from mlcli.compare.columns import Column
from mlcli.compare.table import Comparison, Value

SHORT_ID = 8
SHORT_COMMIT = 7
_HEADERS = {
    "run_id": "RUN",
    "run_name": "NAME",
    "status": "STATUS",
    "start_time": "STARTED",
    "duration_ms": "DURATION",
    "git_commit": "COMMIT",
}


def to_csv(comparison: Comparison) -> str:
    """Column keys as the header, then one line per run with the values of --json
    (missing values empty; non-finite metrics as NaN, Infinity, -Infinity)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([c.key for c in comparison.columns])
    for record in comparison.records():
        writer.writerow(["" if v is None else _csv_text(v) for v in record.values()])
    return buffer.getvalue()


def to_markdown(comparison: Comparison) -> str:
    """A Markdown table of the same rows and columns, with human values (short ids,
    local times) and the best value of each metric in bold."""
    columns = comparison.columns
    lines = [
        "| " + " | ".join(c.key for c in columns) + " |",
        "|" + "|".join("---" for _ in columns) + "|",
    ]
    for row in range(len(comparison.runs)):
        cells = []
        for column in columns:
            text = display_value(comparison, row, column).replace("|", "\\|")
            if text and row in comparison.best.get(column.key, ()):
                text = f"**{text}**"
            cells.append(text)
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def header(column: Column) -> str:
    """A column's title in tables: short names for the run's facts, keys otherwise."""
    return _HEADERS.get(column.key, column.key) if column.kind == "info" else column.key


def display_value(comparison: Comparison, row: int, column: Column) -> str:
    """A cell as people read it: short ids and commits, local times, durations."""
    value = comparison.value(row, column)
    if column.kind == "info":
        info = comparison.runs[row].info
        if column.name == "run_id":
            return info.run_id[:SHORT_ID]
        if column.name == "start_time":
            return format_timestamp(info.start_time)
        if column.name == "duration_ms":
            end = info.end_time if info.end_time is not None else now_ms()
            return format_duration(end - info.start_time)
        if column.name == "git_commit":
            return "" if value is None else str(value)[:SHORT_COMMIT]
    return _human(value)


def _human(value: Value) -> str:
    if value is None:
        return ""
    return f"{value:g}" if isinstance(value, float) else str(value)


def _csv_text(value: Value) -> str:
    return repr(value) if isinstance(value, float) else str(value)
