"""``mlcli experiments``: list, create, rename, delete, restore experiments."""

from __future__ import annotations

from typing import Annotated

import typer

from mlcli.cli.options import JsonOption, QuietOption
from mlcli.cli.output import Output
from mlcli.cli.state import client as get_client
from mlcli.errors import InvalidInputError

app = typer.Typer(
    help="List, create, rename, delete and restore experiments.", no_args_is_help=True
)

ExperimentArgument = Annotated[str, typer.Argument(help="Experiment name (or id).")]


@app.command("list")
def list_experiments(
    ctx: typer.Context,
    deleted: Annotated[bool, typer.Option("--deleted", help="Only deleted experiments.")] = False,
    all_: Annotated[bool, typer.Option("--all", help="Active and deleted experiments.")] = False,
    json_: JsonOption = False,
    quiet: QuietOption = False,
) -> None:
    """List experiments with their run counts and last activity.

    Example: mlcli experiments list --json | jq -r '.[].name'
    """
    from mlcli.clock import format_timestamp
    from mlcli.store import ViewType
    from mlcli.tracking.activity import experiments_activity

    if deleted and all_:
        raise InvalidInputError("--deleted and --all cannot be used together")
    view = ViewType.ALL if all_ else ViewType.DELETED_ONLY if deleted else ViewType.ACTIVE_ONLY
    client = get_client(ctx)
    experiments = client.search_experiments(view)
    activity = experiments_activity(client.store, experiments)
    out = Output(json_mode=json_, quiet=quiet)
    if json_:
        out.json(
            [
                {
                    **e.to_dict(),
                    "run_count": activity[e.experiment_id].run_count,
                    "last_activity": activity[e.experiment_id].last_activity,
                }
                for e in experiments
            ]
        )
    elif quiet:
        out.lines([e.experiment_id for e in experiments])
    else:
        columns = ["ID", "NAME", "RUNS", "LAST ACTIVITY"] + (["STAGE"] if view != "active" else [])
        rows = [
            [
                e.experiment_id,
                e.name,
                activity[e.experiment_id].run_count,
                format_timestamp(activity[e.experiment_id].last_activity),
            ]
            + ([e.lifecycle_stage] if view != "active" else [])
            for e in experiments
        ]
        out.table(columns, rows)


@app.command("create")
def create(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="A name no active experiment has.")],
    tag: Annotated[
        list[str] | None, typer.Option("--tag", "-t", help="A tag as KEY=VALUE (repeatable).")
    ] = None,
    json_: JsonOption = False,
    quiet: QuietOption = False,
) -> None:
    """Create an experiment and print its id.

    Example: mlcli experiments create churn-model --tag team=growth
    """
    from mlcli.assignments import parse_key_values

    client = get_client(ctx)
    experiment_id = client.create_experiment(name, parse_key_values(tag or [], "--tag"))
    out = Output(json_mode=json_, quiet=quiet)
    if json_:
        out.json(client.get_experiment(experiment_id).to_dict())
    else:
        out.line(experiment_id)
        out.info(f"Created experiment {name!r}")


@app.command("rename")
def rename(
    ctx: typer.Context,
    old: ExperimentArgument,
    new: Annotated[str, typer.Argument(help="The new name.")],
    quiet: QuietOption = False,
) -> None:
    """Rename an experiment.

    Example: mlcli experiments rename demo demo-2024
    """
    client = get_client(ctx)
    experiment = client.resolve_experiment(old)
    client.rename_experiment(experiment.experiment_id, new)
    Output(quiet=quiet).info(f"Renamed experiment {experiment.name!r} to {new!r}")


@app.command("delete")
def delete(ctx: typer.Context, name: ExperimentArgument, quiet: QuietOption = False) -> None:
    """Delete an experiment (soft: its runs are hidden until it is restored or 'mlcli gc').

    Example: mlcli experiments delete scratch
    """
    client = get_client(ctx)
    experiment = client.resolve_experiment(name)
    client.delete_experiment(experiment.experiment_id)
    Output(quiet=quiet).info(f"Deleted experiment {experiment.name!r}")


@app.command("restore")
def restore(ctx: typer.Context, name: ExperimentArgument, quiet: QuietOption = False) -> None:
    """Restore a deleted experiment.

    Example: mlcli experiments restore scratch
    """
    from mlcli.store import ViewType

    client = get_client(ctx)
    experiment = client.resolve_experiment(name, ViewType.DELETED_ONLY)
    client.restore_experiment(experiment.experiment_id)
    Output(quiet=quiet).info(f"Restored experiment {experiment.name!r}")
