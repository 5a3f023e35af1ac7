"""``mlcli compare``, ``mlcli select`` and ``mlcli diff``: runs side by side, the best
run by a metric, and what changed between two runs."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from mlcli import system_tags
from mlcli.cli.options import (
    ExperimentOption,
    FilterOption,
    JsonOption,
    LimitOption,
    OrderByOption,
)
from mlcli.cli.output import Output
from mlcli.cli.state import client as get_client
from mlcli.errors import InvalidInputError

if TYPE_CHECKING:
    from mlcli.compare import Comparison, MappingDiff, RunDiff
    from mlcli.compare.code import CodeDiff
    from mlcli.store import Run
    from mlcli.tracking import TrackingClient

MAX_PLOTTED_RUNS = 12
CHART_HEIGHT = 16
CHART_MAX_WIDTH = 120

HigherOption = Annotated[
    list[str] | None,
    typer.Option(
        "--higher-is-better",
        metavar="METRIC",
        help="A metric (or glob) whose higher values are better (repeatable).",
    ),
]
LowerOption = Annotated[
    list[str] | None,
    typer.Option(
        "--lower-is-better",
        metavar="METRIC",
        help="A metric (or glob) whose lower values are better (repeatable).",
    ),
]


def compare(
    ctx: typer.Context,
    runs: Annotated[
        list[str] | None,
        typer.Argument(
            metavar="RUN...",
            help="Runs (ids or unique prefixes); default: every run that matches.",
        ),
    ] = None,
    experiment: ExperimentOption = None,
    parent: Annotated[
        str | None,
        typer.Option(
            "--parent",
            metavar="RUN",
            help="The child runs of RUN (a sweep's trials), best first by the sweep's objective.",
        ),
    ] = None,
    filter_: FilterOption = None,
    order_by: OrderByOption = None,
    limit: LimitOption = None,
    columns: Annotated[
        list[str] | None,
        typer.Option(
            "--columns",
            "-c",
            help="Columns after run id and name, comma-separated: params.KEY, metrics.KEY, "
            "tags.KEY, status, start_time, duration, git_commit, or globs (metrics.val_*).",
        ),
    ] = None,
    only_changed: Annotated[
        bool, typer.Option("--only-changed", help="Only columns whose values differ.")
    ] = False,
    higher: HigherOption = None,
    lower: LowerOption = None,
    transpose: Annotated[
        bool | None,
        typer.Option(
            "--transpose/--no-transpose",
            help="One row per column, one column per run (default: when too wide for the "
            "terminal).",
        ),
    ] = None,
    plot: Annotated[
        str | None,
        typer.Option("--plot", metavar="METRIC", help="Draw METRIC's history for the runs."),
    ] = None,
    plot_file: Annotated[
        Path | None,
        typer.Option(
            "--plot-file", metavar="PATH", help="Write the --plot chart to a .html or .png file."
        ),
    ] = None,
    json_: JsonOption = False,
    csv_: Annotated[bool, typer.Option("--csv", help="Print CSV to stdout.")] = False,
    md: Annotated[bool, typer.Option("--md", help="Print a Markdown table to stdout.")] = False,
) -> None:
    """Compare runs side by side, one row per run.

    Columns: name, id, status, start, duration, git commit, params and latest metrics.

    On a terminal, columns that differ stand out and each metric's best value is highlighted.

    With --parent, the runs are a sweep's trials (the child runs of the parent run), best
    first by the objective the sweep recorded.

    Example: mlcli compare --filter "params.model = 'rf'" --order-by "metrics.acc DESC" -n 5
    """
    from mlcli.cli.damage import warn_damaged_runs
    from mlcli.compare import Directions, build_comparison, select_runs, to_csv, to_markdown

    formats = [name for name, on in (("--json", json_), ("--csv", csv_), ("--md", md)) if on]
    if len(formats) > 1:
        raise InvalidInputError(f"{formats[0]} and {formats[1]} cannot be used together")
    if plot_file is not None and plot is None:
        raise InvalidInputError("--plot-file needs --plot METRIC")
    if plot is not None and formats and plot_file is None:
        raise InvalidInputError(
            f"--plot draws on the terminal, not with {formats[0]}: add --plot-file PATH"
        )
    client = get_client(ctx)
    if parent is not None:
        from mlcli.sweeps import sweep_trials

        if runs or experiment is not None:
            raise InvalidInputError(
                "--parent cannot be combined with RUN arguments or --experiment"
            )
        trials = sweep_trials(client, parent, filter_, order_by, limit)
        selected = trials.runs
        objective = trials.objective
        if objective is not None and not higher and not lower:  # highlight as the sweep ranks
            key = [objective.metric]
            higher, lower = (key, []) if objective.maximize else ([], key)
    else:
        selected = select_runs(client, runs or (), experiment, filter_, order_by, limit)
    directions = Directions.of(higher or (), lower or ())
    comparison = build_comparison(selected, columns, only_changed, directions)
    out = Output(json_mode=json_)
    warn_damaged_runs(out, client.store)
    if json_:
        out.json(comparison.records())
    elif csv_:
        out.line(to_csv(comparison).removesuffix("\n"))
    elif md:
        out.line(to_markdown(comparison).removesuffix("\n"))
    elif not selected:
        out.info("No runs to compare.")
    else:
        render_comparison(out, comparison, transpose)
    if plot is not None:
        _plot(out, client, selected, plot, plot_file)


def select(
    ctx: typer.Context,
    max_: Annotated[
        str | None, typer.Option("--max", metavar="METRIC", help="The run with the highest METRIC.")
    ] = None,
    min_: Annotated[
        str | None, typer.Option("--min", metavar="METRIC", help="The run with the lowest METRIC.")
    ] = None,
    experiment: ExperimentOption = None,
    filter_: FilterOption = None,
    json_: JsonOption = False,
) -> None:
    """Print the id of the best run by one metric (ties: the newest), for scripts.

    Exits 1 with a message when no run matches or none has the metric.

    Example: BEST=$(mlcli select --max metrics.acc --experiment demo --filter "status = 'FINISHED'")
    """
    from mlcli.compare import best_run

    if (max_ is None) == (min_ is None):
        raise InvalidInputError("give one of --max METRIC or --min METRIC")
    metric = _metric_name(max_ or min_ or "")
    best = best_run(get_client(ctx), metric, max_ is not None, experiment, filter_)
    out = Output(json_mode=json_)
    if json_:
        out.json(best.to_dict())
    else:
        out.line(best.run_id)


def diff(
    ctx: typer.Context,
    run_a: Annotated[str, typer.Argument(metavar="RUN_A", help="The first run (id or prefix).")],
    run_b: Annotated[str, typer.Argument(metavar="RUN_B", help="The second run (id or prefix).")],
    repo: Annotated[
        Path | None,
        typer.Option(
            "--repo",
            help="The git repository of the runs' commits (default: found from the working "
            "directory or the runs' source).",
        ),
    ] = None,
    higher: HigherOption = None,
    lower: LowerOption = None,
    json_: JsonOption = False,
) -> None:
    """Show what changed from RUN_A to RUN_B.

    Params, metrics, tags, environment and packages, and through git the commits and
    files between the runs' code.

    Example: mlcli diff 3f2a 9bc1
    """
    from mlcli.compare import Directions, diff_tracked_runs

    result = diff_tracked_runs(
        get_client(ctx),
        run_a,
        run_b,
        cwd=Path.cwd(),
        repository=repo,
        directions=Directions.of(higher or (), lower or ()),
    )
    out = Output(json_mode=json_)
    if json_:
        out.json(result.to_dict())
    else:
        render_diff(out, result)


# -- rendering -----------------------------------------------------------------------------------


def render_comparison(out: Output, comparison: Comparison, transpose: bool | None) -> None:
    """The comparison as a table: one row per run, or (transposed) one row per column.
    On a terminal, columns that are the same for every run are dimmed, the headers of
    those that differ are yellow, and the best value of each metric is bold green."""
    from mlcli.compare import display_value, header

    columns = comparison.columns
    headers = [header(c) for c in columns]
    rows = range(len(comparison.runs))
    cells = [[display_value(comparison, row, c) for c in columns] for row in rows]
    styles = [[_cell_style(comparison, row, c.key) for c in columns] for row in rows]
    header_styles = [
        "bold yellow" if c.key in comparison.changed and c.kind != "info" else None for c in columns
    ]
    if transpose is None:
        natural = sum(max([len(h), *(len(r[i]) for r in cells)]) + 2 for i, h in enumerate(headers))
        transpose = out.stdout_tty and natural > out.width and len(columns) > len(cells)
    if not transpose:
        out.table(headers, cells, styles=styles, header_styles=header_styles)
        return
    names = [row[1] for row in cells]  # the NAME column titles the run's column
    out.table(
        ["", *names],
        [[h, *(row[i] for row in cells)] for i, h in enumerate(headers) if i != 1],
        styles=[
            [header_styles[i] or "bold", *(row[i] for row in styles)]
            for i in range(len(headers))
            if i != 1
        ],
    )


def _cell_style(comparison: Comparison, row: int, key: str) -> str | None:
    if row in comparison.best.get(key, ()):
        return "bold green"
    if key not in comparison.changed and key not in ("run_id", "run_name"):
        return "dim"
    return None


def _plot(
    out: Output, client: TrackingClient, runs: list[Run], metric: str, path: Path | None
) -> None:
    from mlcli.plots import metric_chart, render_chart, write_chart

    metric = _metric_name(metric)
    if len(runs) > MAX_PLOTTED_RUNS:
        out.warn(f"plotting the first {MAX_PLOTTED_RUNS} of {len(runs)} runs (see --limit)")
        runs = runs[:MAX_PLOTTED_RUNS]
    histories = [client.get_metric_history(run.run_id, metric) for run in runs]
    chart = metric_chart(metric, runs, histories)
    if path is not None:
        out.info(f"Wrote {write_chart(chart, path)}")
        return
    if not out.json_mode:
        out.line()
    out.lines(render_chart(chart, min(out.width, CHART_MAX_WIDTH), CHART_HEIGHT, out.color))


def _metric_name(text: str) -> str:
    """``metrics.acc`` or ``acc``: the metric's key."""
    for prefix in ("metrics.", "metric."):
        if text.startswith(prefix):
            return text[len(prefix) :]
    return text


