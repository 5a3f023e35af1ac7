"""``mlcli runs``: create, end, cancel, list, show, delete, restore runs; list their
artifacts."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from mlcli.assignments import parse_key_values
from mlcli.cli.options import (
    ExperimentIdOption,
    ExperimentNameOption,
    ExperimentOption,
    FilterOption,
    JsonOption,
    LimitOption,
    OrderByOption,
    QuietOption,
    chosen_experiment,
)
from mlcli.cli.output import Output, byte_size
from mlcli.cli.state import client as get_client
from mlcli.errors import InvalidInputError

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

    from mlcli.store import FileInfo, Run

app = typer.Typer(
    help="Create, end, cancel, list, show, delete and restore runs.", no_args_is_help=True
)

RunArgument = Annotated[
    str,
    typer.Argument(
        help="Run id or unique prefix.",
        envvar=["MLCLI_RUN_ID", "MLFLOW_RUN_ID"],
        show_envvar=False,
    ),
]
# MLflow's ``mlflow runs describe/delete/restore --run-id ID``, beside mlcli's argument.
RunIdOption = Annotated[
    str | None, typer.Option("--run-id", hidden=True, help="The run (MLflow's option name).")
]


def _the_run(run: str | None, run_id: str | None) -> str:
    if run is not None and run_id is not None:
        raise InvalidInputError("give the run once: RUN or --run-id RUN")
    chosen = run_id if run is None else run
    if chosen is None:
        raise InvalidInputError("name the run: RUN, or --run-id RUN")
    return chosen


@app.command("create")
def create(
    ctx: typer.Context,
    experiment: ExperimentOption = None,
    experiment_name: ExperimentNameOption = None,
    experiment_id_: ExperimentIdOption = None,
    name: Annotated[
        str | None, typer.Option("--name", "-n", "--run-name", help="Run name.")
    ] = None,
    tag: Annotated[
        list[str] | None, typer.Option("--tag", "-t", help="A tag as KEY=VALUE (repeatable).")
    ] = None,
    parent: Annotated[
        str | None,
        typer.Option(
            "--parent", "--parent-run-id", help="Parent run (id or prefix) of a nested run."
        ),
    ] = None,
    json_: JsonOption = False,
    quiet: QuietOption = False,
) -> None:
    """Create a run (RUNNING) and print its id.

    The experiment is created if it does not exist.

    Example: RUN=$(mlcli runs create --experiment demo --name baseline -q)
    """
    client = get_client(ctx)
    reference = chosen_experiment(ctx, experiment, experiment_name, experiment_id_)
    experiment_id = (
        reference
        if experiment_id_ is not None
        else client.get_or_create_experiment(reference).experiment_id
        if reference
        else None
    )
    run = client.create_run(
        experiment_id=experiment_id,
        run_name=name,
        tags=parse_key_values(tag or [], "--tag"),
        parent_run_id=parent,
    )
    out = Output(json_mode=json_, quiet=quiet)
    if json_:
        out.json(run.to_dict())
    elif quiet:
        out.line(run.run_id)
    else:
        out.line(run.run_id)
        out.info(f"Created run {run.info.run_name!r} in experiment {run.experiment_name!r}")


@app.command("end")
def end(
    ctx: typer.Context,
    run: RunArgument,
    status: Annotated[
        str, typer.Option("--status", help="FINISHED, FAILED or KILLED.", case_sensitive=False)
    ] = "FINISHED",
    json_: JsonOption = False,
    quiet: QuietOption = False,
) -> None:
    """End a run with a final status.

    Example: mlcli runs end 3f2a --status FAILED
    """
    ended = get_client(ctx).set_terminated(run, status)
    out = Output(json_mode=json_, quiet=quiet)
    if json_:
        out.json(ended.to_dict())
    else:
        out.info(f"Run {ended.run_id[:8]} ended {ended.info.status}")


@app.command("cancel")
def cancel(
    ctx: typer.Context,
    run: RunArgument,
    json_: JsonOption = False,
    quiet: QuietOption = False,
) -> None:
    """Cancel a run carried by a Slurm or Kubernetes job (mlcli run --backend).

    A Slurm job is cancelled with scancel; once Slurm has ended it, the run
    ends KILLED. A Kubernetes Job is deleted (its pods first) and the run
    ends KILLED. A run that no job carries is stopped where it runs (Ctrl-C, kill)
    or ended with 'mlcli runs end'.

    Example: mlcli runs cancel 3f2a
    """
    from mlcli.clusters.cancel import cancel_run

    cancelled = cancel_run(get_client(ctx), run)
    out = Output(json_mode=json_, quiet=quiet)
    if json_:
        out.json(
            {"run_id": cancelled.run_id, "job_id": cancelled.job_id, "status": cancelled.status}
        )
    else:
        what = (
            f"ended {cancelled.status}"
            if cancelled.status not in ("RUNNING", "SCHEDULED")
            else "still ends with its job"
        )
        out.info(
            f"Cancelled {cancelled.scheduler} {cancelled.job_id}; run {cancelled.run_id[:8]} {what}"
        )


@app.command("list")
def list_runs(
    ctx: typer.Context,
    experiment: ExperimentOption = None,
    experiment_id_: ExperimentIdOption = None,
    filter_: FilterOption = None,
    order_by: OrderByOption = None,
    limit: LimitOption = None,
    deleted: Annotated[bool, typer.Option("--deleted", help="Only deleted runs.")] = False,
    all_: Annotated[bool, typer.Option("--all", help="Active and deleted runs.")] = False,
    view_: Annotated[
        str | None,
        typer.Option(
            "--view",
            "-v",
            hidden=True,
            help="MLflow's active_only, deleted_only or all (as --deleted, --all).",
        ),
    ] = None,
    json_: JsonOption = False,
    quiet: QuietOption = False,
) -> None:
    """List runs, newest first (all active experiments unless --experiment).

    Runs are written as they are read, a page at a time, in every format: the
    first comes at once and memory stays flat however many match.

    Example: mlcli runs list --experiment demo --filter "metrics.loss < 0.3" --limit 5
    """
    import itertools

    from mlcli.cli.damage import warn_damaged_runs
    from mlcli.store import ViewType

    if deleted and all_:
        raise InvalidInputError("--deleted and --all cannot be used together")
    view = ViewType.ALL if all_ else ViewType.DELETED_ONLY if deleted else ViewType.ACTIVE_ONLY
    if view_ is not None:
        view = _mlflow_view(view_, deleted or all_)
    client = get_client(ctx)
    experiment = chosen_experiment(ctx, experiment, None, experiment_id_)
    experiment_ids = [client.resolve_experiment(experiment).experiment_id] if experiment else None
    out = Output(json_mode=json_, quiet=quiet)
    if quiet and not json_:  # ids only: the runs themselves are never read
        ids = client.iter_run_ids(experiment_ids, filter_, order_by, limit, view)
        first_id = next(ids, None)  # a bad filter is refused here, before any output
        warn_damaged_runs(out, client.store)
        for run_id in itertools.chain([] if first_id is None else [first_id], ids):
            out.line(run_id)
        return
    stream = client.iter_runs(experiment_ids, filter_, order_by, limit, view)
    first = next(stream, None)  # a bad filter is refused here, before any output
    runs = itertools.chain([] if first is None else [first], stream)
    warn_damaged_runs(out, client.store)
    if json_:
        out.json_stream(r.to_dict() for r in runs)
    else:
        render_runs_table(out, runs)


def _mlflow_view(view: str, also_flags: bool) -> str:
    """MLflow's ``-v/--view`` of ``mlflow runs list``."""
    from mlcli.store import ViewType

    if also_flags:
        raise InvalidInputError("--view and --deleted/--all cannot be used together")
    views = {
        "active_only": ViewType.ACTIVE_ONLY,
        "deleted_only": ViewType.DELETED_ONLY,
        "all": ViewType.ALL,
    }
    chosen = views.get(view.strip().lower())
    if chosen is None:
        raise InvalidInputError(f"--view {view!r}: expected active_only, deleted_only or all")
    return chosen


