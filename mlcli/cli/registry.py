"""``mlcli register``, ``mlcli promote`` and the registry commands of ``mlcli models``."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any

import typer

from mlcli.cli.options import JsonOption, QuietOption
from mlcli.cli.output import Output
from mlcli.cli.state import cli_state
from mlcli.errors import InvalidInputError

if TYPE_CHECKING:
    from mlcli.client import MlcliClient
    from mlcli.store import Run

models_app = typer.Typer(
    help="Registered models: list, show, history, describe, tag, delete.", no_args_is_help=True
)
alias_app = typer.Typer(help="Manage model aliases.", no_args_is_help=True)

NameArgument = Annotated[str, typer.Argument(help="Registered model name.")]
VersionArgument = Annotated[str, typer.Argument(help="Version number.")]
KEY_METRICS_SHOWN = 3


def _client(ctx: typer.Context) -> MlcliClient:
    return cli_state(ctx).mlcli_client()


def register(
    ctx: typer.Context,
    model_uri: Annotated[str, typer.Argument(help="runs:/<run>/<path> or a model directory.")],
    name: Annotated[str, typer.Option("--name", "-n", help="Registered model name.")],
    description: Annotated[str | None, typer.Option("--description", "-d")] = None,
    tag: Annotated[
        list[str] | None, typer.Option("--tag", "-t", help="A version tag as KEY=VALUE.")
    ] = None,
    json_: JsonOption = False,
    quiet: QuietOption = False,
) -> None:
    """Register a logged model as the next version of NAME (created if needed).

    The model is copied into the registry, so the version stays loadable even if its
    run is deleted later. Prints the new version number.

    Example: mlcli register runs:/3f2a/model --name churn
    """
    from mlcli.assignments import parse_key_values
    from mlcli.cli.notices import warnings_as_notices

    out = Output(json_mode=json_, quiet=quiet)
    with warnings_as_notices(out):
        version = _client(ctx).register_model(
            model_uri, name, description, parse_key_values(tag or [], "--tag")
        )
    if json_:
        out.json(version.to_dict())
    else:
        out.line(str(version.version))
        out.info(f"Registered {name!r} version {version.version}")


def promote(
    ctx: typer.Context,
    name: NameArgument,
    version: VersionArgument,
    stage: Annotated[
        str | None, typer.Option("--stage", "-s", help="None, Staging, Production or Archived.")
    ] = None,
    alias: Annotated[str | None, typer.Option("--alias", "-a", help="Point ALIAS here.")] = None,
    archive_existing: Annotated[
        bool,
        typer.Option("--archive-existing", help="Move the other versions in STAGE to Archived."),
    ] = False,
    require: Annotated[
        str | None,
        typer.Option(
            "--require",
            help='Filter over the version\'s run that must hold, e.g. "metrics.accuracy >= 0.8".',
        ),
    ] = None,
    better_than: Annotated[
        str | None,
        typer.Option("--better-than", help="A stage or alias whose holder must be beaten."),
    ] = None,
    metric: Annotated[
        str | None, typer.Option("--metric", help="The metric --better-than compares.")
    ] = None,
    higher_is_better: Annotated[
        bool | None,
        typer.Option(
            "--higher-is-better/--lower-is-better",
            help="Override the guess from the metric's name.",
        ),
    ] = None,
    comment: Annotated[
        str | None, typer.Option("--comment", "-m", help="Recorded in history.")
    ] = None,
    json_: JsonOption = False,
    quiet: QuietOption = False,
) -> None:
    """Move a version to a stage or point an alias at it, optionally gated.

    A refused promotion exits 1 and says which condition failed; promoting to what the
    version already holds changes nothing and exits 0.

    Example: mlcli promote churn 2 --stage Production --require "metrics.accuracy >= 0.8"
    """
    from mlcli.registry import Promotion
    from mlcli.registry.names import parse_version

    result = _client(ctx).promote(
        Promotion(
            name=name,
            version=parse_version(version),
            stage=stage,
            alias=alias,
            archive_existing=archive_existing,
            require=require,
            better_than=better_than,
            metric=metric,
            higher_is_better=higher_is_better,
            comment=comment,
        )
    )
    out = Output(json_mode=json_, quiet=quiet)
    target = f"stage {result.version.stage}" if stage else f"alias {alias!r}"
    if json_:
        out.json(
            {**result.version.to_dict(), "changed": result.changed, "checks": list(result.checks)}
        )
        return
    for check in result.checks:
        out.info(f"  ok: {check}")
    if result.changed:
        out.info(f"Promoted {name!r} version {result.version.version} to {target}")
    else:
        out.info(f"Nothing to do: {name!r} version {result.version.version} already holds {target}")


def list_models(ctx: typer.Context, json_: JsonOption = False, quiet: QuietOption = False) -> None:
    """List registered models with their latest version, stages and aliases.

    Example: mlcli models list
    """
    from mlcli.clock import format_timestamp

    client = _client(ctx)
    models = client.search_registered_models()
    out = Output(json_mode=json_, quiet=quiet)
    if json_:
        out.json([m.to_dict() for m in models])
        return
    if quiet:
        out.lines([m.name for m in models])
        return
    rows = []
    for model in models:
        holders = client.get_latest_versions(model.name, ["Production", "Staging"])
        rows.append(
            [
                model.name,
                model.latest_version or "",
                ", ".join(f"{v.stage}: v{v.version}" for v in holders),
                ", ".join(f"@{a}: v{v}" for a, v in sorted(model.aliases.items())),
                format_timestamp(model.last_update_time),
            ]
        )
    out.table(["NAME", "LATEST", "STAGES", "ALIASES", "UPDATED"], rows)


def show(ctx: typer.Context, name: NameArgument, json_: JsonOption = False) -> None:
    """Show a registered model's versions: stage, aliases, source run and its key metrics.

    Example: mlcli models show churn --json
    """
    from mlcli.clock import format_timestamp

    client = _client(ctx)
    model = client.get_registered_model(name)
    versions = client.search_model_versions(name)
    runs = client.get_runs([v.run_id for v in versions if v.run_id])
    metrics = {v.version: _run_metrics(runs.get(v.run_id or "")) for v in versions}
    out = Output(json_mode=json_)
    if json_:
        out.json(
            {
                **model.to_dict(),
                "versions": [
                    {**v.to_dict(), "run_metrics": _json_metrics(metrics[v.version])}
                    for v in versions
                ],
            }
        )
        return
    out.fields(
        [
            ("name", model.name),
            ("description", model.description),
            ("tags", ", ".join(f"{k}={v}" for k, v in model.tags.items())),
        ],
        title="Model",
    )
    out.line()
    out.table(
        ["VERSION", "STAGE", "ALIASES", "RUN", "COMMIT", "CREATED", "METRICS"],
        [
            [
                v.version,
                v.stage,
                " ".join(f"@{a}" for a in v.aliases),
                (v.run_id or "")[:8],
                (v.git_commit or "")[:7],
                format_timestamp(v.creation_time),
                _metrics_text(metrics[v.version]),
            ]
            for v in versions
        ],
    )


def history(ctx: typer.Context, name: NameArgument, json_: JsonOption = False) -> None:
    """Show the audit trail of a registered model: who changed what, when, from what to what.

    Example: mlcli models history churn
    """
    from mlcli.clock import format_timestamp

    events = _client(ctx).get_model_history(name)
    out = Output(json_mode=json_)
    if json_:
        out.json([e.to_dict() for e in events])
        return
    out.table(
        ["TIME", "USER", "ACTION", "VERSION", "FROM", "TO", "COMMENT"],
        [
            [
                format_timestamp(e.time),
                e.user,
                e.action,
                e.version or "",
                e.from_value or "",
                e.to_value or "",
                e.comment or "",
            ]
            for e in events
        ],
    )


def describe(
    ctx: typer.Context,
    name: NameArgument,
    version: Annotated[str | None, typer.Argument(help="A version (else the model).")] = None,
    description: Annotated[str, typer.Option("--description", "-d", help="The new text.")] = "",
) -> None:
    """Set the description of a registered model or of one version.

    Example: mlcli models describe churn 2 --description "retrained on May data"
    """
    client = _client(ctx)
    if version is None:
        client.update_registered_model(name, description)
    else:
        client.update_model_version(name, version, description)


def tag(
    ctx: typer.Context,
    name: NameArgument,
    items: Annotated[list[str], typer.Argument(help="[VERSION] KEY=VALUE...")],
) -> None:
    """Set tags on a registered model, or on one version when the first item is a number.

    Example: mlcli models tag churn 2 validated=yes owner=ml-team
    """
    from mlcli.assignments import parse_key_values

    version = items[0] if items and "=" not in items[0] else None
    pairs = parse_key_values(items[1:] if version else items, "tag")
    if not pairs:
        raise InvalidInputError("give at least one KEY=VALUE")
    client = _client(ctx)
    for key, value in pairs.items():
        if version is None:
            client.set_registered_model_tag(name, key, value)
        else:
            client.set_model_version_tag(name, version, key, value)


def rename(
    ctx: typer.Context,
    name: NameArgument,
    new_name: Annotated[str, typer.Argument(help="The model's new name.")],
) -> None:
    """Rename a registered model; its versions, aliases and history go with it.

    Example: mlcli models rename churn churn-classifier
    """
    _client(ctx).rename_registered_model(name, new_name)
    Output().info(f"Renamed model {name!r} to {new_name!r}")


def delete(
    ctx: typer.Context,
    name: NameArgument,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Delete a registered model with all its versions and history.

    Asks for confirmation on a terminal; elsewhere --yes is required.

    Example: mlcli models delete scratch-model --yes
    """
    client = _client(ctx)
    count = len(client.search_model_versions(name))
    _confirm(yes, f"Delete model {name!r} and its {count} version(s)?")
    client.delete_registered_model(name)
    Output().info(f"Deleted model {name!r}")


