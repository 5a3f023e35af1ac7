"""Output scalars: metrics read from the lines an entry point prints.

The default pattern takes a line made only of ``key: number`` or ``key=number``
pairs (``loss: 0.5``; ``step=3 loss=0.25, acc=0.91``); any other text on the line
(``Epoch 1/3 - loss: 0.5``, ``acc: 95%``) makes it ordinary output, so that prose
is not mistaken for metrics. A pair named ``step`` sets the step of the line's
other pairs and of the lines after it. Without a step, the n-th value of a key
gets step n (0, 1, 2...), so a loss printed once per epoch becomes its history.

A custom pattern is a regular expression searched in each line, with named groups:
``key`` and ``value`` (one metric, named by the text), ``step`` (the step), or any
other name (a metric of that name: ``val_loss=(?P<val_loss>\\S+)``). ``\\key``,
``\\value`` and ``\\step`` are shorthands for the three groups, as Guild writes them.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from mlcli.errors import InvalidInputError
from mlcli.known_keys import reject_unknown_keys
from mlcli.store import validate_key

_KEY = r"[A-Za-z_][\w.\-/]*"
_NUMBER = r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?(?![\w.])|[-+]?(?:inf|nan)(?!\w)"
_PAIR = re.compile(rf"(?P<key>{_KEY})[ \t]*(?::|=)[ \t]*(?P<value>{_NUMBER})", re.IGNORECASE)
_GAP = re.compile(r"[\s,;|]*")
_SHORTHANDS = {
    r"\key": rf"(?P<key>{_KEY})",
    r"\value": rf"(?P<value>{_NUMBER})",
    r"\step": r"(?P<step>\d+)",
}
STEP_KEY = "step"
#: Longer lines are not searched: a minified blob or a progress dump, not a metric.
MAX_LINE = 4096


@dataclass(frozen=True)
class Scalar:
    key: str
    value: float
    step: int
    line: int  # 1-based number of the output line it came from

    def to_dict(self) -> dict[str, Any]:
        value: float | str = self.value if math.isfinite(self.value) else str(self.value)
        return {"key": self.key, "value": value, "step": self.step, "line": self.line}


@dataclass(frozen=True)
class ScalarPatterns:
    """How output lines become metrics: the default pattern, or custom regexes."""

    custom: tuple[re.Pattern[str], ...] = ()

    @property
    def is_default(self) -> bool:
        return not self.custom

    def describe(self) -> list[str]:
        return [p.pattern for p in self.custom] or ["key: number / key=number (default)"]


DEFAULT_PATTERNS = ScalarPatterns()


def compile_patterns(sources: Iterable[str], where: str = "--output-scalars") -> ScalarPatterns:
    """Custom patterns, each checked: a bad regex or one without a usable named group
    is an InvalidInputError naming it."""
    compiled = []
    for source in sources:
        if not isinstance(source, str) or not source:
            raise InvalidInputError(f"{where}: a pattern must be a non-empty string")
        expanded = source
        for short, group in _SHORTHANDS.items():
            expanded = expanded.replace(short, group)
        try:
            pattern = re.compile(expanded)
        except re.error as exc:
            raise InvalidInputError(f"{where}: invalid pattern {source!r}: {exc}") from None
        names = set(pattern.groupindex)
        if not names or (("key" in names) != ("value" in names)):
            raise InvalidInputError(
                f"{where}: the pattern {source!r} needs named groups: (?P<key>...) with "
                "(?P<value>...), a group named after the metric such as (?P<loss>...), "
                "or (?P<step>...)"
            )
        compiled.append(pattern)
    return ScalarPatterns(tuple(compiled))


def outputs_section(section: Any, where: str) -> ScalarPatterns | bool | None:
    """The MLproject's ``outputs`` mapping: its ``scalars`` patterns, False when
    ``scalars: false`` turns them off, None when it says nothing."""
    if section is None:
        return None
    if not isinstance(section, dict):
        raise InvalidInputError(f"{where}: 'outputs' must be a mapping such as {{scalars: [...]}}")
    reject_unknown_keys(
        section, {"scalars"}, where=where, what="key(s) under 'outputs':", hint="valid: scalars"
    )
    scalars = section.get("scalars")
    if scalars is None:
        return None
    if scalars is False:
        return False
    if isinstance(scalars, str):
        scalars = [scalars]
    if not isinstance(scalars, list) or not scalars:
        raise InvalidInputError(
            f"{where}: 'outputs.scalars' must be a list of regular expressions, or false"
        )
    return compile_patterns(scalars, f"{where}: outputs.scalars")


@dataclass
class ScalarParser:
    """Turns output lines into scalars, keeping the step between lines."""

    patterns: ScalarPatterns = DEFAULT_PATTERNS
    step: int | None = None
    line_number: int = 0
    _counts: dict[str, int] = field(default_factory=dict)
    _bad_keys: set[str] = field(default_factory=set)

    def parse_line(self, line: str) -> list[Scalar]:
        self.line_number += 1
        if len(line) > MAX_LINE:
            return []
        found = _default_pairs(line) if self.patterns.is_default else _custom_pairs(self, line)
        points = []
        for key, text in found:
            if key == STEP_KEY:
                self._set_step(text)
            else:
                points.append((key, text))
        return [s for key, text in points if (s := self._scalar(key, text)) is not None]

    def parse_lines(self, lines: Iterable[str]) -> Iterator[Scalar]:
        for line in lines:
            yield from self.parse_line(line)

    def _set_step(self, text: str) -> None:
        try:
            value = float(text)
        except ValueError:
            return
        if value.is_integer():
            self.step = int(value)

    def _scalar(self, key: str, text: str) -> Scalar | None:
        if key in self._bad_keys:
            return None
        try:
            value = float(text)
        except ValueError:
            return None
        if key not in self._counts:
            try:
                validate_key(key, "metric key")
            except InvalidInputError:
                self._bad_keys.add(key)
                return None
        count = self._counts.get(key, 0)
        self._counts[key] = count + 1
        step = self.step if self.step is not None else count
        return Scalar(key, value, step, self.line_number)


def parse_output(text: str, patterns: ScalarPatterns = DEFAULT_PATTERNS) -> list[Scalar]:
    """Every scalar that ``text`` (a whole output) would log."""
    return list(ScalarParser(patterns).parse_lines(split_lines(text)))


def split_lines(text: str) -> list[str]:
    """Lines as a terminal shows them: a carriage return (a progress bar redrawn)
    ends a line too."""
    return re.split(r"\r\n|\r|\n", text)


def _default_pairs(line: str) -> list[tuple[str, str]]:
    if ":" not in line and "=" not in line:
        return []
    pairs: list[tuple[str, str]] = []
    position = 0
    for match in _PAIR.finditer(line):
        gap = _GAP.fullmatch(line, position, match.start())
        if gap is None or (pairs and match.start() == position):
            return []
        pairs.append((match.group("key"), match.group("value")))
        position = match.end()
    if not pairs or _GAP.fullmatch(line, position) is None:
        return []
    return pairs


def _custom_pairs(parser: ScalarParser, line: str) -> list[tuple[str, str]]:
    pairs: list[tuple[str, str]] = []
    for pattern in parser.patterns.custom:
        for match in pattern.finditer(line):
            groups = {k: v for k, v in match.groupdict().items() if v is not None}
            if "step" in groups:
                pairs.insert(0, (STEP_KEY, groups.pop("step")))
            if "key" in groups and "value" in groups:
                pairs.append((groups.pop("key"), groups.pop("value")))
            pairs += [(k, v) for k, v in groups.items() if k not in ("key", "value")]
    return pairs


def resolve_patterns(
    given: Sequence[str] | None, enabled: bool, project_patterns: ScalarPatterns | bool | None
) -> ScalarPatterns | None:
    """The patterns a run uses (None: off): ``--output-scalars`` if given, else the
    MLproject's ``outputs.scalars``, else the default; ``--no-output-scalars`` or
    ``scalars: false`` turn it off."""
    if not enabled:
        return None
    if given:
        return compile_patterns(given)
    if project_patterns is False:
        return None
    if isinstance(project_patterns, ScalarPatterns):
        return project_patterns
    return DEFAULT_PATTERNS
