"""``mlcli log``: params, metrics, tags and artifacts from the shell."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mlcli.cli.options import RunOption
from mlcli.cli.state import client as get_client
from mlcli.errors import InvalidInputError, NotFoundError

app = typer.Typer(
    help="Log params, metrics, tags and artifacts to a run.",
    no_args_is_help=True,
)


def require_run(run: str | None) -> str:
    if not run:
        raise InvalidInputError("no run given: pass --run RUN or set MLCLI_RUN_ID")
    return run


@app.command("param")
def log_param(
    ctx: typer.Context,
    key: Annotated[str, typer.Argument(help="Param name.")],
    value: Annotated[str, typer.Argument(help="Param value (params never change once set).")],
    run: RunOption = None,
) -> None:
    """Log a param.

    Example: mlcli log param lr 0.1 --run 3f2a
    """
    get_client(ctx).log_param(require_run(run), key, value)


@app.command("metric")
def log_metric(
    ctx: typer.Context,
    key: Annotated[str, typer.Argument(help="Metric name.")],
    value: Annotated[str, typer.Argument(help="A number; nan, inf and -inf are kept.")],
    step: Annotated[int | None, typer.Option("--step", "-s", help="Step (default 0).")] = None,
    timestamp: Annotated[
        int | None, typer.Option("--timestamp", help="Milliseconds since the epoch (default now).")
    ] = None,
    run: RunOption = None,
) -> None:
    """Log one point of a metric.

    Example: mlcli log metric loss 0.25 --step 3 --run 3f2a
    """
    from mlcli.store import parse_metric_value

    get_client(ctx).log_metric(
        require_run(run), key, parse_metric_value(key, value), timestamp=timestamp, step=step
    )


@app.command("tag")
def log_tag(
    ctx: typer.Context,
    key: Annotated[str, typer.Argument(help="Tag name.")],
    value: Annotated[str, typer.Argument(help="Tag value (tags can be changed).")],
    run: RunOption = None,
) -> None:
    """Set a tag.

    Example: mlcli log tag dataset v2 --run 3f2a
    """
    get_client(ctx).set_tag(require_run(run), key, value)


@app.command("artifact")
def log_artifact(
    ctx: typer.Context,
    path: Annotated[Path, typer.Argument(help="A file or a directory to copy into the run.")],
    artifact_path: Annotated[
        str | None,
        typer.Option("--artifact-path", "-a", help="Folder inside the run's artifacts."),
    ] = None,
    run: RunOption = None,
) -> None:
    """Copy a file or a directory's contents into the run's artifacts.

    Example: mlcli log artifact plots/ --artifact-path figures --run 3f2a
    """
    from mlcli.cli.notices import warnings_as_notices
    from mlcli.cli.output import Output

    client = get_client(ctx)
    run_id = require_run(run)
    if path.is_dir():
        with warnings_as_notices(), Output().progress(f"Copying {path}") as progress:
            client.log_artifacts(run_id, path, artifact_path, progress=progress)
    elif path.is_file():
        client.log_artifact(run_id, path, artifact_path)
    else:
        raise NotFoundError(f"no such file or directory: {path}")


@app.command("batch")
def log_batch(
    ctx: typer.Context,
    file: Annotated[str, typer.Argument(help="A JSON-lines file, or - for stdin.")] = "-",
    run: RunOption = None,
) -> None:
    """Log many metrics, params and tags from JSON lines, all or nothing.

    Each line is one of:

        {"metric": "loss", "value": 0.3, "step": 2}

        {"param": "lr", "value": "0.1"}

        {"tag": "stage", "value": "tuning"}

    A malformed line is reported with its number and nothing is logged.

    Example: python train.py | mlcli log batch - --run 3f2a
    """
    from mlcli.cli.inputs import read_input
    from mlcli.tracking.batch_lines import parse_batch

    run_id = require_run(run)
    batch = parse_batch(read_input(file, "a JSON-lines file"))
    get_client(ctx).log_batch(run_id, metrics=batch.metrics, params=batch.params, tags=batch.tags)
