"""Comparing runs: the side-by-side table of ``mlcli compare``, the best run of
``mlcli select``, the run diff of ``mlcli diff`` and runs as a pandas DataFrame.

    select_runs(client, refs, ...)      the runs a comparison shows
    build_comparison(runs, ...)         columns, changed columns, best value per metric
    to_csv / to_markdown                the comparison as text (JSON: .records())
    best_run(client, metric, maximize)  the best run by one metric
    diff_runs(run_a, run_b, ...)        params, metrics, tags, environment, code
    diff_tracked_runs(client, a, b)     the same, for two runs named by id or prefix
    runs_frame(runs)                    a pandas DataFrame (MLflow's search_runs shape)

The command-line use is described in ``docs/compare.md``.
"""

from mlcli.compare.columns import Column, choose_columns
from mlcli.compare.diff import MappingDiff, MetricChange, RunDiff, diff_runs, diff_tracked_runs
from mlcli.compare.direction import Directions
from mlcli.compare.formats import display_value, header, to_csv, to_markdown
from mlcli.compare.frame import runs_frame
from mlcli.compare.selection import NoRunError, best_run, select_runs
from mlcli.compare.table import Comparison, build_comparison, cell_value

__all__ = [
    "Column",
    "Comparison",
    "Directions",
    "MappingDiff",
    "MetricChange",
    "NoRunError",
    "RunDiff",
    "best_run",
    "build_comparison",
    "cell_value",
    "choose_columns",
    "diff_runs",
    "diff_tracked_runs",
    "display_value",
    "header",
    "runs_frame",
    "select_runs",
    "to_csv",
    "to_markdown",
]
