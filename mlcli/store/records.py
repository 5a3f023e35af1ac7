"""The JSON-lines records of a run's logs, and how they fold into current values.

    params.jsonl   {"key": "lr", "value": "0.1"}                       first line per key wins
    tags.jsonl     {"key": "k", "value": "v"}                          last line per key wins;
                   {"key": "k", "value": null}                         deletes the tag
    metrics.jsonl  {"key": "loss", "value": 0.5, "step": 1, "timestamp": 1700000000000}

Metric values that JSON cannot carry are written as the strings "NaN", "Infinity"
and "-Infinity", so that ``jq`` and every other JSON reader can read the files.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from typing import Any

from mlcli.store.entities import Metric, parse_json_number

_encode_string = json.encoder.encode_basestring_ascii  # type: ignore[attr-defined]


def metric_line(key: str, value: float, step: int, timestamp: int) -> str:
    if value != value:
        text = '"NaN"'
    elif value == math.inf:
        text = '"Infinity"'
    elif value == -math.inf:
        text = '"-Infinity"'
    else:
        text = repr(value)
    return f'{{"key":{_encode_string(key)},"value":{text},"step":{step},"timestamp":{timestamp}}}\n'


def key_value_line(key: str, value: str | None) -> str:
    return json.dumps({"key": key, "value": value}, ensure_ascii=False) + "\n"


def decode_metric(record: dict[str, Any]) -> Metric | None:
    try:
        return Metric(
            key=str(record["key"]),
            value=parse_json_number(record["value"]),
            step=int(record.get("step", 0)),
            timestamp=int(record.get("timestamp", 0)),
        )
    except (KeyError, TypeError, ValueError):
        return None


def fold_params(records: Iterable[dict[str, Any]], params: dict[str, str]) -> None:
    """Add params from ``records`` to ``params``; a key already present keeps its value."""
    for record in records:
        key, value = record.get("key"), record.get("value")
        if isinstance(key, str) and key not in params and value is not None:
            params[key] = str(value)


def fold_tags(records: Iterable[dict[str, Any]], tags: dict[str, str]) -> None:
    for record in records:
        key = record.get("key")
        if not isinstance(key, str):
            continue
        value = record.get("value")
        if value is None:
            tags.pop(key, None)
        else:
            tags[key] = str(value)


def fold_latest_metrics(records: Iterable[dict[str, Any]], latest: dict[str, Metric]) -> set[str]:
    """Fold metric points into the latest value per key; return the keys that changed."""
    changed = set()
    for record in records:
        metric = decode_metric(record)
        if metric is None:
            continue
        current = latest.get(metric.key)
        if current is None or metric.sort_key() >= current.sort_key():
            latest[metric.key] = metric
            changed.add(metric.key)
    return changed
