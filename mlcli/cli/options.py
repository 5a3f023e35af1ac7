"""Options shared by many commands, declared once."""

from __future__ import annotations

from pathlib import Path
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
        envvar=["MLCLI_RUN_ID", "MLFLOW_RUN_ID"],
        show_envvar=True,
        help="Run id or unique prefix; defaults to $MLCLI_RUN_ID (else $MLFLOW_RUN_ID).",
    ),
]
ExperimentOption = Annotated[
    str | None,
    typer.Option("--experiment", "-x", help="Experiment name (or id)."),
]
FilterOption = Annotated[
    str | None,
    typer.Option(
        "--filter", "-f", help="Filter, e.g. \"metrics.acc > 0.9 and params.model = 'rf'\"."
    ),
]
OrderByOption = Annotated[
    list[str] | None,
    typer.Option("--order-by", "-o", help="KEY [ASC|DESC], repeatable (default: newest first)."),
]
LimitOption = Annotated[
    int | None, typer.Option("--limit", "-n", min=0, max=2**63 - 1, help="At most N runs.")
]
AllowPickleOption = Annotated[
    bool,
    typer.Option(
        "--allow-pickle",
        help="Trust the model's pickles and code even though mlcli did not write them "
        "(as MLCLI_ALLOW_PICKLE=1): only for models from a source you trust.",
    ),
]
AuthTokenFileOption = Annotated[
    Path | None,
    typer.Option(
        "--auth-token-file",
        help="Require 'Authorization: Bearer <token>' on every request, with the token "
        "in this file (MLflow clients send MLFLOW_TRACKING_TOKEN).",
    ),
]
AllowUnauthenticatedOption = Annotated[
    bool,
    typer.Option(
        "--allow-unauthenticated",
        help="Listen on a non-loopback --host without --auth-token-file (when a firewall "
        "or an authenticating proxy guards the address).",
    ),
]
HostOption = Annotated[
    str, typer.Option("--host", help="Address to listen on (0.0.0.0: every interface).")
]
ListenPortOption = Annotated[int, typer.Option("--port", "-p", help="Port (0: any free port).")]