def render_diff(out: Output, result: RunDiff) -> None:
    from mlcli.compare.formats import SHORT_COMMIT, SHORT_ID

    for label, run in (("A", result.run_a), ("B", result.run_b)):
        commit = run.data.tags.get(system_tags.GIT_COMMIT)
        at = f"  (commit {commit[:SHORT_COMMIT]})" if commit else ""
        out.line(f"Run {label}  {run.run_id[:SHORT_ID]}  {run.info.run_name}{at}")
    _mapping_section(out, "Params", result.params)
    _metrics_section(out, result)
    _mapping_section(out, "Tags", result.tags)
    _mapping_section(out, "Environment", result.environment)
    if result.packages is not None:
        _mapping_section(out, "Packages", result.packages)
    _code_section(out, result.code)


def _mapping_section(out: Output, title: str, changes: MappingDiff) -> None:
    rows = [("~", k, f"{a} → {b}") for k, (a, b) in changes.changed.items()]
    rows += [("+", k, v) for k, v in changes.added.items()]
    rows += [("-", k, v) for k, v in changes.removed.items()]
    if not rows:
        out.line()
        out.line(f"{out.paint(title, 'bold')}: no changes ({changes.unchanged} the same)")
        return
    _section(out, title, rows, f"{changes.unchanged} unchanged" if changes.unchanged else "")


