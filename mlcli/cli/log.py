"""``mlcli log``: params, metrics, tags and artifacts from the shell."""

from __future__ import annotations

import json
import math
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
    run_id = require_run(run)
    metrics, params, tags = parse_batch(_read_batch(file))
    get_client(ctx).log_batch(run_id, metrics=metrics, params=params, tags=tags)


def _read_batch(file: str) -> str:
    """The batch's text, which must be UTF-8: an undecodable byte is an error naming its
    line, before anything is logged."""
    if file == "-":
        buffer = getattr(sys.stdin, "buffer", None)
        data: bytes | str = buffer.read() if buffer is not None else sys.stdin.read()
    else:
        try:
            data = Path(file).read_bytes()
        except FileNotFoundError:
            raise NotFoundError(f"no such file: {file}") from None
        except IsADirectoryError:
            raise InvalidInputError(f"{file} is a directory, not a JSON-lines file") from None
    try:
        if isinstance(data, bytes):
            return data.decode()
        data.encode()  # a text stream hands undecodable bytes over as surrogates
        return data
    except UnicodeError as exc:
        line = data[: exc.start].count("\n" if isinstance(data, str) else b"\n") + 1
        raise InvalidInputError(f"line {line}: not valid UTF-8 text") from None


def parse_batch(text: str) -> tuple[list[Any], list[tuple[str, Any]], list[tuple[str, Any]]]:
    """Metrics, params and tags from JSON lines; InvalidInputError names the bad line.

    Lines end at a line feed only: a raw U+2028 or U+0085 inside a JSON string is valid
    JSON, not a line break.
    """
    from mlcli.store.validation import (
        parse_metric_value,
        validate_key,
        validate_param_value,
        validate_tag_value,
    )
    from mlcli.tracking.client import make_metric

    metrics: list[Any] = []
    params: list[tuple[str, Any]] = []
    tags: list[tuple[str, Any]] = []
    for number, line in enumerate(text.split("\n"), 1):
        if not line.strip():
            continue
        try:
            record = parse_json_line(line)
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
                key = validate_key(record["param"], "param key")
                params.append((key, validate_param_value(key, _scalar(kind, record))))
            else:
                key = validate_key(record["tag"], "tag key")
                tags.append((key, validate_tag_value(key, _scalar(kind, record))))
        except InvalidInputError as exc:
            raise InvalidInputError(f"line {number}: {exc.message}") from None
    return metrics, params, tags


def parse_json_line(line: str) -> Any:
    """One JSON value, strictly: a number beyond a double's range (``1e309``) or nesting
    deeper than Python can parse is an InvalidInputError, like any other bad JSON."""
    try:
        return json.loads(line, parse_float=_finite_float)
    except RecursionError:
        raise InvalidInputError("not valid JSON (nested too deeply)") from None
    except ValueError as exc:
        raise InvalidInputError(f"not valid JSON ({getattr(exc, 'msg', exc)})") from None


def _finite_float(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise ValueError(f"the number {text[:40]} is out of the range of a double")
    return value


def _scalar(kind: str, record: dict[str, Any]) -> Any:
    value = record["value"]
    if isinstance(value, (dict, list)):
        raise InvalidInputError(
            f"the value of {kind} {record[kind]!r} must be a string or a number"
        )
    return value


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
