"""Recursive descent from tokens to the syntax tree, checking meaning as it goes.

filter     := or_expr END
or_expr    := and_expr (OR and_expr)*
and_expr   := not_expr (AND not_expr)*
not_expr   := NOT not_expr | '(' or_expr ')' | comparison
comparison := key op value | key [NOT] IN list | key IS [NOT] NULL
op         := = | == | != | <> | < | <= | > | >= | [NOT] LIKE | [NOT] ILIKE
list       := '(' value (',' value)* ')'
order_by   := key [ASC | DESC] (',' key [ASC | DESC])*
"""

from __future__ import annotations

from collections.abc import Sequence

from mlcli import system_tags
from mlcli.search.errors import FilterSyntaxError
from mlcli.search.keys import (
    ATTRIBUTES,
    UnknownNameError,
    resolve_attribute,
    resolve_prefix,
)
from mlcli.search.nodes import (
    PATTERN,
    And,
    Compare,
    Field,
    Node,
    Not,
    Or,
    OrderKey,
    Value,
)
from mlcli.search.tokens import KEYWORDS, Kind, Token, tokenize
from mlcli.store import RunStatus

MAX_DEPTH = 100
_CONDITION = "a condition (a key such as metrics.acc, params.lr or status, NOT, or '(')"
_OPERATORS = "an operator (=, !=, <, <=, >, >=, LIKE, ILIKE, IN or IS)"
_OP_ALIASES = {"<>": "!=", "==": "="}


def parse_filter(text: str | None) -> Node | None:
    """The syntax tree of a filter; None when the filter is empty or blank."""
    if text is None:
        return None
    return _Parser(text).filter()


def parse_order_by(items: Sequence[str] | None) -> list[OrderKey]:
    """Order keys from items such as ``"metrics.acc DESC"``; an item may hold several
    keys separated by commas. A single string is taken as one item."""
    if isinstance(items, str):
        items = [items]
    keys: list[OrderKey] = []
    for item in items or ():
        keys += _Parser(item, what=f"order_by {item!r}").order_by()
    return keys


