"""``mlcli auth``: the users, personal API tokens and permissions of ``mlcli server
--auth-db`` (``mlcli server`` is one command, so its admin commands live here).

Every command works on the auth database given by ``--auth-db`` (or MLCLI_AUTH_DB): a
SQLite file, or a ``postgresql://`` URL that several servers share; a running server
sees each change on its next request.
"""

from __future__ import annotations

import sys
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Annotated

import typer

from mlcli.cli.options import JsonOption, QuietOption
from mlcli.cli.output import Output

if TYPE_CHECKING:
    from mlcli.tracking_server.auth.database import AuthDatabase

app = typer.Typer(
    help="Users, tokens and permissions of 'mlcli server --auth-db'.", no_args_is_help=True
)
users_app = typer.Typer(help="Add, list, remove users; change a password.", no_args_is_help=True)
tokens_app = typer.Typer(help="Personal API tokens (for CI and scripts).", no_args_is_help=True)
app.add_typer(users_app, name="users")
app.add_typer(tokens_app, name="tokens")

AuthDbOption = Annotated[
    str,
    typer.Option(
        "--auth-db",
        envvar="MLCLI_AUTH_DB",
        show_envvar=True,
        help="The auth database that 'mlcli server --auth-db' reads: a SQLite file, or "
        "postgresql://user@host:port/db (pip install 'mlcli[server]').",
    ),
]
UserArgument = Annotated[str, typer.Argument(help="The user's name.")]
KindArgument = Annotated[str, typer.Argument(help="experiment or model.")]
TargetArgument = Annotated[
    str, typer.Argument(help="An experiment's id or name, or a registered model's name.")
]
LevelArgument = Annotated[str, typer.Argument(help="READ, EDIT, MANAGE or NO_PERMISSIONS.")]
PasswordStdinOption = Annotated[
    bool, typer.Option("--password-stdin", help="Read the password from stdin's first line.")
]


def _database(location: str, *, create: bool = False) -> AuthDatabase:
    """The database, for a ``with`` block that closes it."""
    from mlcli.tracking_server.auth.database import AuthDatabase

    return AuthDatabase.open(location, create=create)


def _password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return str(typer.prompt("Password", hide_input=True, confirmation_prompt=True))


