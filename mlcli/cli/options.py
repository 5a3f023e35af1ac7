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
ListenPortOption = Annotated[int, typer.Option("--port", "-p", help="Port (0: any free port).")]
#: ``mlflow server -h HOST`` and ``mlflow ui -h HOST``: -h is the host there (a trailing
#: -h is still the help: ``main.py``; ``commands.SHORT_H_TAKEN`` frees -h).
MlflowHostOption = Annotated[
    str,
    typer.Option(
        "--host",
        "-h",
        help="Address to listen on (0.0.0.0: every interface); -h HOST as in MLflow.",
    ),
]
BackendStoreUriOption = Annotated[
    str | None,
    typer.Option(
        "--backend-store-uri",
        hidden=True,
        help="MLflow's name for the store (as --store): a folder or file: URI.",
    ),
]


def use_backend_store_uri(ctx: typer.Context, uri: str | None) -> None:
    """MLflow's ``--backend-store-uri``: the store, as ``--store`` (a database or
    MLflow's own file store is refused, saying how to bring its runs in)."""
    if uri is None:
        return
    from mlcli.cli.state import cli_state
    from mlcli.errors import InvalidInputError
    from mlcli.store import store_of_mlflow_uri

    store = store_of_mlflow_uri(
        uri,
        f"--backend-store-uri {uri}",
        "give an mlcli store (a folder, a file: URI, or --store s3://bucket/prefix)",
    )
    state = cli_state(ctx)
    if state.store is not None and state.store != store:
        raise InvalidInputError(
            f"--store {state.store} and --backend-store-uri {uri} name two stores: give one"
        )
    state.store = store


# MLflow's option names (``mlflow run``, ``mlflow runs``): ``--experiment-name`` takes a
# name, ``--experiment-id`` an id; mlcli's own ``-x/--experiment`` takes either.
ExperimentNameOption = Annotated[
    str | None,
    typer.Option("--experiment-name", hidden=True, help="MLflow's name for --experiment (a name)."),
]
ExperimentIdOption = Annotated[
    str | None,
    typer.Option(
        "--experiment-id", hidden=True, help="An experiment by id (MLflow's option name)."
    ),
]


def chosen_experiment(
    ctx: typer.Context, experiment: str | None, name: str | None, experiment_id: str | None
) -> str | None:
    """The experiment reference of ``-x/--experiment``, ``--experiment-name`` or
    ``--experiment-id`` (at most one). An id must be an existing experiment's, and must
    not also be another experiment's name (mlcli reads a reference as a name first)."""
    from mlcli.errors import InvalidInputError

    given = [
        option
        for option, value in (
            ("--experiment", experiment),
            ("--experiment-name", name),
            ("--experiment-id", experiment_id),
        )
        if value is not None
    ]
    if len(given) > 1:
        raise InvalidInputError(f"{given[0]} and {given[1]} cannot be used together")
    if experiment_id is None:
        return experiment if name is None else name
    from mlcli.cli.state import client
    from mlcli.errors import NotFoundError

    tracking = client(ctx)
    try:
        found = tracking.get_experiment(experiment_id)
    except NotFoundError:
        raise NotFoundError(
            f"no experiment with id {experiment_id!r} (see 'mlcli experiments list')"
        ) from None
    if found.lifecycle_stage != "active":
        raise InvalidInputError(
            f"experiment {experiment_id} ({found.name!r}) is deleted: "
            "'mlcli experiments restore' brings it back"
        )
    named = tracking.get_experiment_by_name(experiment_id)
    if named is not None and named.experiment_id != found.experiment_id:
        raise InvalidInputError(
            f"--experiment-id {experiment_id}: experiment {named.experiment_id} is named "
            f"{experiment_id!r}, which mlcli would read first; rename one of them"
        )
    return found.experiment_id