class _Parser:
    def __init__(self, text: str, what: str = "filter") -> None:
        self.text = text
        self.what = what
        self.tokens = tokenize(text, what)
        self.index = 0
        self.depth = 0

    # -- entry points -------------------------------------------------------------------

    def filter(self) -> Node | None:
        if self._peek().kind is Kind.END:
            return None
        node = self._or_expr()
        token = self._peek()
        if token.kind is Kind.RPAREN:
            raise self._error(
                token,
                "AND, OR or end of input",
                detail="unbalanced ')': there is no '(' for it to close",
            )
        if token.kind is not Kind.END:
            raise self._error(token, "AND, OR or end of input")
        return node

    def order_by(self) -> list[OrderKey]:
        keys: list[OrderKey] = []
        while True:
            token = self._peek()
            if not _is_key_token(token):
                raise self._error(token, "a key to order by, such as metrics.acc or start_time")
            field = self._field()
            descending = False
            if self._keyword("ASC", "DESC"):
                descending = self._advance().text.upper() == "DESC"
            keys.append(OrderKey(field, descending))
            token = self._peek()
            if token.kind is Kind.END:
                return keys
            if token.kind is not Kind.COMMA:
                raise self._error(token, "ASC, DESC or end of input")
            self._advance()

    # -- boolean structure --------------------------------------------------------------

    def _or_expr(self) -> Node:
        items = [self._and_expr()]
        while self._keyword("OR"):
            self._expect_condition_after(self._advance())
            items.append(self._and_expr())
        return _flatten(Or, items)

    def _and_expr(self) -> Node:
        items = [self._not_expr()]
        while self._keyword("AND"):
            self._expect_condition_after(self._advance())
            items.append(self._not_expr())
        return _flatten(And, items)

    def _not_expr(self) -> Node:
        token = self._peek()
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self._error(
                token,
                f"at most {MAX_DEPTH} nested NOTs and parentheses",
                detail="the filter is nested too deeply",
            )
        try:
            if self._keyword("NOT"):
                self._expect_condition_after(self._advance())
                return Not(self._not_expr())
            if token.kind is Kind.LPAREN:
                self._advance()
                self._expect_condition_after(token)
                node = self._or_expr()
                closing = self._peek()
                if closing.kind is not Kind.RPAREN:
                    raise self._error(
                        closing, f"AND, OR or ')' to close the '(' at column {token.start + 1}"
                    )
                self._advance()
                return node
            if not _is_key_token(token):
                raise self._error(token, _CONDITION)
            return self._comparison()
        finally:
            self.depth -= 1

    def _expect_condition_after(self, token: Token) -> None:
        following = self._peek()
        if following.kind in (Kind.END, Kind.RPAREN) or _is_keyword(following, "AND", "OR"):
            raise self._error(following, f"a condition after {_show(token)}")

    # -- comparisons --------------------------------------------------------------------

    def _comparison(self) -> Compare:
        key_token = self._peek()
        field = self._field()
        op_token = self._peek()
        op = self._operator(field, key_token)
        if op in ("IS NULL", "IS NOT NULL"):
            value: Value = None
            value_tokens: list[Token] = []
        elif op in ("IN", "NOT IN"):
            value_tokens = self._list(op)
            value = tuple(t.value for t in value_tokens)
        else:
            shown = f"'{op_token.text}'" if op_token.kind is Kind.OP else op
            value_tokens = [self._scalar(f"a value after {shown}")]
            value = value_tokens[0].value
        self._check(field, op, op_token, value_tokens)
        return Compare(field, op, value, key_token.start)

    def _field(self) -> Field:
        token = self._advance()
        try:
            if token.kind is Kind.PREFIXED:
                prefix, key = token.value
                return self._prefixed(prefix, key, token, token.start + len(prefix) + 1)
            if token.kind in (Kind.STRING, Kind.BACKTICK):
                return Field("attribute", resolve_attribute(token.value))
            prefix, dot, key = token.text.partition(".")
            if not dot:
                return Field("attribute", resolve_attribute(token.text))
            if not key:
                resolve_prefix(prefix)
                raise self._error(self._peek(), f"a key after '{prefix}.'")
            return self._prefixed(prefix, key, token, token.start + len(prefix) + 1)
        except UnknownNameError as exc:
            raise self._error(token, exc.expected, detail=exc.detail) from None

    def _prefixed(self, prefix: str, key: str, token: Token, key_start: int) -> Field:
        kind = resolve_prefix(prefix)
        if kind == "tag":  # MLflow's name of a system tag finds it: mlflow.X is mlcli.X
            return Field(kind, system_tags.to_store(key))
        if kind != "attribute":
            return Field(kind, key)
        try:
            return Field("attribute", resolve_attribute(key))
        except UnknownNameError as exc:
            raise self._error(token, exc.expected, detail=exc.detail, at=key_start) from None

    def _operator(self, field: Field, key_token: Token) -> str:
        token = self._peek()
        if token.kind is Kind.OP:
            self._advance()
            return _OP_ALIASES.get(token.text, token.text)
        if self._keyword("LIKE", "ILIKE", "IN"):
            return self._advance().text.upper()
        if self._keyword("NOT"):
            self._advance()
            if not self._keyword("LIKE", "ILIKE", "IN"):
                raise self._error(self._peek(), "LIKE, ILIKE or IN after NOT")
            return "NOT " + self._advance().text.upper()
        if self._keyword("IS"):
            self._advance()
            negated = self._keyword("NOT")
            if negated:
                self._advance()
            if not self._keyword("NULL"):
                raise self._error(
                    self._peek(),
                    "NULL or NOT NULL after IS" if not negated else "NULL after IS NOT",
                )
            self._advance()
            return "IS NOT NULL" if negated else "IS NULL"
        raise self._error(token, f"{_OPERATORS} after {key_token.text}")

    def _list(self, op: str) -> list[Token]:
        opening = self._peek()
        if opening.kind is not Kind.LPAREN:
            raise self._error(opening, f"'(' and a list of values after {op}")
        self._advance()
        if self._peek().kind is Kind.RPAREN:
            raise self._error(
                self._peek(),
                f"at least one value in the list after {op}",
                detail=f"the list after {op} is empty: expected at least one value",
            )
        values = [self._scalar(f"a value in the list after {op}")]
        while True:
            token = self._advance()
            if token.kind is Kind.RPAREN:
                return values
            if token.kind is not Kind.COMMA:
                raise self._error(token, f"',' or ')' to close the list after {op}")
            values.append(self._scalar("a value after ','"))

    def _scalar(self, expected: str) -> Token:
        token = self._peek()
        if token.kind in (Kind.STRING, Kind.NUMBER):
            return self._advance()
        detail = None
        if token.kind is Kind.WORD and token.text.upper() not in KEYWORDS:
            detail = f"expected {expected}, got {_show(token)} (quote text values: '{token.text}')"
        elif token.kind is Kind.BACKTICK:
            detail = (
                f"expected {expected}, got {token.text} "
                "(backticks quote keys; quote text values with ' or \")"
            )
        raise self._error(token, expected, detail=detail)

    def _check(self, field: Field, op: str, op_token: Token, values: list[Token]) -> None:
        """Reject comparisons that parse but cannot mean anything."""
        numeric = field.kind == "metric" or (
            field.kind == "attribute" and ATTRIBUTES[field.key].numeric
        )
        if numeric and op in PATTERN:
            raise self._error(
                op_token,
                "=, !=, <, <=, >, >=, IN or IS",
                detail=f"{op} does not apply to {field}: it is a number",
            )
        for token in values:
            if numeric and token.kind is Kind.STRING:
                raise self._error(
                    token, "a number", detail=f"{field} compares to numbers, got {token.text}"
                )
            if op in PATTERN and token.kind is Kind.NUMBER:
                raise self._error(token, f"a quoted pattern after {op}")
            if (
                field == Field("attribute", "status")
                and op in ("=", "!=", "IN", "NOT IN")
                and token.kind is Kind.STRING
                and token.value not in RunStatus.ALL
            ):
                raise self._error(
                    token,
                    f"one of {', '.join(RunStatus.ALL)}",
                    detail=f"unknown status {token.text}: expected one of "
                    f"{', '.join(RunStatus.ALL)}",
                )

    # -- token helpers ------------------------------------------------------------------

    def _peek(self) -> Token:
        return self.tokens[self.index]

    def _advance(self) -> Token:
        token = self.tokens[self.index]
        if token.kind is not Kind.END:
            self.index += 1
        return token

    def _keyword(self, *words: str) -> bool:
        return _is_keyword(self._peek(), *words)

    def _error(
        self,
        token: Token,
        expected: str,
        got: str | None = None,
        *,
        detail: str | None = None,
        at: int | None = None,
    ) -> FilterSyntaxError:
        return FilterSyntaxError(
            self.text,
            token.start if at is None else at,
            expected,
            token.describe() if got is None else got,
            detail=detail,
            what=self.what,
        )


def _flatten(kind: type[And] | type[Or], items: list[Node]) -> Node:
    if len(items) == 1:
        return items[0]
    flat: list[Node] = []
    for item in items:
        flat.extend(item.items if isinstance(item, kind) else (item,))
    return kind(tuple(flat))


def _is_keyword(token: Token, *words: str) -> bool:
    return token.kind is Kind.WORD and token.text.upper() in words


def _is_key_token(token: Token) -> bool:
    if token.kind is Kind.WORD:
        return token.text.upper() not in KEYWORDS
    return token.kind in (Kind.PREFIXED, Kind.STRING, Kind.BACKTICK)


def _show(token: Token) -> str:
    if token.kind is Kind.WORD and token.text.upper() in KEYWORDS:
        return token.text.upper()
    return f"'{token.text}'"
