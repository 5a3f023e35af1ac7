"""``mlcli push``, ``mlcli pull`` and ``mlcli clone``: share runs, experiments and
registered models through a remote (see docs/remotes.md)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from mlcli.cli.options import JsonOption, QuietOption
from mlcli.cli.output import Output, byte_size
from mlcli.cli.state import cli_state

if TYPE_CHECKING:
    from mlcli.store.sync import Report
    from mlcli.transfers import Wanted

RemoteArgument = Annotated[
    str | None,
    typer.Argument(help="A remote's name or URL (default: the default remote)."),
]
ExperimentOption = Annotated[
    list[str] | None,
    typer.Option("--experiment", "-x", help="Only the runs of this experiment (repeatable)."),
]
RunOption = Annotated[list[str] | None, typer.Option("--run", help="Only this run (repeatable).")]
ModelOption = Annotated[
    list[str] | None,
    typer.Option("--model", help="Only this registered model, with its versions (repeatable)."),
]
ModelsOption = Annotated[
    bool, typer.Option("--models", help="Only the registry: every registered model.")
]
DryRunOption = Annotated[bool, typer.Option("--dry-run", help="Say what would move; move nothing.")]


def push(
    ctx: typer.Context,
    remote: RemoteArgument = None,
    experiment: ExperimentOption = None,
    filter_: Annotated[
        str | None,
        typer.Option("--filter", help="Only the runs this filter matches (the filter language)."),
    ] = None,
    run: RunOption = None,
    model: ModelOption = None,
    models: ModelsOption = False,
    dry_run: DryRunOption = False,
    json_: JsonOption = False,
    quiet: QuietOption = False,
) -> None:
    """Send what changed here since the last push to a remote: runs, their
    experiments (matched by name) and registered models.

    Example: mlcli push origin --experiment churn
    """
    from mlcli.transfers import push as push_to

    wanted = _wanted(experiment, filter_, run, model, models)
    _transfer(ctx, push_to, "Pushing runs", remote, wanted, dry_run, Output(json_, quiet))


def pull(
    ctx: typer.Context,
    remote: RemoteArgument = None,
    experiment: ExperimentOption = None,
    run: RunOption = None,
    model: ModelOption = None,
    models: ModelsOption = False,
    dry_run: DryRunOption = False,
    json_: JsonOption = False,
    quiet: QuietOption = False,
) -> None:
    """Bring what changed on a remote since the last pull into this store.

    Example: mlcli pull origin
    """
    from mlcli.transfers import pull as pull_from

    wanted = _wanted(experiment, None, run, model, models)
    _transfer(ctx, pull_from, "Pulling runs", remote, wanted, dry_run, Output(json_, quiet))


def clone(
    url: Annotated[str, typer.Argument(help="s3://bucket[/prefix], file:///path or a path.")],
    directory: Annotated[
        Path | None,
        typer.Argument(help="Where to make the store (default: the URL's last part)."),
    ] = None,
    json_: JsonOption = False,
    quiet: QuietOption = False,
) -> None:
    """Make a new store from a remote, with the remote as its default, ``origin``.

    Example: mlcli clone s3://team-bucket/mlcli team-runs
    """
    from mlcli.transfers import clone as clone_from

    out = Output(json_mode=json_, quiet=quiet)
    with out.progress("Cloning runs") as progress:
        root, report = clone_from(url, directory, progress)
    if json_:
        out.json({"store": str(root), **report.to_dict()})
        return
    _warnings(out, report)
    out.info(f"Cloned {report.url} into {root}: {_counts(report)}")


def _transfer(
    ctx: typer.Context,
    move: Callable[..., Report],
    label: str,
    remote: str | None,
    wanted: Wanted,
    dry_run: bool,
    out: Output,
) -> None:
    with out.progress(label) as progress:
        report = move(cli_state(ctx).client(), remote, wanted, dry_run, progress)
    _render(out, report, out.json_mode)


def _wanted(
    experiments: list[str] | None,
    filter_string: str | None,
    runs: list[str] | None,
    model_names: list[str] | None,
    all_models: bool,
) -> Wanted:
    from mlcli.transfers import Wanted

    chosen_models = None if not (model_names or all_models) else tuple(model_names or ())
    return Wanted(tuple(experiments or ()), filter_string, tuple(runs or ()), chosen_models)


def _render(out: Output, report: Report, json_: bool) -> None:
    if json_:
        out.json(report.to_dict())
        return
    _warnings(out, report)
    for run_id in sorted(report.runs):
        out.line(run_id)
    verb = {"push": "Pushed", "pull": "Pulled"}[report.direction]
    if report.dry_run:
        verb = f"Would have {verb.lower()}"
    where = "to" if report.direction == "push" else "from"
    if not (report.runs or report.experiments or report.models):
        out.info(f"Everything up to date with {report.url}")
        return
    out.info(f"{verb} {_counts(report)} {where} {report.url}")


def _counts(report: Report) -> str:
    return (
        f"{len(report.runs)} run(s), {len(report.experiments)} experiment(s), "
        f"{len(report.models)} model(s) ({report.objects} objects, {byte_size(report.bytes)})"
    )


def _warnings(out: Output, report: Report) -> None:
    for conflict in report.conflicts:
        out.warn(conflict.describe())
    for notice in report.notices:
        out.warn(notice)
