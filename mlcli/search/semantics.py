"""What one comparison means, for every search: runs, experiments, registered models,
model versions and logged models.

The run search compiles filters to SQL (``sql.py``) and is tested against
``evaluate.py``; the server's entity searches (``mlcli/search/entity_filter.py``) match in
Python. Both Python paths call ``compare`` below, and the SQL compiler builds its
patterns and number guard from the same ``patterns.py`` and ``numeric.py``, so a
filter means the same thing wherever it is written:

- A comparison never matches a missing value, nor NaN (``!=``, ``NOT IN`` and
  ``NOT LIKE`` included); only ``IS NULL`` matches a missing value.
- Text compared with a number compares as a number when it is a plain decimal number
  (``numeric.py``), and never matches otherwise.
- ``LIKE``/``ILIKE``: ``%`` any text, ``_`` one character, a backslash makes the next
  character literal (``patterns.py``); ``ILIKE`` ignores case beyond ASCII.
- ``IN`` is a chain of ``=`` joined by OR, ``NOT IN`` a chain of ``!=`` joined by AND.

A missing tag is missing for every search, MLflow's prompt marker included, as in
MLflow's own stores for runs, experiments and logged models. Registry searches add
MLflow's rule for prompts on top (``mlcli/search/entity_filter.py``).
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable
from typing import Any

from mlcli.search.nodes import PATTERN, Scalar, Value
from mlcli.search.numeric import is_numeric_text
from mlcli.search.patterns import compile_like

Stored = str | float | int | None

_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "=": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


def compare(stored: Stored, op: str, value: Value) -> bool:
    """Whether a stored value (None when missing) satisfies ``op value``."""
    if op == "IS NULL":
        return stored is None
    if op == "IS NOT NULL":
        return stored is not None
    if stored is None or (isinstance(stored, float) and math.isnan(stored)):
        return False
    if op == "IN":
        assert isinstance(value, tuple)
        return any(_scalar(stored, "=", item) for item in value)
    if op == "NOT IN":
        assert isinstance(value, tuple)
        return all(_scalar(stored, "!=", item) for item in value)
    assert isinstance(value, (str, float))
    if op in PATTERN:
        assert isinstance(value, str)
        if not isinstance(stored, str):
            return False
        found = compile_like(value, ignore_case="ILIKE" in op).matches(stored)
        return found != op.startswith("NOT")
    return _scalar(stored, op, value)


def _scalar(stored: str | float | int, op: str, literal: Scalar) -> bool:
    if isinstance(literal, str):
        return isinstance(stored, str) and _OPS[op](stored, literal)
    if isinstance(stored, str):
        if not is_numeric_text(stored):
            return False
        stored = float(stored)
    return _OPS[op](stored, literal)