@app.command("show")
def show(
    ctx: typer.Context,
    run: Annotated[
        str | None,
        typer.Argument(
            help="Run id or unique prefix.",
            envvar=["MLCLI_RUN_ID", "MLFLOW_RUN_ID"],
            show_envvar=False,
            show_default=False,
        ),
    ] = None,
    run_id: RunIdOption = None,
    json_: JsonOption = False,
) -> None:
    """Show a run: info, params, latest metrics, tags.

    Example: mlcli runs show 3f2a --json | jq .metrics
    """
    if run_id is not None and run is not None and run in _attached_runs():
        run = None  # the environment's run gives way to the one asked for
    found = get_client(ctx).get_run(_the_run(run, run_id))
    out = Output(json_mode=json_)
    if json_:
        out.json(found.to_dict())
    else:
        render_run(out, found)


def _attached_runs() -> set[str]:
    import os

    return {os.environ.get(name, "") for name in ("MLCLI_RUN_ID", "MLFLOW_RUN_ID")} - {""}


# ``mlflow runs describe --run-id ID``: the same as show.
app.command("describe", hidden=True)(show)

RunsArgument = Annotated[
    list[str] | None, typer.Argument(help="Run ids or unique prefixes.", show_default=False)
]


@app.command("delete")
def delete(
    ctx: typer.Context,
    runs: RunsArgument = None,
    run_id: RunIdOption = None,
    quiet: QuietOption = False,
) -> None:
    """Delete runs (soft: 'mlcli runs restore' brings them back until 'mlcli gc').

    Example: mlcli runs delete 3f2a 9bc1
    """
    client = get_client(ctx)
    run_ids = [
        client.resolve_run_id(r) for r in _the_runs(runs, run_id)
    ]  # all resolve before any changes
    for run_id in run_ids:
        client.delete_run(run_id)
    Output(quiet=quiet).info(f"Deleted {len(run_ids)} run(s)")


