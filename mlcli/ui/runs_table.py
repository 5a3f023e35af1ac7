"""The runs table: one page of an experiment's runs, filtered, sorted, with chosen columns.

A view is what the page's URL holds: the filter (the language of ``mlcli compare``),
one sort column, the columns, and the offset. Only the page's runs are read: the
index finds, counts, orders and cuts them (``search_runs`` with ``offset``,
``count_matching_runs`` of ``mlcli.search.runs``), however many runs the experiment has.

Column keys are those of ``mlcli compare``: the run facts ``status``, ``start_time``,
``duration``, ``git_commit``, ``user_id``, and ``params.KEY``, ``metrics.KEY``,
``tags.KEY``. Every column sorts.
"""

from __future__ import annotations

import csv
import io
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from mlcli import system_tags
from mlcli.errors import InvalidInputError
from mlcli.search.runs import count_matching_runs
from mlcli.store import Run, json_number
from mlcli.tracking import TrackingClient

MAX_PAGE_SIZE = 500
DEFAULT_PAGE_SIZE = 50
DEFAULT_SORT = "-start_time"
INFO_COLUMNS = ("status", "start_time", "duration", "git_commit", "user_id")
DEFAULT_INFO_COLUMNS = ("status", "start_time", "duration", "git_commit")
DEFAULT_KEYS_PER_KIND = 6  # params and metrics shown when the view names no columns
_KINDS = {"params": "param", "metrics": "metric", "tags": "tag"}
_ORDER_KEYS = {
    "run_name": "attributes.run_name",
    "status": "attributes.status",
    "start_time": "attributes.start_time",
    "duration": "attributes.duration",
    "user_id": "attributes.user_id",
    "git_commit": f"tags.`{system_tags.GIT_COMMIT}`",
}
_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\Z")


@dataclass(frozen=True)
class RunsView:
    """One page of the runs table, as the URL states it."""

    experiment_id: str
    filter: str = ""
    sort: str = DEFAULT_SORT  # a column key, "-" first for descending
    columns: tuple[str, ...] | None = None  # None: the defaults for the runs shown
    offset: int = 0
    limit: int = DEFAULT_PAGE_SIZE

    def __post_init__(self) -> None:
        if self.offset < 0:
            raise InvalidInputError(f"invalid offset {self.offset}: must be ≥ 0")
        if not 1 <= self.limit <= MAX_PAGE_SIZE:
            raise InvalidInputError(f"invalid limit {self.limit}: must be 1 to {MAX_PAGE_SIZE}")
        for key in self.columns or ():
            column_kind(key)
        column_kind(self.sort.removeprefix("-"))

    @property
    def order_by(self) -> list[str]:
        """The sort as an order-by clause of the filter language."""
        descending = self.sort.startswith("-")
        key = self.sort.removeprefix("-")
        if key == "run_id":
            return [f"attributes.run_id {'DESC' if descending else 'ASC'}"]
        if key in _ORDER_KEYS:
            term = _ORDER_KEYS[key]
        else:
            prefix, name = key.split(".", 1)
            term = f"{prefix}.`{name}`"
        return [f"{term} {'DESC' if descending else 'ASC'}"]


def column_kind(key: str) -> str:
    """ "info", "param", "metric" or "tag"; InvalidInputError for an unknown column."""
    if key in INFO_COLUMNS or key in ("run_name", "run_id"):
        return "info"
    prefix, _, name = key.partition(".")
    if prefix in _KINDS and name:
        if "`" in name:
            raise InvalidInputError(f"invalid column {key!r}: keys cannot hold '`'")
        return _KINDS[prefix]
    raise InvalidInputError(
        f"unknown column {key!r}: expected one of {', '.join(INFO_COLUMNS)}, "
        "or params.KEY, metrics.KEY, tags.KEY"
    )


def runs_page(client: TrackingClient, view: RunsView) -> dict[str, Any]:
    """The page as the API sends it: the total matching, the columns and the rows."""
    experiment = client.get_experiment(view.experiment_id)
    total = count_matching_runs(client.store, [experiment.experiment_id], view.filter or None)
    runs = client.search_runs(
        [experiment.experiment_id],
        view.filter or None,
        order_by=view.order_by,
        max_results=view.limit,
        offset=view.offset,
    )
    columns = list(view.columns) if view.columns is not None else default_columns(runs)
    return {
        "experiment": {"experiment_id": experiment.experiment_id, "name": experiment.name},
        "total": total,
        "offset": view.offset,
        "limit": view.limit,
        "filter": view.filter,
        "sort": view.sort,
        "columns": [{"key": key, "kind": column_kind(key)} for key in columns],
        "runs": [
            {
                "run_id": run.run_id,
                "run_name": run.info.run_name,
                "values": {key: _json_value(cell(run, key)) for key in columns},
            }
            for run in runs
        ],
    }


def runs_csv(client: TrackingClient, view: RunsView, every_page: bool = False) -> str:
    """The rows shown (or, with ``every_page``, every matching run) as CSV: the column
    keys as header, stored values (times in ms), text that a spreadsheet would take
    for a formula prefixed with ``'``."""
    experiment = client.get_experiment(view.experiment_id)
    runs = client.search_runs(
        [experiment.experiment_id],
        view.filter or None,
        order_by=view.order_by,
        max_results=None if every_page else view.limit,
        offset=0 if every_page else view.offset,
    )
    columns = ["run_id", "run_name", *(view.columns or default_columns(runs))]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    for run in runs:
        writer.writerow([_csv_text(cell(run, key)) for key in columns])
    return buffer.getvalue()


def default_columns(runs: Sequence[Run]) -> list[str]:
    """The run facts, then the first params and metrics (by key) the runs have."""
    params = sorted({k for run in runs for k in run.data.params})[:DEFAULT_KEYS_PER_KIND]
    metrics = sorted({k for run in runs for k in run.data.latest_metrics})
    return [
        *DEFAULT_INFO_COLUMNS,
        *(f"params.{k}" for k in params),
        *(f"metrics.{k}" for k in metrics[:DEFAULT_KEYS_PER_KIND]),
    ]


def cell(run: Run, key: str) -> str | int | float | None:
    """The stored value of one column for one run (None when the run lacks it)."""
    info, data = run.info, run.data
    if key == "duration":
        return None if info.end_time is None else info.end_time - info.start_time
    if key == "git_commit":
        return data.tags.get(system_tags.GIT_COMMIT)
    if key in ("run_id", "run_name", "status", "start_time", "user_id"):
        value: str | int = getattr(info, key)
        return value
    prefix, _, name = key.partition(".")
    if prefix == "params":
        return data.params.get(name)
    if prefix == "tags":
        return data.tags.get(name)
    metric = data.latest_metrics.get(name)
    return None if metric is None else metric.value


def _json_value(value: str | int | float | None) -> str | int | float | None:
    return json_number(value) if isinstance(value, float) else value


def _csv_text(value: str | int | float | None) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else str(json_number(value))
    text = str(value)
    if text[:1] in ("=", "+", "-", "@", "\t", "\r") and not _NUMBER.match(text):
        return "'" + text  # not a formula when opened in a spreadsheet
    return text