def delete_version(ctx: typer.Context, name: NameArgument, version: VersionArgument) -> None:
    """Delete one version (its number is never reused; aliases pointing to it are removed).

    Example: mlcli models delete-version churn 1
    """
    _client(ctx).delete_model_version(name, version)
    Output().info(f"Deleted {name!r} version {version}")


@alias_app.command("set")
def alias_set(ctx: typer.Context, name: NameArgument, alias: str, version: VersionArgument) -> None:
    """Point an alias at a version (the same as 'mlcli promote NAME VERSION --alias', ungated).

    Example: mlcli models alias set churn champion 3
    """
    moved = _client(ctx).set_registered_model_alias(name, alias, version)
    Output().info(f"@{alias} now points to {name!r} version {moved.version}")


@alias_app.command("delete")
def alias_delete(ctx: typer.Context, name: NameArgument, alias: str) -> None:
    """Remove an alias.

    Example: mlcli models alias delete churn challenger
    """
    _client(ctx).delete_registered_model_alias(name, alias)
    Output().info(f"Removed @{alias} from {name!r}")


def _run_metrics(run: Run | None) -> dict[str, float]:
    """A version's source run's metrics; none when it has no run, or its run is gone."""
    return {} if run is None else run.data.metrics


def _json_metrics(metrics: dict[str, float]) -> dict[str, float | str]:
    """NaN and infinities as "NaN"/"Infinity", as ``runs show --json`` writes them."""
    from mlcli.store import json_number

    return {key: json_number(value) for key, value in metrics.items()}


def _metrics_text(metrics: dict[str, float]) -> str:
    shown = sorted(metrics.items())[:KEY_METRICS_SHOWN]
    more = " ..." if len(metrics) > KEY_METRICS_SHOWN else ""
    return " ".join(f"{k}={v:.4g}" for k, v in shown) + more


def _confirm(yes: bool, question: str) -> None:
    import sys

    if yes:
        return
    if not sys.stdin.isatty():
        raise InvalidInputError(f"{question} Pass --yes to confirm (no terminal to ask on)")
    if not typer.confirm(question, default=False, err=True):
        raise typer.Exit(1)


def _add_models_commands() -> None:
    """``mlcli models``: the registry's commands, and ``predict`` from the models CLI."""
    from mlcli.cli.models import convert, predict

    commands: list[tuple[str, Callable[..., Any]]] = [
        ("list", list_models),
        ("show", show),
        ("history", history),
        ("describe", describe),
        ("tag", tag),
        ("rename", rename),
        ("delete", delete),
        ("delete-version", delete_version),
        ("predict", predict),
        ("convert", convert),
    ]
    for name, command in commands:
        models_app.command(name)(command)
    models_app.add_typer(alias_app, name="alias")


_add_models_commands()
