"""Validation of names, keys and values at the edge of the store.

The limits follow MLflow's (its REST API's) so that anything mlcli accepts
MLflow accepts too. Unlike MLflow, over-long values are refused, not truncated:
a silently shortened value is a lost value. A run's param and tag values are the two
MLflow truncates (``MLFLOW_TRUNCATE_LONG_VALUES``, on by default in MLflow); with
``MLCLI_TRUNCATE_LONG_VALUES=true`` (or MLflow's variable set to true) mlcli truncates
them too, with a warning, wherever they are written: the Python API, the CLI, a server.
"""

from __future__ import annotations

import logging
import math
import numbers
import os
import posixpath
import re

from mlcli import system_tags
from mlcli.errors import InvalidInputError

MAX_KEY_LENGTH = 250
MAX_PARAM_VALUE_LENGTH = 6000
MAX_TAG_VALUE_LENGTH = 8000
MAX_EXPERIMENT_NAME_LENGTH = 500
MAX_EXPERIMENT_TAG_VALUE_LENGTH = 20000
MAX_RUN_NAME_LENGTH = 500
MAX_BATCH_ITEMS = 1000
RUN_NAME_TAGS = (system_tags.RUN_NAME, system_tags.MLFLOW_NAMES[system_tags.RUN_NAME])

# fullmatch, never ``$``: ``$`` also matches before a final newline ("k\n" would pass).
_KEY_PATTERN = re.compile(r"[/\w.\- :]*")
_RUN_ID_PATTERN = re.compile(r"[0-9a-f]{1,32}")
# C0 and C1 controls and the Unicode line and paragraph separators: a terminal or a
# reader splitting lines may break a name at any of them.
_CONTROL_CHARS = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
MAX_INT64 = 2**63 - 1
#: Truncate over-long param and tag values of runs, as MLflow does, instead of
#: refusing them: mlcli's variable, else MLflow's; true/1 or false/0.
TRUNCATE_VARIABLES = ("MLCLI_TRUNCATE_LONG_VALUES", "MLFLOW_TRUNCATE_LONG_VALUES")

_log = logging.getLogger("mlcli")


def truncating_long_values() -> bool:
    """Whether over-long param and tag values are truncated (default: refused)."""
    for name in TRUNCATE_VARIABLES:
        value = os.environ.get(name, "").strip()
        if not value:
            continue
        if value.lower() in ("true", "1"):
            return True
        if value.lower() in ("false", "0"):
            return False
        raise InvalidInputError(f"{name}={value[:40]!r}: expected true or false")
    return False


def _too_long(what: str, text: str, limit: int) -> str:
    """``text`` cut to ``limit`` when truncation is on, else the refusal, which says how
    to turn it on."""
    if truncating_long_values():
        _log.warning(
            "mlcli: warning: %s (%d characters) truncated to its first %d, as MLflow does",
            what,
            len(text),
            limit,
        )
        return text[:limit]
    raise InvalidInputError(
        f"{what} is {len(text)} characters long; the limit is {limit} (MLflow truncates "
        f"it to {limit}: set MLCLI_TRUNCATE_LONG_VALUES=true where mlcli writes, for "
        "mlcli server in its environment, to do the same)"
    )


def validate_key(key: object, kind: str = "key") -> str:
    """A metric, param or tag key: ≤250 chars of ``[/\\w.\\- :]``, a normalised
    relative path (no leading ``/``, no ``..``, not ``.``)."""
    if not isinstance(key, str) or not key:
        raise InvalidInputError(f"invalid {kind} {key!r}: must be a non-empty string")
    if len(key) > MAX_KEY_LENGTH:
        raise InvalidInputError(
            f"invalid {kind} {key[:40]!r}...: longer than {MAX_KEY_LENGTH} characters"
        )
    if not _KEY_PATTERN.fullmatch(key):
        raise InvalidInputError(
            f"invalid {kind} {key!r}: only letters, digits, '_', '-', '.', ' ', ':' and '/' "
            "are allowed"
        )
    if (
        key.startswith("/")
        or key == "."
        or ".." in key.split("/")
        or posixpath.normpath(key) != key
    ):
        raise InvalidInputError(
            f"invalid {kind} {key!r}: must be a normalised relative path "
            "(no leading '/', no '..' or '.' parts, no '//')"
        )
    return key


def validate_param_value(key: str, value: object) -> str:
    """A param value: at most ``MAX_PARAM_VALUE_LENGTH`` characters (or truncated to
    them: ``truncating_long_values``)."""
    text = _utf8("" if value is None else str(value), f"value of param {key!r}")
    if len(text) > MAX_PARAM_VALUE_LENGTH:
        return _too_long(f"value of param {key!r}", text, MAX_PARAM_VALUE_LENGTH)
    return text


def validate_tag_value(key: str, value: object, limit: int | None = None) -> str:
    """A tag value; the run-name tags (``mlcli.runName``, ``mlflow.runName``) must also be
    valid run names, since they rename the run. Without ``limit``, a run's tag: at most
    ``MAX_TAG_VALUE_LENGTH`` characters, or truncated to them as MLflow does
    (``truncating_long_values``); with one (experiment and registry tags, which MLflow
    never truncates), always refused above it."""
    text = _utf8("" if value is None else str(value), f"value of tag {key!r}")
    if limit is None and len(text) > MAX_TAG_VALUE_LENGTH:
        text = _too_long(f"value of tag {key!r}", text, MAX_TAG_VALUE_LENGTH)
    elif limit is not None and len(text) > limit:
        raise InvalidInputError(
            f"value of tag {key!r} is {len(text)} characters long; the limit is {limit}"
        )
    if key in RUN_NAME_TAGS:
        validate_run_name(text)
    return text


