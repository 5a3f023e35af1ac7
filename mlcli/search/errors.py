"""The one error of the filter language: where in the text it went wrong, and why."""

from __future__ import annotations

import unicodedata

from mlcli.errors import InvalidInputError


class FilterSyntaxError(InvalidInputError):
    """A filter or order-by clause that cannot be parsed or makes no sense.

    ``position`` is the 0-based offset of the offending token in ``text``; the
    message names it as a 1-based column. ``expected`` says what would have been
    valid there (for a semantic error, what the value or key should have been).
    """

    def __init__(
        self,
        text: str,
        position: int,
        expected: str,
        got: str | None = None,
        *,
        detail: str | None = None,
        what: str = "filter",
    ) -> None:
        self.text = text
        self.position = max(0, min(position, len(text)))
        self.expected = expected
        self.got = got
        if detail is None:
            detail = f"expected {expected}" + (f", got {got}" if got is not None else "")
        super().__init__(f"invalid {what} at column {self.position + 1}: {detail}")

    def display(self) -> str:
        """The message, the text, and a caret under the offending token."""
        shown = "".join(ch if ch.isprintable() else " " for ch in self.text)
        caret = " " * _width(shown[: self.position]) + "^"
        return f"{self.message}\n{shown}\n{caret}"


def _width(text: str) -> int:
    """Terminal columns of ``text`` (wide East Asian characters take two)."""
    return sum(
        0 if unicodedata.combining(ch) else 2 if unicodedata.east_asian_width(ch) in "WF" else 1
        for ch in text
    )
