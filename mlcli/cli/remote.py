"""``mlcli remote``: name the stores this one pushes to and pulls from (like git's)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from mlcli.cli.options import JsonOption, QuietOption
from mlcli.cli.output import Output
from mlcli.cli.state import cli_state

if TYPE_CHECKING:
    from mlcli.store import Remote, Remotes

app = typer.Typer(
    help="Name other stores (an s3:// bucket, a shared folder) to push to and pull from.",
    no_args_is_help=True,
)

NameArgument = Annotated[str, typer.Argument(help="The remote's name.")]
UrlArgument = Annotated[
    str, typer.Argument(help="s3://bucket[/prefix], file:///absolute/path or a path.")
]


def _remotes(ctx: typer.Context, command: str, create: bool = False) -> Remotes:
    """The remotes of the store the command works on. ``create``: a store is created
    when there is none, as every first write does."""
    from mlcli.store import Remotes, file_store

    client = cli_state(ctx).client()
    store = client.writable_store() if create else client.store
    return Remotes(file_store(store, command).root)


def _is_default(remotes: Remotes, name: str) -> bool:
    default = remotes.default()
    return default is not None and default.name == name


def _described(remote: Remote) -> str:
    return f"{remote.name!r} ({remote.url})"


@app.command("add")
def add(
    ctx: typer.Context,
    name: NameArgument,
    url: UrlArgument,
    default: Annotated[bool, typer.Option("--default", help="Make it the default remote.")] = False,
    quiet: QuietOption = False,
) -> None:
    """Add a remote (the first one added becomes the default).

    Example: mlcli remote add origin s3://team-bucket/mlcli
    """
    remotes = _remotes(ctx, "mlcli remote add", create=True)
    remote = remotes.add(name, url, default=default)
    suffix = ", the default remote" if _is_default(remotes, name) else ""
    Output(quiet=quiet).info(f"Added remote {_described(remote)}{suffix}")


@app.command("list")
def list_remotes(ctx: typer.Context, json_: JsonOption = False, quiet: QuietOption = False) -> None:
    """List the remotes with their URLs; * marks the default.

    Example: mlcli remote list --json | jq -r '.[] | select(.default) | .url'
    """
    remotes = _remotes(ctx, "mlcli remote list")
    listed = remotes.list()
    default = remotes.default()
    default_name = default.name if default else None
    out = Output(json_mode=json_, quiet=quiet)
    if json_:
        out.json(
            [{"name": r.name, "url": r.url, "default": r.name == default_name} for r in listed]
        )
    elif quiet:
        out.lines([r.name or "" for r in listed])
    elif not listed:
        out.info("No remotes (mlcli remote add origin s3://bucket/prefix adds one)")
    else:
        rows = [[r.name, r.url, "*" if r.name == default_name else ""] for r in listed]
        out.table(["NAME", "URL", "DEFAULT"], rows)


@app.command("remove")
def remove(ctx: typer.Context, name: NameArgument, quiet: QuietOption = False) -> None:
    """Remove a remote (only its name and URL here: the remote store is untouched).

    Example: mlcli remote remove old-bucket
    """
    remotes = _remotes(ctx, "mlcli remote remove")
    was_default = _is_default(remotes, name)
    remote = remotes.remove(name)
    out = Output(quiet=quiet)
    out.info(f"Removed remote {_described(remote)}")
    if was_default:
        out.info("It was the default: there is none now (mlcli remote set-default NAME)")


@app.command("rename")
def rename(
    ctx: typer.Context,
    old: NameArgument,
    new: Annotated[str, typer.Argument(help="The new name.")],
    quiet: QuietOption = False,
) -> None:
    """Rename a remote (the default stays the default).

    Example: mlcli remote rename origin team
    """
    remote = _remotes(ctx, "mlcli remote rename").rename(old, new)
    Output(quiet=quiet).info(f"Renamed remote {old!r} to {remote.name!r}")


@app.command("set-url")
def set_url(
    ctx: typer.Context, name: NameArgument, url: UrlArgument, quiet: QuietOption = False
) -> None:
    """Change a remote's URL.

    Example: mlcli remote set-url origin s3://new-bucket/mlcli
    """
    remote = _remotes(ctx, "mlcli remote set-url").set_url(name, url)
    Output(quiet=quiet).info(f"Remote {remote.name!r} now points at {remote.url}")


@app.command("set-default")
def set_default(ctx: typer.Context, name: NameArgument, quiet: QuietOption = False) -> None:
    """Make a remote the default (what push and pull use when given no remote).

    Example: mlcli remote set-default team
    """
    remote = _remotes(ctx, "mlcli remote set-default").set_default(name)
    Output(quiet=quiet).info(f"The default remote is now {_described(remote)}")