def validate_metric_value(key: str, value: object) -> float:
    """A metric value is a real number (not a bool, not a string); NaN and ±inf are kept,
    but a finite number too large for a double (``10**400``) is refused, not stored as
    infinity."""
    if type(value) is float:
        return value
    if isinstance(value, bool) or value is None or isinstance(value, (str, bytes)):
        raise InvalidInputError(f"invalid value {value!r} for metric {key!r}: must be a number")
    if isinstance(value, numbers.Real) or hasattr(value, "__float__"):
        try:
            number = float(value)
        except OverflowError:
            raise _out_of_range(key, value) from None
        except (TypeError, ValueError):
            pass
        else:
            if math.isinf(number) and not _is_infinite(value):
                raise _out_of_range(key, value)
            return number
    raise InvalidInputError(f"invalid value {value!r} for metric {key!r}: must be a number")


def parse_metric_value(key: str, text: str) -> float:
    """A metric value given as text (the CLI, a batch file): a float literal, or one of
    nan, inf, -inf, infinity; a finite literal beyond a double's range (``1e309``) is
    refused."""
    try:
        value = float(text)
    except (TypeError, ValueError):
        raise InvalidInputError(
            f"invalid value {_shorten(text)!r} for metric {key!r}: must be a number"
        ) from None
    if math.isinf(value) and text.strip().lstrip("+-").lower() not in ("inf", "infinity"):
        raise _out_of_range(key, text)
    return value


def _is_infinite(value: object) -> bool:
    """Whether ``value`` is itself infinite (a float's inf, Decimal('Infinity')), rather
    than a finite number that overflows a double (an int, a Fraction, a Decimal)."""
    if isinstance(value, numbers.Rational):
        return False
    is_infinite = getattr(value, "is_infinite", None)
    return bool(is_infinite()) if callable(is_infinite) else True


def _out_of_range(key: str, value: object) -> InvalidInputError:
    return InvalidInputError(
        f"invalid value {_shorten(str(value))!r} for metric {key!r}: out of the range of a "
        "double (±1.8e308); write inf or -inf for an infinite value"
    )


def _utf8(text: str, what: str) -> str:
    """``text``, which must be encodable: a lone surrogate (an undecodable byte that
    Python smuggled in) can be written to no file of the store."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidInputError(f"{what} is not valid UTF-8 text") from None
    return text


def _shorten(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else f"{text[:limit]}..."


def validate_step(step: object) -> int:
    if step is None:
        return 0
    if isinstance(step, bool) or not isinstance(step, numbers.Integral):
        if isinstance(step, float) and step.is_integer():
            step = int(step)
        else:
            raise InvalidInputError(f"invalid step {step!r}: must be an integer")
    step = int(step)
    if not -MAX_INT64 - 1 <= step <= MAX_INT64:
        raise InvalidInputError(f"invalid step {_shorten(str(step))}: out of the 64-bit range")
    return step


def validate_timestamp(timestamp: object) -> int:
    if isinstance(timestamp, bool) or not isinstance(timestamp, numbers.Real):
        raise InvalidInputError(
            f"invalid timestamp {timestamp!r}: must be milliseconds since the epoch"
        )
    if isinstance(timestamp, float) and not math.isfinite(timestamp):
        raise InvalidInputError(f"invalid timestamp {timestamp!r}: must be finite")
    # typeshed gives numbers.Real no __int__, yet int() takes every Real (float, Fraction, numpy)
    value = int(timestamp)  # type: ignore[call-overload]
    if not 0 <= value <= MAX_INT64:
        raise InvalidInputError(
            f"invalid timestamp {_shorten(str(timestamp))}: must be a non-negative int64"
        )
    return value


def validate_experiment_name(name: object) -> str:
    if not isinstance(name, str) or not name.strip():
        raise InvalidInputError("invalid experiment name: must be a non-empty string")
    if len(name) > MAX_EXPERIMENT_NAME_LENGTH:
        raise InvalidInputError(
            f"invalid experiment name: longer than {MAX_EXPERIMENT_NAME_LENGTH} characters"
        )
    if _CONTROL_CHARS.search(name):
        raise InvalidInputError(f"invalid experiment name {name!r}: control characters")
    return _utf8(name, "the experiment name")


def validate_run_name(name: object) -> str:
    if not isinstance(name, str) or not name.strip():
        raise InvalidInputError("invalid run name: must be a non-empty string")
    if len(name) > MAX_RUN_NAME_LENGTH:
        raise InvalidInputError(f"invalid run name: longer than {MAX_RUN_NAME_LENGTH} characters")
    if _CONTROL_CHARS.search(name):
        raise InvalidInputError(
            f"invalid run name {_shorten(name)!r}: control characters (such as a newline) "
            "are not allowed"
        )
    return _utf8(name, "the run name")


def printable_run_name(name: str) -> str:
    """``name`` with each control character (a newline, a tab) made a space."""
    return _CONTROL_CHARS.sub(" ", name)


def validate_run_id(run_id: object) -> str:
    """A full run id: 32 lowercase hexadecimal characters (MLflow's run ids qualify)."""
    if not isinstance(run_id, str) or len(run_id) != 32 or not _RUN_ID_PATTERN.fullmatch(run_id):
        raise InvalidInputError(f"invalid run id {run_id!r}: expected 32 hexadecimal characters")
    return run_id


def validate_run_id_prefix(prefix: object) -> str:
    if not isinstance(prefix, str) or not _RUN_ID_PATTERN.fullmatch(prefix.lower()):
        raise InvalidInputError(
            f"invalid run id {prefix!r}: expected up to 32 hexadecimal characters"
        )
    return prefix.lower()
