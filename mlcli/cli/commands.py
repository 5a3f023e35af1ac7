"""The table of top-level commands, each loaded the first time it is needed.

Building every command's Click definition costs more than anything a small command
does (Typer inspects each signature), and users call mlcli in loops, hooks and every
sweep trial. So the root group knows only names and where each command lives;
``mlcli log metric`` builds the ``log`` group and nothing else. ``mlcli --help``
loads them all to list them.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

import typer

# name -> "module:attribute": a Typer app (a command group) or a function (a command).
# The order is the order of ``mlcli --help``.
COMMANDS: dict[str, str] = {
    "init": "mlcli.cli.maintenance:init",
    "run": "mlcli.cli.run:run",
    "log": "mlcli.cli.log:app",
    "runs": "mlcli.cli.runs:app",
    "experiments": "mlcli.cli.experiments:app",
    "compare": "mlcli.cli.compare:compare",
    "select": "mlcli.cli.compare:select",
    "diff": "mlcli.cli.compare:diff",
    "evaluate": "mlcli.cli.models:evaluate",
    "register": "mlcli.cli.registry:register",
    "promote": "mlcli.cli.registry:promote",
    "models": "mlcli.cli.registry:models_app",
    "serve": "mlcli.cli.serve:serve",
    "build-docker": "mlcli.cli.serve:build_docker",
    "ui": "mlcli.cli.ui:ui",
    "server": "mlcli.cli.server:server",
    "auth": "mlcli.cli.auth:app",
    "import-mlflow": "mlcli.cli.server:import_mlflow",
    "remote": "mlcli.cli.remote:app",
    "push": "mlcli.cli.transfers:push",
    "pull": "mlcli.cli.transfers:pull",
    "clone": "mlcli.cli.transfers:clone",
    "index": "mlcli.cli.maintenance:index_app",
    "gc": "mlcli.cli.maintenance:gc",
    "fsck": "mlcli.cli.maintenance:fsck",
}


#: Commands whose ``-h`` is an option, as in MLflow's (``mlflow server -h HOST``): their
#: help is ``--help`` (or a trailing ``-h``: ``main.py``).
SHORT_H_TAKEN = frozenset({"server", "ui", "serve"})


def load_command(name: str) -> Any:
    """The Click command (or group) for the top-level command ``name``."""
    module, _, attribute = COMMANDS[name].partition(":")
    target = getattr(import_module(module), attribute)
    if not isinstance(target, typer.Typer):
        single = typer.Typer(add_completion=False)
        settings = {"help_option_names": ["--help"]} if name in SHORT_H_TAKEN else None
        single.command(name, context_settings=settings)(target)
        command = typer.main.get_command(single)
    else:
        command = typer.main.get_group(target)  # a group even with one subcommand
    command.name = name
    return command
