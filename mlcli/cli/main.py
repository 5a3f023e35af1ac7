"""The ``mlcli`` command: the Typer app, its global options and its one error boundary.

Exit codes: 0 success, 1 the command failed, 2 usage or invalid input (unknown ids
included), 130 interrupted; ``mlcli run`` exits with its entry point's own code.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from typing import Annotated, Any

import typer
import typer.core

from mlcli.cli.commands import COMMANDS, load_command
from mlcli.cli.state import cli_state
from mlcli.errors import MlcliError

# Typer vendors its own copy of Click (or uses Click itself in older releases); reach
# the exception classes through the public BadParameter rather than a private path.
_UsageError: type[Exception] = typer.BadParameter.__mro__[1]

GLOBAL_OPTIONS_WITH_VALUE = ("--store",)
GLOBAL_FLAGS = ("--debug",)


class MlcliGroup(typer.core.TyperGroup):
    """Loads each command on first use (``commands.py``), and turns the core's errors
    into one line on stderr and an exit code."""

    def list_commands(self, ctx: Any) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: Any, name: str) -> Any:
        if name not in self.commands and name in COMMANDS:
            self.commands[name] = load_command(name)
        return self.commands.get(name)

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except MlcliError as exc:
            if _debugging(ctx):
                raise
            display = getattr(exc, "display", None)
            _error(display() if callable(display) else exc.message)
            raise typer.Exit(exc.exit_code) from None
        except BrokenPipeError:
            raise
        except OSError as exc:
            if _debugging(ctx):
                raise
            _error(_describe_os_error(exc))
            raise typer.Exit(1) from None
        except (TypeError, ValueError, AttributeError) as exc:
            server = _team_server(ctx)
            if server is None or _debugging(ctx):
                raise
            _error(  # an answer of a shape no mlcli server sends: a proxy, another server
                f"the server at {server} answered something this client cannot read "
                f"({type(exc).__name__}: {str(exc)[:200]}); --debug shows where"
            )
            raise typer.Exit(1) from None


def _team_server(ctx: Any) -> str | None:
    """The URL of the team server this command talks to, if it names one."""
    from mlcli.store import named_store, without_userinfo

    named = getattr(ctx.find_root().obj, "store", None) or named_store()
    if isinstance(named, str) and named.startswith(("http://", "https://")):
        return str(without_userinfo(named))
    return None


app = typer.Typer(
    name="mlcli",
    cls=MlcliGroup,
    help="The machine-learning lifecycle as a git-style command line.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        from mlcli.version import __version__

        typer.echo(f"mlcli {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    store: Annotated[
        str | None,
        typer.Option(
            "--store",
            envvar=["MLCLI_STORE", "MLCLI_TRACKING_URI"],
            show_envvar=True,
            help="The store to use: a .mlruns path, s3://bucket/prefix or a remote's name "
            "(default: the nearest .mlruns above the working directory).",
        ),
    ] = None,
    debug: Annotated[
        bool, typer.Option("--debug", help="Show tracebacks instead of one-line errors.")
    ] = False,
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
) -> None:
    """mlcli tracks experiments, runs projects, packages, registers and serves models.

    Example:

        mlcli init && RUN=$(mlcli runs create --experiment demo -q)
        mlcli log metric loss 0.5 --step 1 --run $RUN && mlcli runs end $RUN
    """
    state = cli_state(ctx)
    state.store = store
    state.debug = debug or os.environ.get("MLCLI_DEBUG", "") not in ("", "0")


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of the ``mlcli`` console script."""
    args = hoist_global_options(list(sys.argv[1:] if argv is None else argv))
    if args[-1:] == ["-h"] and "--" not in args:  # help, also where -h takes a value (server)
        args[-1] = "--help"
    undecodable = next((arg for arg in args if not _is_text(arg)), None)
    if undecodable is not None:
        _error(f"argument '{_show_bytes(undecodable)}' is not valid UTF-8 text")
        sys.exit(2)
    command = typer.main.get_command(app)
    try:
        try:
            code = command.main(args=args, prog_name="mlcli", standalone_mode=False)
        finally:
            _close_mirrors()
    except _UsageError as exc:
        code = _usage_error(exc)
    except typer.Abort:
        _error("aborted")
        code = 130
    except KeyboardInterrupt:
        _error("interrupted")
        code = 130
    except RecursionError:
        # A backstop: every parser of user input (JSON, YAML) reports deep nesting itself.
        _error("the input nests too deeply to be read")
        code = 2
    except BrokenPipeError:
        # The reader went away (``mlcli runs list | head``): stop quietly.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        code = 0
    sys.exit(code if isinstance(code, int) else 0)


def _close_mirrors() -> None:
    """Push what a command wrote to a store on a remote (``--store s3://...``)."""
    mirror = sys.modules.get("mlcli.store.mirror")
    if mirror is not None:  # loaded only when a remote store was opened
        mirror.close_mirrors()


def hoist_global_options(args: list[str]) -> list[str]:
    """Move ``--store X`` and ``--debug`` to the front, so that they work after the
    subcommand too (``mlcli runs list --store X``), as users expect of global options."""
    front: list[str] = []
    rest: list[str] = []
    index = 0
    while index < len(args):
        arg = args[index]
        if arg == "--":
            rest += args[index:]
            break
        name = arg.split("=", 1)[0]
        if name in GLOBAL_OPTIONS_WITH_VALUE:
            if "=" in arg:
                front.append(arg)
            else:
                front += args[index : index + 2]
                index += 1
        elif arg in GLOBAL_FLAGS:
            front.append(arg)
        else:
            rest.append(arg)
        index += 1
    return front + rest


def _usage_error(exc: Any) -> int:
    ctx = getattr(exc, "ctx", None)
    path = ctx.command_path if ctx is not None else "mlcli"
    _error(f"{exc.format_message()} (see '{path} --help')")
    return int(getattr(exc, "exit_code", 2))


def _is_text(arg: str) -> bool:
    """Whether an argument is text: Python hands undecodable argv bytes over as
    surrogates, which no file, log line or JSON document of the store can hold."""
    try:
        arg.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _show_bytes(arg: str) -> str:
    return os.fsencode(arg).decode("utf-8", "backslashreplace")


def _error(message: str) -> None:
    sys.stderr.write(f"mlcli: error: {message}\n")


def _debugging(ctx: Any) -> bool:
    return cli_state(ctx).debug


def _describe_os_error(exc: OSError) -> str:
    if exc.filename:
        return f"{exc.strerror or exc}: {exc.filename}"
    return str(exc)
