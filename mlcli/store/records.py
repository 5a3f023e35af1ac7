"""The JSON-lines records of a run's logs, and how they fold into current values.

    params.jsonl   {"key": "lr", "value": "0.1"}                       first line per key wins
    tags.jsonl     {"key": "k", "value": "v"}                          last line per key wins;
                   {"key": "k", "value": null}                         deletes the tag
    metrics.jsonl  {"key": "loss", "value": 0.5, "step": 1, "timestamp": 1700000000000}

A line of a multi-line batch also carries ``"batch": "<id>"``, and readers see it only
once the batch has committed (see ``batches.py``).

Metric values that JSON cannot carry are written as the strings "NaN", "Infinity"
and "-Infinity", so that ``jq`` and every other JSON reader can read the files.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable
from operator import itemgetter
from typing import Any

from mlcli.files.fileio import parse_lines
from mlcli.store.entities import Metric, parse_json_number

_encode_string = json.encoder.encode_basestring_ascii


def metric_line(key: str, value: float, step: int, timestamp: int, batch: str | None = None) -> str:
    """One line of metrics.jsonl; ``batch`` marks a line of a multi-line batch."""
    if value != value:
        text = '"NaN"'
    elif value == math.inf:
        text = '"Infinity"'
    elif value == -math.inf:
        text = '"-Infinity"'
    else:
        text = repr(value)
    marker = f',"batch":"{batch}"' if batch else ""
    return (
        f'{{"key":{_encode_string(key)},"value":{text},"step":{step},'
        f'"timestamp":{timestamp}{marker}}}\n'
    )


def key_value_line(key: str, value: str | None, batch: str | None = None) -> str:
    """One line of params.jsonl or tags.jsonl; ``batch`` as in :func:`metric_line`."""
    record: dict[str, Any] = {"key": key, "value": value}
    if batch:
        record["batch"] = batch
    return json.dumps(record, ensure_ascii=False) + "\n"


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


# A metric line exactly as ``metric_line`` writes it, with a key that needs no escapes
# (and numbers as strict as JSON's: no leading zeros).
_INTEGER = rb"-?(?:0|[1-9]\d*)"
_METRIC_LINE = re.compile(
    rb'\{"key":"([^"\\\x00-\x1f]*)",'
    rb'"value":(' + _INTEGER + rb'(?:\.\d+)?(?:[eE][-+]?\d+)?|"NaN"|"Infinity"|"-Infinity"),'
    rb'"step":(' + _INTEGER + rb'),"timestamp":(' + _INTEGER + rb')(?:,"batch":"[0-9a-f]{16}")?\}\n'
)
_first = itemgetter(0)
_NON_FINITE = {b'"NaN"': math.nan, b'"Infinity"': math.inf, b'"-Infinity"': -math.inf}


def fold_metric_log(data: bytes, latest: dict[str, Metric]) -> set[str]:
    """:func:`fold_latest_metrics` over the complete lines of a metrics log.

    Building an index reads every metric point ever logged, so this is the hot path of
    a cold start. Lines as mlcli writes them are matched by one regular expression and
    folded with C-level sorts, several times faster than JSON per line; a log with any
    other line (hand-written, torn, escaped keys) takes the general path.
    """
    found = _METRIC_LINE.findall(data)
    count = len(found)
    if not count or count != data.count(b"\n"):
        return fold_latest_metrics(parse_lines(data), latest)
    keys, values, steps, stamps = zip(*found, strict=True)
    try:
        names = {raw: raw.decode() for raw in set(keys)}
    except UnicodeDecodeError:
        return fold_latest_metrics(parse_lines(data), latest)
    steps_int = list(map(int, steps))
    pairs = list(zip(keys, steps_int, strict=True))
    by_key = sorted(pairs, key=_first)  # stable: each key's lines stay in file order
    if len(set(pairs)) == count and by_key == sorted(by_key):
        # The common case: each key's steps rise line by line, so its last line wins.
        best = dict(zip(keys, range(count), strict=True))
    else:
        # The greatest (step, timestamp, value) wins and a later line wins a tie, as in
        # fold_latest_metrics: sort, then keep the last index of each key.
        stamps_int = list(map(int, stamps))
        sort_values = [_sort_value(v) for v in values]
        order = sorted(zip(keys, steps_int, stamps_int, sort_values, range(count), strict=True))
        best = {key: index for key, _, _, _, index in order}
    changed = set()
    for raw_key, index in best.items():
        key = names[raw_key]
        text = values[index]
        value = _NON_FINITE[text] if text[:1] == b'"' else float(text)
        metric = Metric(key, value, steps_int[index], int(stamps[index]))
        current = latest.get(key)
        if current is None or metric.sort_key() >= current.sort_key():
            latest[key] = metric
            changed.add(key)
    return changed


def decode_metric_log(data: bytes, key: str | None = None) -> list[Metric]:
    """The metric points of the complete lines of a metrics log, in file order: only
    ``key``'s when it is given. Lines that are not metric points are skipped.

    Lines as mlcli writes them are matched by one regular expression and only the
    wanted key's points are built; any other log takes the general JSON path.
    """
    found = _METRIC_LINE.findall(data)
    if not found or len(found) != data.count(b"\n"):
        points = map(decode_metric, parse_lines(data))
        return [m for m in points if m is not None and (key is None or m.key == key)]
    if key is not None:
        try:
            wanted = key.encode()
        except UnicodeEncodeError:  # a lone surrogate: only an escaped key can hold one
            return []
        return [
            _point(key, value, step, stamp) for raw, value, step, stamp in found if raw == wanted
        ]
    try:
        names = {raw: raw.decode() for raw in {line[0] for line in found}}
    except UnicodeDecodeError:
        return [m for m in map(decode_metric, parse_lines(data)) if m is not None]
    return [_point(names[raw], value, step, stamp) for raw, value, step, stamp in found]


def _point(key: str, value: bytes, step: bytes, stamp: bytes) -> Metric:
    return Metric(
        key, _NON_FINITE[value] if value[:1] == b'"' else float(value), int(step), int(stamp)
    )


def _sort_value(text: bytes) -> float:
    """The value's place in Metric.sort_key: NaN lowest."""
    if text[:1] == b'"':
        return -math.inf if text == b'"NaN"' else _NON_FINITE[text]
    return float(text)
