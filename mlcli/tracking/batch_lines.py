"""A batch of metrics, params and tags written as JSON lines (``mlcli log batch``).

Each line is one of ``{"metric": "loss", "value": 0.3, "step": 2}``,
``{"param": "lr", "value": "0.1"}`` or ``{"tag": "stage", "value": "tuning"}``. The
whole text is checked before anything is logged, so a batch is all or nothing.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

from mlcli.errors import InvalidInputError
from mlcli.known_keys import reject_unknown_keys
from mlcli.store import Metric

KINDS = ("metric", "param", "tag")
FIELDS = ("value", "step", "timestamp")


@dataclass
class Batch:
    """What :meth:`TrackingClient.log_batch` takes, parsed and validated."""

    metrics: list[Metric] = field(default_factory=list)
    params: list[tuple[str, str]] = field(default_factory=list)
    tags: list[tuple[str, str]] = field(default_factory=list)


def parse_batch(text: str) -> Batch:
    """The batch in ``text``; an InvalidInputError names the first bad line.

    Lines end at a line feed only: a raw U+2028 or U+0085 inside a JSON string is valid
    JSON, not a line break.
    """
    batch = Batch()
    for number, line in enumerate(text.split("\n"), 1):
        if not line.strip():
            continue
        try:
            _add_line(batch, parse_json_line(line))
        except InvalidInputError as exc:
            raise InvalidInputError(f"line {number}: {exc.message}") from None
    return batch


def parse_json_line(line: str) -> Any:
    """One JSON value, strictly: a number beyond a double's range (``1e309``) or nesting
    deeper than Python can parse is an InvalidInputError, like any other bad JSON."""
    try:
        return json.loads(line, parse_float=_finite_float)
    except RecursionError:
        raise InvalidInputError("not valid JSON (nested too deeply)") from None
    except ValueError as exc:
        raise InvalidInputError(f"not valid JSON ({getattr(exc, 'msg', exc)})") from None


def _add_line(batch: Batch, record: Any) -> None:
    from mlcli.store import (
        parse_metric_value,
        validate_key,
        validate_param_value,
        validate_tag_value,
    )
    from mlcli.tracking.client import make_metric

    kind = _kind(record)
    if record.get("value") is None:
        raise InvalidInputError(f"{kind} {record[kind]!r} has no value")
    if kind == "metric":
        value = record["value"]
        if isinstance(value, str):
            value = parse_metric_value(record["metric"], value)
        batch.metrics.append(
            make_metric(record["metric"], value, record.get("step"), record.get("timestamp"))
        )
    elif kind == "param":
        key = validate_key(record["param"], "param key")
        batch.params.append((key, validate_param_value(key, _scalar(kind, record))))
    else:
        key = validate_key(record["tag"], "tag key")
        batch.tags.append((key, validate_tag_value(key, _scalar(kind, record))))


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


def _kind(record: Any) -> str:
    if not isinstance(record, dict):
        raise InvalidInputError('expected an object such as {"metric": "loss", "value": 0.3}')
    kinds = [k for k in KINDS if k in record]
    if len(kinds) != 1:
        raise InvalidInputError('expected exactly one of "metric", "param" or "tag"')
    reject_unknown_keys(record, {kinds[0], *FIELDS}, what="field(s):")
    if not isinstance(record[kinds[0]], str):
        raise InvalidInputError(f'"{kinds[0]}" must be a string')
    return kinds[0]
