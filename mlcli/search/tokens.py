"""Splitting filter text into tokens: words, quoted text, numbers and punctuation."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum
from typing import Any

from mlcli.search.errors import FilterSyntaxError


class Kind(Enum):
    WORD = "word"  # a bare identifier or keyword: status, metrics.val.loss, AND
    PREFIXED = "prefixed"  # a prefix and a quoted key: metrics.`f1-score`
    STRING = "string"  # '...' or "..."
    BACKTICK = "backtick"  # `...`, a quoted identifier
    NUMBER = "number"
    OP = "operator"  # = == != <> < <= > >=
    LPAREN = "("
    RPAREN = ")"
    COMMA = ","
    END = "end of input"


@dataclass(frozen=True)
class Token:
    kind: Kind
    text: str  # the source text of the token
    value: Any  # str for quoted text, float for numbers, (prefix, key) for PREFIXED
    start: int
    end: int

    def describe(self) -> str:
        """How an error message names this token."""
        if self.kind is Kind.END:
            return "end of input"
        if self.kind is Kind.STRING:
            return f"string {self.text}"
        if self.kind is Kind.NUMBER:
            return f"number {self.text}"
        return repr(self.text) if "'" not in self.text else f'"{self.text}"'


KEYWORDS = frozenset({"AND", "OR", "NOT", "LIKE", "ILIKE", "IN", "IS", "NULL", "ASC", "DESC"})
QUOTES = "'\"`"
OPERATORS = ("<=", ">=", "<>", "!=", "==", "=", "<", ">")
NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_PUNCTUATION = {"(": Kind.LPAREN, ")": Kind.RPAREN, ",": Kind.COMMA}


def is_word_start(ch: str) -> bool:
    return ch.isalpha() or ch == "_"


def is_word_char(ch: str) -> bool:
    """Characters of a bare identifier: letters, digits and ``_ . - / :``."""
    return ch.isalnum() or ch in "_.-/:"


def tokenize(text: str, what: str = "filter") -> list[Token]:
    """The tokens of ``text``, ending with an END token; FilterSyntaxError on bad input."""
    tokens: list[Token] = []
    pos, size = 0, len(text)
    while True:
        while pos < size and text[pos].isspace():
            pos += 1
        if pos >= size:
            tokens.append(Token(Kind.END, "", None, size, size))
            return tokens
        token = _next_token(text, pos, what)
        tokens.append(token)
        pos = token.end


def _next_token(text: str, pos: int, what: str) -> Token:
    ch = text[pos]
    if ch in _PUNCTUATION:
        return Token(_PUNCTUATION[ch], ch, ch, pos, pos + 1)
    for op in OPERATORS:
        if text.startswith(op, pos):
            return Token(Kind.OP, op, op, pos, pos + len(op))
    if ch in QUOTES:
        value, end = read_quoted(text, pos, what)
        kind = Kind.BACKTICK if ch == "`" else Kind.STRING
        return Token(kind, text[pos:end], value, pos, end)
    if ch in "0123456789+-." and NUMBER.match(text, pos):
        return _number(text, pos, what)
    if is_word_start(ch):
        return _word(text, pos, what)
    if ch == "!":
        raise FilterSyntaxError(text, pos, "'!='", repr(ch), what=what)
    raise FilterSyntaxError(
        text, pos, "a key, an operator, a value or a parenthesis", _quote_char(ch), what=what
    )


def _number(text: str, pos: int, what: str) -> Token:
    match = NUMBER.match(text, pos)
    assert match is not None
    end = match.end()
    if end < len(text) and (is_word_char(text[end]) or text[end] in "+-"):
        bad_end = end
        while bad_end < len(text) and (is_word_char(text[bad_end]) or text[bad_end] in "+-"):
            bad_end += 1
        raise FilterSyntaxError(
            text,
            pos,
            "a number",
            f"'{text[pos:bad_end]}'",
            what=what,
            detail=f"invalid number '{text[pos:bad_end]}'",
        )
    return Token(Kind.NUMBER, match.group(), float(match.group()), pos, end)


def _word(text: str, pos: int, what: str) -> Token:
    end = pos
    while end < len(text) and is_word_char(text[end]):
        end += 1
    word = text[pos:end]
    if word.endswith(".") and word.count(".") == 1 and end < len(text) and text[end] in QUOTES:
        key, quoted_end = read_quoted(text, end, what)
        return Token(Kind.PREFIXED, text[pos:quoted_end], (word[:-1], key), pos, quoted_end)
    return Token(Kind.WORD, word, word, pos, end)


def read_quoted(text: str, pos: int, what: str = "filter") -> tuple[str, int]:
    """The text of the quoted string opening at ``pos`` and the offset after it.

    A doubled quote stands for one quote; a backslash escapes a quote or a backslash.
    A backslash before any other character is kept as it is, so ``'C:\\temp'``
    and LIKE patterns such as ``'100\\%'`` need no doubling.
    """
    quote = text[pos]
    chars: list[str] = []
    i = pos + 1
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text) and text[i + 1] in (quote, "\\"):
            chars.append(text[i + 1])
            i += 2
        elif ch == quote:
            if i + 1 < len(text) and text[i + 1] == quote:
                chars.append(quote)
                i += 2
            else:
                return "".join(chars), i + 1
        else:
            chars.append(ch)
            i += 1
    raise FilterSyntaxError(
        text, pos, f"a closing {quote} for the text that starts here", "end of input", what=what
    )


def _quote_char(ch: str) -> str:
    return f"'{ch}'" if ch != "'" else f'"{ch}"'
