"""``mlcli log``: params, metrics, tags and artifacts from the shell."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

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
    from mlcli.store.validation import parse_metric_value

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
    from mlcli.cli.output import Output

    client = get_client(ctx)
    run_id = require_run(run)
    if path.is_dir():
        with Output().progress(f"Copying {path}") as progress:
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
    run_id = require_run(run)
    if file == "-":
        text = sys.stdin.read()
    else:
        try:
            text = Path(file).read_text()
        except FileNotFoundError:
            raise NotFoundError(f"no such file: {file}") from None
    metrics, params, tags = parse_batch(text)
    get_client(ctx).log_batch(run_id, metrics=metrics, params=params, tags=tags)


def parse_batch(text: str) -> tuple[list[Any], list[tuple[str, Any]], list[tuple[str, Any]]]:
    """Metrics, params and tags from JSON lines; InvalidInputError names the bad line."""
    from mlcli.store.validation import parse_metric_value
    from mlcli.tracking.client import make_metric

    metrics: list[Any] = []
    params: list[tuple[str, Any]] = []
    tags: list[tuple[str, Any]] = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError as exc:
            raise InvalidInputError(f"line {number}: not valid JSON ({exc.msg})") from None
        try:
            kind = _batch_kind(record)
            if record.get("value") is None:
                raise InvalidInputError(f"{kind} {record[kind]!r} has no value")
            if kind == "metric":
                value = record["value"]
                if isinstance(value, str):
                    value = parse_metric_value(record["metric"], value)
                metrics.append(
                    make_metric(
                        record["metric"], value, record.get("step"), record.get("timestamp")
                    )
                )
            elif kind == "param":
                params.append((record["param"], record["value"]))
            else:
                tags.append((record["tag"], record["value"]))
        except InvalidInputError as exc:
            raise InvalidInputError(f"line {number}: {exc.message}") from None
    return metrics, params, tags


def _batch_kind(record: Any) -> str:
    if not isinstance(record, dict):
        raise InvalidInputError('expected an object such as {"metric": "loss", "value": 0.3}')
    kinds = [k for k in ("metric", "param", "tag") if k in record]
    if len(kinds) != 1:
        raise InvalidInputError('expected exactly one of "metric", "param" or "tag"')
    unknown = set(record) - {kinds[0], "value", "step", "timestamp"}
    if unknown:
        raise InvalidInputError(f"unknown field(s): {', '.join(sorted(unknown))}")
    if not isinstance(record[kinds[0]], str):
        raise InvalidInputError(f'"{kinds[0]}" must be a string')
    return kinds[0]