def _time(ms: int | None) -> str:
    if ms is None:
        return ""
    return datetime.fromtimestamp(ms / 1000, timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


# -- users -----------------------------------------------------------------------------------------


@users_app.command("add")
def users_add(
    name: UserArgument,
    auth_db: AuthDbOption,
    admin: Annotated[bool, typer.Option("--admin", help="An admin: every permission.")] = False,
    password_stdin: PasswordStdinOption = False,
    quiet: QuietOption = False,
) -> None:
    """Add a user (the database file, or its tables, are created with the first one).

    Example: mlcli auth users add alice --admin --password-stdin --auth-db auth.db < pw.txt
    """
    with _database(auth_db, create=True) as database:
        user = database.add_user(name, _password(password_stdin), admin=admin)
    Output(quiet=quiet).info(f"Added {'admin' if user.is_admin else 'user'} {user.name!r}")


@users_app.command("list")
def users_list(auth_db: AuthDbOption, json_: JsonOption = False) -> None:
    """List the users, with their grants.

    Example: mlcli auth users list --auth-db auth.db --json
    """
    with _database(auth_db) as database:
        users = database.users()
        grants = {user.name: database.grants(user.name) for user in users}
        default = database.default_permission()
    out = Output(json_mode=json_)
    if json_:
        out.json(
            [
                {
                    "name": user.name,
                    "admin": user.is_admin,
                    "created": user.created,
                    "permissions": [
                        {"kind": kind, "target": target, "level": level.name}
                        for kind, target, level in grants[user.name]
                    ],
                }
                for user in users
            ]
        )
        return
    rows = [
        [
            user.name,
            "yes" if user.is_admin else "",
            _time(user.created),
            ", ".join(
                f"{kind} {target}: {level.name}" for kind, target, level in grants[user.name]
            ),
        ]
        for user in users
    ]
    out.table(["NAME", "ADMIN", "CREATED", "PERMISSIONS"], rows)
    out.info(f"Default permission: {default.name}")


@users_app.command("remove")
def users_remove(name: UserArgument, auth_db: AuthDbOption, quiet: QuietOption = False) -> None:
    """Remove a user, with their tokens and grants.

    Example: mlcli auth users remove bob --auth-db auth.db
    """
    with _database(auth_db) as database:
        database.remove_user(name)
    Output(quiet=quiet).info(f"Removed user {name!r}")


@users_app.command("passwd")
def users_passwd(
    name: UserArgument,
    auth_db: AuthDbOption,
    password_stdin: PasswordStdinOption = False,
    quiet: QuietOption = False,
) -> None:
    """Set a user's password (their old one stops working at once).

    Example: mlcli auth users passwd alice --auth-db auth.db
    """
    with _database(auth_db) as database:
        database.require_user(name)
        database.set_password(name, _password(password_stdin))
    Output(quiet=quiet).info(f"Changed the password of {name!r}")


# -- tokens ----------------------------------------------------------------------------------------


@tokens_app.command("create")
def tokens_create(
    user: UserArgument,
    auth_db: AuthDbOption,
    label: Annotated[str, typer.Option("--label", help="What the token is for.")] = "",
    json_: JsonOption = False,
) -> None:
    """Create a personal API token and print it, once (only its hash is kept).

    Example: MLFLOW_TRACKING_TOKEN=$(mlcli auth tokens create ci --label nightly --auth-db auth.db)
    """
    with _database(auth_db) as database:
        token, secret = database.create_token(user, label)
    if json_:
        Output(json_mode=True).json({"id": token.id, "user": user, "label": label, "token": secret})
    else:
        Output().line(secret)


@tokens_app.command("list")
def tokens_list(user: UserArgument, auth_db: AuthDbOption, json_: JsonOption = False) -> None:
    """List a user's tokens (never the tokens themselves).

    Example: mlcli auth tokens list ci --auth-db auth.db --json
    """
    with _database(auth_db) as database:
        tokens = database.tokens(user)
    out = Output(json_mode=json_)
    if json_:
        out.json(
            [
                {
                    "id": t.id,
                    "user": t.user,
                    "label": t.label,
                    "created": t.created,
                    "last_used": t.last_used,
                    "revoked": t.revoked,
                }
                for t in tokens
            ]
        )
        return
    rows = [
        [t.id, t.label, _time(t.created), _time(t.last_used), "revoked" if t.revoked else ""]
        for t in tokens
    ]
    out.table(["ID", "LABEL", "CREATED", "LAST USED", "STATE"], rows)


@tokens_app.command("revoke")
def tokens_revoke(
    token_id: Annotated[int, typer.Argument(help="The token's id (tokens list).")],
    auth_db: AuthDbOption,
    quiet: QuietOption = False,
) -> None:
    """Revoke a token: the next request that carries it is a 401.

    Example: mlcli auth tokens revoke 3 --auth-db auth.db
    """
    with _database(auth_db) as database:
        database.revoke_token(token_id)
    Output(quiet=quiet).info(f"Revoked token {token_id}")


# -- permissions -----------------------------------------------------------------------------------


@app.command("grant")
def grant(
    user: UserArgument,
    kind: KindArgument,
    target: TargetArgument,
    level: LevelArgument,
    auth_db: AuthDbOption,
    quiet: QuietOption = False,
) -> None:
    """Give a user a level on one experiment (id or name) or registered model.

    Example: mlcli auth grant bob experiment churn EDIT --auth-db auth.db
    """
    from mlcli.tracking_server.auth.levels import parse_level

    parsed = parse_level(level)
    with _database(auth_db) as database:
        database.grant(user, kind, target, parsed)
    Output(quiet=quiet).info(f"{user} has {parsed.name} on {kind} {target!r}")


@app.command("revoke")
def revoke(
    user: UserArgument,
    kind: KindArgument,
    target: TargetArgument,
    auth_db: AuthDbOption,
    quiet: QuietOption = False,
) -> None:
    """Remove a user's grant (the default permission applies again).

    Example: mlcli auth revoke bob experiment churn --auth-db auth.db
    """
    with _database(auth_db) as database:
        database.revoke(user, kind, target)
    Output(quiet=quiet).info(f"Removed {user}'s grant on {kind} {target!r}")


@app.command("default-permission")
def default_permission(
    level: LevelArgument, auth_db: AuthDbOption, quiet: QuietOption = False
) -> None:
    """Set the level of every user on what they have no grant for (READ unless set).

    Example: mlcli auth default-permission NO_PERMISSIONS --auth-db auth.db
    """
    from mlcli.tracking_server.auth.levels import parse_level

    parsed = parse_level(level)
    with _database(auth_db, create=True) as database:
        database.set_default_permission(parsed)
    Output(quiet=quiet).info(f"Default permission: {parsed.name}")
