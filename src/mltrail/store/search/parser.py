"""Recursive-descent parser: filter text -> clauses, order-by text -> order keys.

Every error is a MalformedFilter whose position is the offset of the character where
the parser met something it did not expect, with a message saying what it expected.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Iterable, Sequence

from mltrail.errors import MalformedFilter
from mltrail.store.search.grammar import (
    NUMERIC_COMPARATORS,
    PRESENCE_COMPARATORS,
    AttributeSpec,
    Clause,
    Comparator,
    Entity,
    OrderKey,
    Value,
    ValueType,
    Vocabulary,
)
from mltrail.store.search.lexer import Kind, Token, tokenize

_OPERATORS = {
    "=": Comparator.EQ,
    "!=": Comparator.NE,
    "<": Comparator.LT,
    "<=": Comparator.LE,
    ">": Comparator.GT,
    ">=": Comparator.GE,
}
_INT64_LIMIT = 2**63
_OPERATOR_HINTS = {"==": "=", "<>": "!="}
_ENTITY_LABELS = {
    Entity.METRIC: "metrics",
    Entity.PARAM: "params",
    Entity.TAG: "tags",
    Entity.ATTRIBUTE: "attributes",
}


def parse_filter(text: str | None, *, vocabulary: Vocabulary) -> list[Clause]:
    """Parse ``clause AND clause ...``; an empty or blank filter has no clauses."""
    if text is None or not text.strip():
        return []
    return _Parser(text, vocabulary).filter()


def parse_order_by(text: str, *, vocabulary: Vocabulary) -> OrderKey:
    """Parse one order-by clause: ``<entity>.<key> [ASC|DESC]``."""
    return _Parser(text, vocabulary).order_key()


def parse_order_by_list(items: Sequence[str], *, vocabulary: Vocabulary) -> list[OrderKey]:
    keys: list[OrderKey] = []
    seen: set[tuple[Entity, str]] = set()
    for item in items:
        key = parse_order_by(item, vocabulary=vocabulary)
        if (key.entity, key.key) in seen:
            raise MalformedFilter(
                f"{_label(key.entity, key.key)} appears more than once in order_by",
                text=item,
                position=len(item) - len(item.lstrip()),
            )
        seen.add((key.entity, key.key))
        keys.append(key)
    return keys


def _label(entity: Entity, key: str) -> str:
    if entity is Entity.ATTRIBUTE:
        return key
    return f"{_ENTITY_LABELS[entity]}.{key}"


def _suggest(word: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.75)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _names(comparators: Sequence[Comparator]) -> str:
    return ", ".join(c.value for c in comparators)


class _Parser:
    def __init__(self, text: str, vocabulary: Vocabulary) -> None:
        self.text = text
        self.vocabulary = vocabulary
        self.tokens = tokenize(text)
        self.index = 0

    # -- token helpers -------------------------------------------------------

    def peek(self) -> Token:
        return self.tokens[self.index]

    def advance(self) -> Token:
        token = self.tokens[self.index]
        if token.kind is not Kind.END:
            self.index += 1
        return token

    def error(self, message: str, position: int) -> MalformedFilter:
        return MalformedFilter(message, text=self.text, position=position)

    # -- filter --------------------------------------------------------------

    def filter(self) -> list[Clause]:
        clauses = [self.clause()]
        while True:
            token = self.peek()
            if token.kind is Kind.END:
                return clauses
            word = token.upper()
            if word == "AND":
                self.advance()
                if self.peek().kind is Kind.END:
                    raise self.error("expected a clause after AND", self.peek().start)
                clauses.append(self.clause())
            elif word == "OR":
                raise self.error(
                    "OR is not supported: a filter is a list of clauses joined by AND",
                    token.start,
                )
            else:
                raise self.error(
                    f"expected AND or the end of the filter after "
                    f"{self.text[clauses[-1].position : token.start].strip()!r}, "
                    f"found {token.describe()}",
                    token.start,
                )

    def clause(self) -> Clause:
        start = self.peek().start
        entity, key, spec, key_end = self.identifier(purpose="filter")
        label = self.text[start:key_end]
        comparator_token = self.peek()
        comparator = self.comparator(entity, spec, label)
        allowed = self.allowed_comparators(entity, spec)
        if comparator not in allowed:
            raise self.error(
                f"{comparator.value} cannot be used with {label}"
                f"{self.kind_hint(entity, spec)}; use one of {_names(allowed)}",
                comparator_token.start,
            )
        value = self.value(entity, spec, comparator, f"{label} {comparator.value}")
        return Clause(entity, key, comparator, value, start)

    def identifier(self, *, purpose: str) -> tuple[Entity, str, AttributeSpec | None, int]:
        """``entity.key``, ``entity.`quoted key``` or a bare attribute name."""
        token = self.advance()
        vocab = self.vocabulary
        expected = (
            f"expected a key such as {vocab.prefixes_text().replace('.', '.<key>')} "
            f"or an attribute name"
        )
        if token.kind in (Kind.BACKQUOTED, Kind.STRING) and token.text[0] != "'":
            return self.attribute_key(token.value, token.start, token.end, purpose)
        if token.kind is not Kind.WORD or token.upper() in ("AND", "OR"):
            raise self.error(f"{expected}, found {token.describe()}", token.start)
        word = token.value
        if "." not in word:
            if word.lower() in vocab.entities or word.lower() in vocab.rejected_entities:
                raise self.error(f"expected '.' and a key after {word!r}", token.end)
            return self.attribute_key(word, token.start, token.end, purpose)
        prefix, key = word.split(".", 1)
        lowered = prefix.lower()
        if lowered in vocab.rejected_entities:
            raise self.error(vocab.rejected_entities[lowered], token.start)
        if lowered not in vocab.entities:
            raise self.error(
                f"unknown entity {prefix!r}{_suggest(lowered, vocab.entities)}; "
                f"expected one of {vocab.prefixes_text()}",
                token.start,
            )
        entity = vocab.entities[lowered]
        key_start, key_end = token.start + len(prefix) + 1, token.end
        if not key:
            quoted = self.peek()
            if quoted.kind in (Kind.BACKQUOTED, Kind.STRING) and quoted.start == token.end:
                self.advance()
                key, key_start, key_end = quoted.value, quoted.start, quoted.end
                if not key:
                    raise self.error(f"empty key after {word!r}", quoted.start)
            else:
                raise self.error(
                    f"expected a key after {word!r} (quote keys with spaces: {word}`my key`)",
                    token.end,
                )
        if entity is Entity.ATTRIBUTE:
            return self.attribute_key(key, key_start, key_end, purpose)
        return entity, key, None, key_end

    def attribute_key(
        self, key: str, start: int, end: int, purpose: str
    ) -> tuple[Entity, str, AttributeSpec | None, int]:
        spec = self.vocabulary.attribute(key)
        usable = spec is not None and (spec.searchable if purpose == "filter" else spec.orderable)
        if spec is None or not usable:
            names = sorted(
                name
                for name, s in self.vocabulary.attributes.items()
                if (s.searchable if purpose == "filter" else s.orderable)
            )
            raise self.error(
                f"unknown attribute {key!r}{_suggest(key, names)} for {purpose}ing "
                f"{self.vocabulary.subject}; expected one of {', '.join(names)}",
                start,
            )
        return Entity.ATTRIBUTE, spec.name, spec, end

    def allowed_comparators(
        self, entity: Entity, spec: AttributeSpec | None
    ) -> tuple[Comparator, ...]:
        if spec is not None:
            return spec.comparators
        return self.vocabulary.entity_comparators[entity]

    @staticmethod
    def kind_hint(entity: Entity, spec: AttributeSpec | None) -> str:
        if entity is Entity.METRIC or (spec is not None and spec.value_type is ValueType.NUMBER):
            return " (a number)"
        if spec is not None and spec.value_type is ValueType.INTEGER_ID:
            return " (an id)"
        return " (a string)"

    def comparator(self, entity: Entity, spec: AttributeSpec | None, label: str) -> Comparator:
        token = self.advance()
        if token.kind is Kind.OP:
            if token.value in _OPERATOR_HINTS:
                raise self.error(
                    f"unknown comparator {token.value!r}; use {_OPERATOR_HINTS[token.value]}",
                    token.start,
                )
            return _OPERATORS[token.value]
        word = token.upper()
        if word in ("LIKE", "ILIKE", "IN"):
            return Comparator(word)
        if word == "NOT":
            following = self.advance()
            if following.upper() == "IN":
                return Comparator.NOT_IN
            raise self.error(
                f"expected IN after NOT, found {following.describe()}", following.start
            )
        if word == "IS":
            following = self.advance()
            if following.upper() == "NULL":
                return Comparator.IS_NULL
            if following.upper() == "NOT":
                last = self.advance()
                if last.upper() == "NULL":
                    return Comparator.IS_NOT_NULL
                raise self.error(f"expected NULL after IS NOT, found {last.describe()}", last.start)
            raise self.error(
                f"expected NULL or NOT NULL after IS, found {following.describe()}",
                following.start,
            )
        allowed = self.allowed_comparators(entity, spec)
        raise self.error(
            f"expected a comparator ({_names(allowed)}) after {label!r}, found {token.describe()}",
            token.start,
        )

    # -- values --------------------------------------------------------------

    def value(
        self, entity: Entity, spec: AttributeSpec | None, comparator: Comparator, label: str
    ) -> Value:
        if comparator in PRESENCE_COMPARATORS:
            return None
        if entity is Entity.METRIC:
            value_type = ValueType.NUMBER
        elif spec is not None:
            value_type = spec.value_type
        else:
            value_type = ValueType.STRING
        if comparator in (Comparator.IN, Comparator.NOT_IN):
            return self.value_list(value_type, label)
        return self.scalar(value_type, label, integer_ok=comparator in NUMERIC_COMPARATORS)

    def scalar(self, value_type: ValueType, label: str, *, integer_ok: bool = True) -> Value:
        token = self.advance()
        if token.kind is Kind.END:
            raise self.error(f"expected a value after {label!r}", token.start)
        if value_type is ValueType.NUMBER:
            if token.kind is Kind.NUMBER:
                return self.number(token)
            hint = "; write numbers without quotes" if token.kind is Kind.STRING else ""
            raise self.error(
                f"expected a number after {label!r}, found {token.describe()}{hint}", token.start
            )
        if value_type is ValueType.INTEGER_ID:
            raw = token.value.strip() if token.kind in (Kind.STRING, Kind.NUMBER) else None
            if raw is None or not raw.isdigit():
                raise self.error(
                    f"expected an id (an integer such as '1') after {label!r}, "
                    f"found {token.describe()}",
                    token.start,
                )
            return int(raw)
        if token.kind is Kind.STRING:
            return token.value
        if token.kind is Kind.BACKQUOTED:
            hint = f"; backquotes are for keys, quote values with ': '{token.value}'"
        elif token.kind in (Kind.WORD, Kind.NUMBER):
            hint = f"; quote it: '{token.value}'"
        else:
            hint = ""
        raise self.error(
            f"expected a quoted string after {label!r}, found {token.describe()}{hint}",
            token.start,
        )

    def number(self, token: Token) -> int | float:
        number = float(token.value)
        if not math.isfinite(number):
            raise self.error(f"number {token.text} is out of range", token.start)
        if token.value.lstrip("+-").isdigit() and abs(int(token.value)) < _INT64_LIMIT:
            return int(token.value)
        # Integers past 64 bits cannot be bound on every database; a float compares fine.
        return number

    def value_list(self, value_type: ValueType, label: str) -> tuple[str, ...] | tuple[int, ...]:
        opening = self.advance()
        if opening.kind is not Kind.LPAREN:
            raise self.error(
                f"expected a parenthesised list such as ('a', 'b') after {label!r}, "
                f"found {opening.describe()}",
                opening.start,
            )
        if self.peek().kind is Kind.RPAREN:
            raise self.error(f"the list after {label!r} is empty", self.peek().start)
        values: list[Value] = []
        while True:
            values.append(self.scalar(value_type, f"{label} ("))
            token = self.advance()
            if token.kind is Kind.RPAREN:
                break
            if token.kind is not Kind.COMMA:
                raise self.error(
                    f"expected ',' or ')' in the list after {label!r}, found {token.describe()}",
                    token.start,
                )
        if value_type is ValueType.INTEGER_ID:
            return tuple(v for v in values if isinstance(v, int))
        return tuple(v for v in values if isinstance(v, str))

    # -- order by ------------------------------------------------------------

    def order_key(self) -> OrderKey:
        if self.peek().kind is Kind.END:
            raise self.error("empty order_by clause; expected a key such as metrics.rmse DESC", 0)
        entity, key, _spec, key_end = self.identifier(purpose="order")
        label = self.text[:key_end].strip()
        token = self.advance()
        ascending = True
        if token.upper() in ("ASC", "DESC"):
            ascending = token.upper() == "ASC"
            token = self.advance()
            if token.kind is not Kind.END:
                raise self.error(
                    f"expected the end of the order_by clause after "
                    f"{self.text[: self.tokens[self.index - 2].end].strip()!r}, "
                    f"found {token.describe()}",
                    token.start,
                )
        elif token.kind is Kind.COMMA:
            raise self.error(
                "an order_by entry holds one key; pass several keys as a list", token.start
            )
        elif token.kind is not Kind.END:
            raise self.error(
                f"expected ASC or DESC after {label!r}, found {token.describe()}", token.start
            )
        return OrderKey(entity, key, ascending)