@app.command("restore")
def restore(
    ctx: typer.Context,
    runs: RunsArgument = None,
    run_id: RunIdOption = None,
    quiet: QuietOption = False,
) -> None:
    """Restore deleted runs.

    Example: mlcli runs restore 3f2a
    """
    client = get_client(ctx)
    run_ids = [client.resolve_run_id(r) for r in _the_runs(runs, run_id)]
    for run_id in run_ids:
        client.restore_run(run_id)
    Output(quiet=quiet).info(f"Restored {len(run_ids)} run(s)")


def _the_runs(runs: list[str] | None, run_id: str | None) -> list[str]:
    chosen = [*(runs or ()), *([run_id] if run_id is not None else [])]
    if not chosen:
        raise InvalidInputError("name the runs: RUN..., or --run-id RUN")
    return chosen


@app.command("artifacts")
def artifacts(
    ctx: typer.Context,
    run: RunArgument,
    path: Annotated[str | None, typer.Argument(help="A folder inside the artifacts.")] = None,
    json_: JsonOption = False,
    quiet: QuietOption = False,
) -> None:
    """List a run's artifacts (one level; give PATH to look inside a folder).

    A symbolic link is shown as itself (PATH -> TARGET), never followed.

    Example: mlcli runs artifacts 3f2a model
    """
    entries = get_client(ctx).list_artifacts(run, path)
    out = Output(json_mode=json_, quiet=quiet)
    if json_:
        out.json([e.to_dict() for e in entries])
    elif quiet:
        out.lines([e.path + ("/" if e.is_dir else "") for e in entries])
    else:
        out.table(
            ["PATH", "SIZE"],
            [[_shown_path(e), "" if e.is_dir else _size(e.file_size)] for e in entries],
        )


def _shown_path(entry: FileInfo) -> str:
    if entry.symlink is not None:
        return f"{entry.path} -> {entry.symlink}"
    return entry.path + ("/" if entry.is_dir else "")


def render_runs_table(out: Output, runs: Iterable[Run]) -> None:
    from mlcli.clock import format_duration, format_timestamp, now_ms

    def rows() -> Iterator[list[str]]:
        for run in runs:
            info = run.info
            end = info.end_time if info.end_time is not None else now_ms()
            yield [
                info.run_id[:8],
                info.run_name,
                run.experiment_name or info.experiment_id,
                info.status,
                format_timestamp(info.start_time),
                format_duration(end - info.start_time),
            ]

    out.table_stream(["RUN", "NAME", "EXPERIMENT", "STATUS", "STARTED", "DURATION"], rows())


def render_run(out: Output, run: Run) -> None:
    from mlcli.clock import format_duration, format_timestamp

    info = run.info
    duration = None if info.end_time is None else format_duration(info.end_time - info.start_time)
    out.fields(
        [
            ("id", info.run_id),
            ("name", info.run_name),
            ("experiment", f"{run.experiment_name} ({info.experiment_id})"),
            ("status", info.status),
            ("started", format_timestamp(info.start_time)),
            ("ended", format_timestamp(info.end_time)),
            ("duration", duration),
            ("user", info.user_id),
            ("parent", info.parent_run_id),
            ("lifecycle", info.lifecycle_stage),
            ("artifacts", info.artifact_uri),
        ],
        title="Run",
    )
    sections = [
        ("Params", sorted(run.data.params.items())),
        (
            "Metrics",
            [
                (key, f"{metric.value:g}  (step {metric.step})")
                for key, metric in sorted(run.data.latest_metrics.items())
            ],
        ),
        ("Tags", sorted(run.data.tags.items())),
    ]
    for title, pairs in sections:
        if pairs:
            out.line()
            out.fields(pairs, title=title)


def _size(size: int | None) -> str:
    return "" if size is None else byte_size(size)
