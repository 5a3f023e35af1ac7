"""The fast paths of reading logs give exactly what the general path gives.

``parse_lines`` (one JSON call for many lines) against parsing line by line, and
``fold_metric_log`` (one regular expression and C-level sorts) against
``fold_latest_metrics`` over the decoded records, on generated logs: in order and out
of order, with ties, NaN and infinities, odd keys, torn and foreign lines.
"""

from __future__ import annotations

import json
import math

from hypothesis import given, settings
from hypothesis import strategies as st

from mlcli.files.fileio import _parse_each_line, parse_lines
from mlcli.store.records import fold_latest_metrics, fold_metric_log, metric_line

KEYS = st.sampled_from(["acc", "loss", "val.loss", "f1-score", 'we"ird', "é", "a\\b"])
VALUES = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0.0, -0.0, 1.0, 0.5, 1e-300, 1e300]),
)
STEPS = st.integers(min_value=-3, max_value=5)
STAMPS = st.integers(min_value=0, max_value=3)
POINT = st.tuples(KEYS, VALUES, STEPS, STAMPS)
FOREIGN = st.sampled_from(
    [
        '{"key": "acc", "value": 0.7, "step": 9, "timestamp": 1}',  # spaced, as json.dumps
        '{"value": 0.1, "key": "loss", "step": 9}',  # other order, no timestamp
        '{"key": "acc", "value": "0.3", "step": "10", "timestamp": 1}',  # text numbers
        '{"key": "acc", "value": 0.9, "step": 1.0, "timestamp": 1}',  # float step
        '{"key": "acc", "value": 0.9, "step": 1, "timestam',  # torn
        '{"key":"acc","value":01,"step":1,"timestamp":1}',  # not JSON: leading zero
        '{"key":"acc","value":1,"step":007,"timestamp":1}',
        '{"key":"acc","value":NaN,"step":1,"timestamp":1}',  # a bare NaN, as json.dumps
        "[1, 2]",
        "not json",
        '{"key": "acc"}',
    ]
)


def _same(a: dict, b: dict) -> bool:
    if a.keys() != b.keys():
        return False
    for key in a:
        x, y = a[key], b[key]
        if (x.step, x.timestamp) != (y.step, y.timestamp):
            return False
        if not (x.value == y.value or (math.isnan(x.value) and math.isnan(y.value))):
            return False
    return True


def _log(points: list, foreign: list[str]) -> bytes:
    lines = [metric_line(*p) for p in points]
    for position, line in foreign:
        lines.insert(position % (len(lines) + 1), line + "\n")
    return "".join(lines).encode()


@settings(max_examples=300, deadline=None)
@given(
    st.lists(POINT, max_size=30),
    st.lists(st.tuples(st.integers(0, 40), FOREIGN), max_size=2),
    st.lists(POINT, max_size=3),
)
def test_fold_metric_log_matches_the_general_fold(points, foreign, earlier) -> None:
    data = _log(points, foreign)
    start = {}
    fold_latest_metrics(parse_lines(_log(earlier, [])), start)
    expected, fast = dict(start), dict(start)
    expected_changed = fold_latest_metrics(list(_parse_each_line(data)), expected)
    changed = fold_metric_log(data, fast)
    assert _same(fast, expected)
    assert changed == expected_changed


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["a", "b"]), st.integers(0, 3)), max_size=20))
def test_rising_steps_take_the_last_line(items) -> None:
    """The common case (each key's steps rise) and its neighbours (equal steps)."""
    points = [(key, float(i), step + i, 0) for i, (key, step) in enumerate(items)]
    data = _log(points, [])
    expected, fast = {}, {}
    fold_latest_metrics(list(_parse_each_line(data)), expected)
    fold_metric_log(data, fast)
    assert _same(fast, expected)


LINES = st.one_of(
    st.dictionaries(
        st.text(max_size=5), st.one_of(st.none(), st.integers(), st.text(max_size=5))
    ).map(lambda d: json.dumps(d, ensure_ascii=False)),
    FOREIGN,
    st.just(""),
    st.just("1,2"),
    st.just("{}"),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(LINES, max_size=12))
def test_parse_lines_matches_parsing_each_line(lines) -> None:
    data = "".join(line + "\n" for line in lines).encode()
    assert parse_lines(data) == list(_parse_each_line(data))


def test_parse_lines_of_invalid_utf8() -> None:
    data = b'{"key": "a", "value": "\xff"}\n{"key": "b", "value": "c"}\n'
    assert parse_lines(data) == [{"key": "b", "value": "c"}]