def _metrics_section(out: Output, result: RunDiff) -> None:
    rows = []
    unchanged = 0
    for change in result.metrics:
        if change.status == "unchanged":
            unchanged += 1
        elif change.status == "added":
            rows.append(("+", change.key, f"{change.b:g}"))
        elif change.status == "removed":
            rows.append(("-", change.key, f"{change.a:g}"))
        else:
            text = f"{change.a:g} → {change.b:g}"
            if change.change is not None:
                text += f"  {change.change:+g}"
            if change.relative_change is not None:
                text += f" ({change.relative_change:+.1%})"
            if change.better is not None:
                text += "  " + (
                    out.paint("better", "green") if change.better else out.paint("worse", "red")
                )
            rows.append(("~", change.key, text))
    if not rows:
        out.line()
        out.line(f"{out.paint('Metrics', 'bold')}: no changes ({unchanged} the same)")
        return
    _section(out, "Metrics", rows, f"{unchanged} unchanged" if unchanged else "")


def _section(out: Output, title: str, rows: list[tuple[str, str, str]], footer: str) -> None:
    out.line()
    out.line(out.paint(title, "bold"))
    width = max(len(key) for _, key, _ in rows)
    colors = {"+": "green", "-": "red", "~": "yellow"}
    for mark, key, text in rows:
        out.line(f"  {out.paint(mark, colors[mark])} {key.ljust(width)}  {text}")
    if footer:
        out.line(f"  ({footer})")


def _code_section(out: Output, code: CodeDiff) -> None:
    out.line()
    out.line(out.paint("Code", "bold"))
    if code.repository is not None:
        out.line(f"  repository  {code.repository}")
    if code.note:
        out.line(f"  {code.note}")
    if code.commit_a and code.commit_b and code.commit_a != code.commit_b and not code.note:
        a, b = code.commit_a[:7], code.commit_b[:7]
        out.line(f"  {len(code.commits)} commit(s) from {a} to {b}:")
        out.lines([f"    {c.sha[:7]} {c.subject}" for c in code.commits])
        if code.commits_back:
            out.line(f"  {len(code.commits_back)} commit(s) in {a} and not in {b}:")
            out.lines([f"    {c.sha[:7]} {c.subject}" for c in code.commits_back])
        stat = code.stat.rstrip("\n")
        out.line(f"  git diff --stat {a} {b}:")
        out.lines([f"  {line}" for line in stat.splitlines()] or ["   (no changes)"])
    for label, changes in (("A", code.uncommitted_a), ("B", code.uncommitted_b)):
        if changes is not None:
            files = ", ".join(changes.files + changes.untracked) or "no files"
            out.line(f"  run {label} had uncommitted changes: {files}")
            out.line(f"    {changes.artifact}")
