"""``mlcli experiments``: list, create, rename, delete, restore experiments."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from mlcli.cli.options import JsonOption, QuietOption
from mlcli.cli.output import Output
from mlcli.cli.state import client as get_client
from mlcli.errors import InvalidInputError

app = typer.Typer(
    help="List, create, rename, delete and restore experiments.", no_args_is_help=True
)

ExperimentArgument = Annotated[
    str | None, typer.Argument(help="Experiment name (or id).", show_default=False)
]
# MLflow's options (``mlflow experiments delete -x ID``), beside mlcli's argument.
ExperimentIdOption = Annotated[
    str | None,
    typer.Option("--experiment-id", "-x", help="The experiment by id (MLflow's option)."),
]


def _named(ctx: typer.Context, reference: str | None, experiment_id: str | None, view: str) -> Any:
    """The experiment the argument (a name or id) or ``-x/--experiment-id`` names."""
    if (reference is None) == (experiment_id is None):
        raise InvalidInputError("name the experiment: NAME, or -x/--experiment-id ID")
    client = get_client(ctx)
    if experiment_id is None:
        return client.resolve_experiment(str(reference), view)
    from mlcli.store import ViewType, in_view

    experiment = client.get_experiment(experiment_id)
    if not in_view(experiment.lifecycle_stage, view):
        state = "deleted" if view == ViewType.ACTIVE_ONLY else "active"
        raise InvalidInputError(f"experiment {experiment_id} ({experiment.name!r}) is {state}")
    return experiment


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
    name: Annotated[
        str | None,
        typer.Argument(help="A name no active experiment has.", show_default=False),
    ] = None,
    experiment_name: Annotated[
        str | None,
        typer.Option("--experiment-name", "-n", help="The name, as MLflow's option."),
    ] = None,
    artifact_location: Annotated[
        str | None,
        typer.Option(
            "--artifact-location",
            "-l",
            hidden=True,
            help="MLflow's option: refused, artifacts live in the store.",
        ),
    ] = None,
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

    if artifact_location is not None:
        raise InvalidInputError(
            "--artifact-location: mlcli keeps a run's artifacts in the store beside the run "
            "(choose the store instead, e.g. --store s3://bucket/prefix)"
        )
    if (name is None) == (experiment_name is None):
        raise InvalidInputError("give the experiment's name: NAME, or -n/--experiment-name NAME")
    name = str(name if experiment_name is None else experiment_name)
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
    old: ExperimentArgument = None,
    new: Annotated[str | None, typer.Argument(help="The new name.", show_default=False)] = None,
    experiment_id: ExperimentIdOption = None,
    new_name: Annotated[
        str | None, typer.Option("--new-name", help="The new name, as MLflow's option.")
    ] = None,
    quiet: QuietOption = False,
) -> None:
    """Rename an experiment.

    Example: mlcli experiments rename demo demo-2024
    """
    from mlcli.store import ViewType

    if experiment_id is not None and new is None and new_name is None:
        new, old = old, None  # mlcli experiments rename -x 3 NEW
    if (new is None) == (new_name is None):
        raise InvalidInputError("give the new name: NEW, or --new-name NEW")
    new = str(new if new_name is None else new_name)
    experiment = _named(ctx, old, experiment_id, ViewType.ACTIVE_ONLY)
    get_client(ctx).rename_experiment(experiment.experiment_id, new)
    Output(quiet=quiet).info(f"Renamed experiment {experiment.name!r} to {new!r}")


@app.command("delete")
def delete(
    ctx: typer.Context,
    name: ExperimentArgument = None,
    experiment_id: ExperimentIdOption = None,
    quiet: QuietOption = False,
) -> None:
    """Delete an experiment (soft: its runs are hidden until it is restored or 'mlcli gc').

    Example: mlcli experiments delete scratch
    """
    from mlcli.store import ViewType

    experiment = _named(ctx, name, experiment_id, ViewType.ACTIVE_ONLY)
    get_client(ctx).delete_experiment(experiment.experiment_id)
    Output(quiet=quiet).info(f"Deleted experiment {experiment.name!r}")


@app.command("restore")
def restore(
    ctx: typer.Context,
    name: ExperimentArgument = None,
    experiment_id: ExperimentIdOption = None,
    quiet: QuietOption = False,
) -> None:
    """Restore a deleted experiment.

    Example: mlcli experiments restore scratch
    """
    from mlcli.store import ViewType

    experiment = _named(ctx, name, experiment_id, ViewType.DELETED_ONLY)
    get_client(ctx).restore_experiment(experiment.experiment_id)
    Output(quiet=quiet).info(f"Restored experiment {experiment.name!r}")
