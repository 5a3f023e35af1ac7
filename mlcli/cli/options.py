"""Options shared by many commands, declared once."""

from __future__ import annotations

from typing import Annotated

import typer

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON to stdout (for scripts).")]
QuietOption = Annotated[
    bool, typer.Option("--quiet", "-q", help="Print bare ids only; hide notices.")
]
RunOption = Annotated[
    str | None,
    typer.Option(
        "--run",
        "-r",
        envvar="MLCLI_RUN_ID",
        show_envvar=True,
        help="Run id or unique prefix; defaults to $MLCLI_RUN_ID.",
    ),
]
ExperimentOption = Annotated[
    str | None,
    typer.Option("--experiment", "-x", help="Experiment name (or id)."),
]
