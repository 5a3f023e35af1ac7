"""The filters and orderings MLflow's clients send for experiments, registered models,
model versions and logged models (runs use mlcli's own filter language).

    name = 'iris' AND tags.team ILIKE 'vision%' AND creation_time > 1700000000000
    run_id IN ('a1b2...', 'c3d4...')

Conditions are joined by AND; a key is an attribute of the entity (``name``, or
``attributes.name``), ``tags.<key>`` or ``params.<key>`` (backticks or quotes around
keys with odd characters). Operators: ``= != < <= > >=`` on numbers, ``= != LIKE ILIKE``
and ``IN``/``NOT IN`` on text, ``IS NULL``/``IS NOT NULL`` on tags. These lists are
small, so they are matched in Python, with the comparisons of every other search
(``mlcli.search.semantics``: escapes in LIKE, missing values).

Registry searches (registered models and model versions, ``prompts=True``) follow the
rule of MLflow's SQL store for prompts, which MLflow keeps as registered models marked
with the tag ``mlflow.prompt.is_prompt`` = ``'true'``:

- A search that does not ask for prompts leaves them out, and its conditions on the
  marker are ignored: ``tags.`mlflow.prompt.is_prompt` != 'true'``, which MLflow >= 2.21
  clients add to every registered-model search, matches every model that is not a
  prompt, whether or not it has the tag.
- A search asks for prompts when its first condition on the marker is ``= 'true'`` or
  ``!= 'false'`` (in any case); its conditions then apply as written.

Elsewhere (experiments, logged models, runs) the marker is an ordinary tag, as in MLflow.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from mlcli.errors import InvalidInputError
from mlcli.search.semantics import compare
from mlcli.search.tokens import Kind, Token, tokenize
from mlcli.system_tags import PROMPT_IS_PROMPT, to_store

Kind_ = Literal["attribute", "tag", "param"]
Value = str | float | tuple[str, ...] | None

_PREFIXES: dict[str, Kind_] = {
    "attribute": "attribute", "attributes": "attribute", "attr": "attribute",
    "tag": "tag", "tags": "tag", "param": "param", "params": "param",
}  # fmt: skip
_COMPARATORS = {
    "=": "=", "==": "=", "!=": "!=", "<>": "!=", "<": "<", "<=": "<=", ">": ">", ">=": ">=",
}  # fmt: skip


@dataclass(frozen=True)
class Record:
    """What a filter looks at: attributes (text or numbers), tags, params; ``prompt``
    says whether a registry entity is a prompt (None: its own marker tag says)."""

    attributes: Mapping[str, Any]
    tags: Mapping[str, str] = field(default_factory=dict)
    params: Mapping[str, str] = field(default_factory=dict)
    prompt: bool | None = None

    def is_prompt(self) -> bool:
        return self.tags.get(PROMPT_IS_PROMPT) == "true" if self.prompt is None else self.prompt


@dataclass(frozen=True)
class Condition:
    kind: Kind_
    key: str
    op: str
    value: Value

    def test(self, record: Record) -> bool:
        """``search.semantics.compare``: the same rules as every other search."""
        if self.kind == "tag":
            return compare(record.tags.get(self.key), self.op, self.value)
        source = record.attributes if self.kind == "attribute" else record.params
        actual = source.get(self.key)
        if actual is not None and not isinstance(self.value, float):
            actual = str(actual)  # a text attribute compares as text
        return compare(actual, self.op, self.value)


class EntityFilter:
    """A parsed filter; ``attributes`` maps each allowed attribute to "text" or "number"
    (and aliases to their canonical name with ``aliases``); ``prompts``: MLflow's rule
    for prompts in registry searches (see the module's docstring)."""

    def __init__(
        self,
        text: str | None,
        attributes: Mapping[str, str],
        *,
        aliases: Mapping[str, str] | None = None,
        kinds: Sequence[Kind_] = ("attribute", "tag"),
        what: str = "filter",
        prompts: bool = False,
    ) -> None:
        self.text = text or ""
        self.attributes = attributes
        self.aliases = dict(aliases or {})
        self.kinds = kinds
        self.what = what
        self.conditions = self._parse() if self.text.strip() else []
        self.prompts = prompts and not self._asks_for_prompts()
        self._tested = [c for c in self.conditions if not (self.prompts and _on_the_marker(c))]

    def matches(self, record: Record) -> bool:
        if self.prompts and record.is_prompt():
            return False
        return all(c.test(record) for c in self._tested)

    def _asks_for_prompts(self) -> bool:
        """MLflow's test: the first condition on the marker is ``= 'true'`` or ``!= 'false'``."""
        for c in self.conditions:
            if _on_the_marker(c):
                wanted = {"=": "true", "!=": "false"}.get(c.op)
                return isinstance(c.value, str) and c.value.lower() == wanted
        return False

    def equality(self, attribute: str) -> str | None:
        """The value an ``attribute = '...'`` condition requires, if there is one."""
        for c in self.conditions:
            if c.kind == "attribute" and c.key == attribute and c.op == "=":
                return str(c.value)
        return None

    # -- parsing -----------------------------------------------------------------------------

    def _parse(self) -> list[Condition]:
        tokens = tokenize(self.text, self.what)
        position = 0
        conditions = []
        while True:
            condition, position = self._condition(tokens, position)
            conditions.append(condition)
            token = tokens[position]
            if token.kind is Kind.END:
                return conditions
            if not _is_word(token, "AND"):
                raise self._error(f"expected AND or the end, got {token.text!r}")
            position += 1

    def _condition(self, tokens: list[Token], position: int) -> tuple[Condition, int]:
        kind, key = self._key(tokens[position])
        position += 1
        op, position = self._operator(tokens, position)
        numeric = kind == "attribute" and self.attributes.get(key) == "number"
        if op in ("IS NULL", "IS NOT NULL"):
            if kind == "attribute":
                raise self._error(f"{op} applies to tags and params, not to {key!r}")
            return Condition(kind, key, op, None), position
        if op in ("IN", "NOT IN"):
            values, position = self._list(tokens, position)
            return Condition(kind, key, op, values), position
        token = tokens[position]
        if numeric:
            if token.kind is not Kind.NUMBER or op in ("LIKE", "ILIKE"):
                raise self._error(f"{key} compares with a number, not {token.text!r}")
            return Condition(kind, key, op, float(token.value)), position + 1
        if token.kind is not Kind.STRING:
            raise self._error(f"expected a quoted string after {key} {op}, got {token.text!r}")
        if op in ("<", "<=", ">", ">="):
            raise self._error(f"{op} compares numbers; {key} is text")
        return Condition(kind, key, op, token.value), position + 1

    def _key(self, token: Token) -> tuple[Kind_, str]:
        if token.kind is Kind.PREFIXED:
            prefix, key = token.value
        elif token.kind in (Kind.WORD, Kind.BACKTICK):
            text = str(token.value)
            prefix, _, rest = text.partition(".")
            if token.kind is Kind.BACKTICK or not rest or prefix.lower() not in _PREFIXES:
                prefix, key = "attribute", text
            else:
                key = rest
        else:
            raise self._error(f"expected a key, got {token.text!r}")
        kind = _PREFIXES.get(prefix.lower())
        if kind is None or kind not in self.kinds:
            raise self._error(f"unknown key prefix {prefix!r}")
        if kind == "tag":
            return kind, to_store(key)
        if kind == "attribute":
            name = self.aliases.get(key, key)
            if name not in self.attributes:
                known = ", ".join(sorted(self.attributes))
                raise self._error(f"unknown attribute {key!r} (known: {known})")
            return kind, name
        return kind, key

    def _operator(self, tokens: list[Token], position: int) -> tuple[str, int]:
        token = tokens[position]
        if token.kind is Kind.OP:
            return _COMPARATORS[token.text], position + 1
        words = [t.text.upper() for t in tokens[position : position + 3] if t.kind is Kind.WORD]
        for op in ("IS NOT NULL", "IS NULL", "NOT IN", "NOT LIKE", "NOT ILIKE"):
            if words[: len(op.split())] == op.split():
                if op in ("NOT LIKE", "NOT ILIKE"):
                    raise self._error(f"{op} is not supported here")
                return op, position + len(op.split())
        if words[:1] in (["LIKE"], ["ILIKE"], ["IN"]):
            return words[0], position + 1
        raise self._error(f"expected an operator, got {token.text!r}")

    def _list(self, tokens: list[Token], position: int) -> tuple[tuple[str, ...], int]:
        if tokens[position].kind is not Kind.LPAREN:
            raise self._error("expected ( after IN")
        values: list[str] = []
        position += 1
        while True:
            token = tokens[position]
            if token.kind is not Kind.STRING:
                raise self._error(f"expected a quoted string in the list, got {token.text!r}")
            values.append(token.value)
            position += 1
            if tokens[position].kind is Kind.RPAREN:
                return tuple(values), position + 1
            if tokens[position].kind is not Kind.COMMA:
                raise self._error("expected , or ) in the list")
            position += 1

    def _error(self, detail: str) -> InvalidInputError:
        return InvalidInputError(f"invalid {self.what} {self.text!r}: {detail}")


def sort_records(
    items: list[Any],
    order_by: Sequence[str],
    fields: Mapping[str, Callable[[Any], Any]],
    default: Sequence[str],
    what: str = "order_by",
) -> list[Any]:
    """``items`` sorted by clauses like ``"name ASC"``, ``"creation_time DESC"``."""
    clauses = list(order_by) or list(default)
    keys: list[tuple[Callable[[Any], Any], bool]] = []
    for clause in clauses:
        parts = clause.split()
        name = parts[0].removeprefix("attributes.").removeprefix("attribute.") if parts else ""
        direction = parts[1].upper() if len(parts) > 1 else "ASC"
        if name not in fields or len(parts) > 2 or direction not in ("ASC", "DESC"):
            known = ", ".join(sorted(fields))
            raise InvalidInputError(
                f"invalid {what} clause {clause!r}: expected '<field> [ASC|DESC]' with a "
                f"field among {known}"
            )
        keys.append((fields[name], direction == "DESC"))
    result = list(items)
    for getter, descending in reversed(keys):  # stable sorts, last key first; None last
        present = [item for item in result if getter(item) is not None]
        present.sort(key=getter, reverse=descending)
        result = present + [item for item in result if getter(item) is None]
    return result


def _on_the_marker(condition: Condition) -> bool:
    return condition.kind == "tag" and condition.key == PROMPT_IS_PROMPT


def _is_word(token: Token, word: str) -> bool:
    return token.kind is Kind.WORD and token.text.upper() == word
