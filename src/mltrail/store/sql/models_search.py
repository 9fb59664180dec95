"""Filter strings of the registry and logged-model searches, parsed strictly.

The grammar is MLflow's: ``clause AND clause ...``, a clause being
``<entity>.<key> <comparator> <value>`` or ``<attribute> <comparator> <value>``.
Keys may be quoted with backticks or double quotes (``tag.`mlflow.prompt.is_prompt```).
Tokens come from the run-search lexer so that error positions look the same.
"""

from __future__ import annotations

import enum
import operator
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement

from mltrail.errors import InvalidParameterValue, MalformedFilter
from mltrail.store.search import sql_ops
from mltrail.store.search.lexer import Kind, Token, tokenize


class FilterEntity(str, enum.Enum):
    ATTRIBUTE = "attribute"
    TAG = "tag"
    PARAM = "param"
    METRIC = "metric"


STRING_OPS = ("=", "!=", "LIKE", "ILIKE")
STRING_SET_OPS = (*STRING_OPS, "IN", "NOT IN")
NUMERIC_OPS = ("=", "!=", "<", "<=", ">", ">=")

FilterValue = str | float | int | tuple[str, ...]


@dataclass(frozen=True)
class FilterClause:
    entity: FilterEntity
    key: str
    comparator: str  # upper case: = != < <= > >= LIKE ILIKE IN NOT IN
    value: FilterValue


@dataclass(frozen=True)
class FilterVocabulary:
    subject: str
    # attribute name -> (is_numeric, comparators)
    attributes: Mapping[str, tuple[bool, tuple[str, ...]]]
    aliases: Mapping[str, str] = field(default_factory=dict)
    # entity prefix as written (lower case) -> entity
    prefixes: Mapping[str, FilterEntity] = field(default_factory=dict)


_TAG_PREFIXES = {"tag": FilterEntity.TAG, "tags": FilterEntity.TAG}
_ATTR_PREFIXES = {
    "attribute": FilterEntity.ATTRIBUTE,
    "attributes": FilterEntity.ATTRIBUTE,
    "attr": FilterEntity.ATTRIBUTE,
}

REGISTERED_MODELS = FilterVocabulary(
    subject="registered models",
    attributes={"name": (False, STRING_SET_OPS)},
    prefixes={**_TAG_PREFIXES, **_ATTR_PREFIXES},
)

MODEL_VERSIONS = FilterVocabulary(
    subject="model versions",
    attributes={
        "name": (False, STRING_SET_OPS),
        "run_id": (False, STRING_SET_OPS),
        "source_path": (False, STRING_SET_OPS),
        "version_number": (True, NUMERIC_OPS),
    },
    aliases={"source": "source_path"},
    prefixes={**_TAG_PREFIXES, **_ATTR_PREFIXES},
)

LOGGED_MODELS = FilterVocabulary(
    subject="logged models",
    attributes={
        "name": (False, STRING_SET_OPS),
        "model_id": (False, STRING_SET_OPS),
        "model_type": (False, STRING_SET_OPS),
        "status": (False, STRING_SET_OPS),
        "source_run_id": (False, STRING_SET_OPS),
        "creation_timestamp": (True, NUMERIC_OPS),
        "last_updated_timestamp": (True, NUMERIC_OPS),
    },
    aliases={"creation_time": "creation_timestamp", "last_updated_time": "last_updated_timestamp"},
    prefixes={
        **_TAG_PREFIXES,
        **_ATTR_PREFIXES,
        "param": FilterEntity.PARAM,
        "params": FilterEntity.PARAM,
        "metric": FilterEntity.METRIC,
        "metrics": FilterEntity.METRIC,
    },
)

_ENTITY_OPS = {
    FilterEntity.TAG: STRING_OPS,
    FilterEntity.PARAM: STRING_OPS,
    FilterEntity.METRIC: NUMERIC_OPS,
}


class _Parser:
    def __init__(self, text: str, vocab: FilterVocabulary) -> None:
        self.text = text
        self.vocab = vocab
        self.tokens = tokenize(text)
        self.i = 0

    def error(self, message: str, token: Token) -> MalformedFilter:
        return MalformedFilter(message, text=self.text, position=min(token.start, len(self.text)))

    def peek(self) -> Token:
        return self.tokens[self.i]

    def take(self) -> Token:
        token = self.tokens[self.i]
        if token.kind is not Kind.END:
            self.i += 1
        return token

    def parse(self) -> list[FilterClause]:
        clauses = [self.clause()]
        while self.peek().kind is not Kind.END:
            token = self.take()
            if token.upper() != "AND":
                raise self.error(
                    f"expected AND between clauses, found {token.describe()} "
                    "(OR and parentheses are not supported)",
                    token,
                )
            clauses.append(self.clause())
        return clauses

    def identifier(self) -> tuple[FilterEntity, str, Token]:
        token = self.take()
        if token.kind in (Kind.BACKQUOTED, Kind.STRING):
            return FilterEntity.ATTRIBUTE, token.value, token
        if token.kind is not Kind.WORD:
            raise self.error(f"expected an attribute or tag name, found {token.describe()}", token)
        head, dot, rest = token.value.partition(".")
        entity = self.vocab.prefixes.get(head.lower()) if dot else None
        if entity is None:
            return FilterEntity.ATTRIBUTE, token.value, token
        if not rest:
            quoted = self.peek()
            if quoted.kind in (Kind.BACKQUOTED, Kind.STRING) and quoted.start == token.end:
                self.take()
                rest = quoted.value
            if not rest:
                raise self.error(f"missing key after {token.value!r}", token)
        return entity, rest, token

    def comparator(self) -> tuple[str, Token]:
        token = self.take()
        if token.kind is Kind.OP:
            op = {"==": "=", "<>": "!="}.get(token.value, token.value)
            return op, token
        word = token.upper()
        if word in ("LIKE", "ILIKE", "IN"):
            return word, token
        if word == "NOT" and self.peek().upper() == "IN":
            self.take()
            return "NOT IN", token
        if word == "IS":
            raise self.error("IS NULL / IS NOT NULL are not supported in this search", token)
        raise self.error(f"expected a comparator, found {token.describe()}", token)

    def clause(self) -> FilterClause:
        entity, key, key_token = self.identifier()
        if entity is FilterEntity.ATTRIBUTE:
            canonical = self.vocab.aliases.get(key, key)
            spec = self.vocab.attributes.get(canonical)
            if spec is None:
                valid = ", ".join(sorted(self.vocab.attributes))
                prefixes = ", ".join(sorted({f"{p}." for p in self.vocab.prefixes}))
                raise self.error(
                    f"invalid attribute {key!r} for {self.vocab.subject}; valid attributes are "
                    f"{valid} (and keys prefixed with {prefixes})",
                    key_token,
                )
            key = canonical
            numeric, allowed = spec
        else:
            numeric, allowed = entity is FilterEntity.METRIC, _ENTITY_OPS[entity]
        op, op_token = self.comparator()
        if op not in allowed:
            raise self.error(
                f"comparator {op!r} is not allowed for {key!r}; use one of {', '.join(allowed)}",
                op_token,
            )
        return FilterClause(entity, key, op, self.value(op, numeric=numeric, key=key))

    def value(self, op: str, *, numeric: bool, key: str) -> FilterValue:
        if op in ("IN", "NOT IN"):
            return self.value_list()
        token = self.take()
        if numeric:
            if token.kind is not Kind.NUMBER:
                raise self.error(f"expected a number for {key!r}, found {token.describe()}", token)
            number = float(token.value)
            return int(number) if number.is_integer() and "." not in token.value else number
        if token.kind is not Kind.STRING:
            raise self.error(
                f"expected a quoted string for {key!r}, found {token.describe()}", token
            )
        return token.value

    def value_list(self) -> tuple[str, ...]:
        opening = self.take()
        if opening.kind is not Kind.LPAREN:
            raise self.error(f"expected '(' to start a list, found {opening.describe()}", opening)
        items: list[str] = []
        while True:
            token = self.take()
            if token.kind is not Kind.STRING:
                raise self.error(f"expected a quoted string, found {token.describe()}", token)
            items.append(token.value)
            sep = self.take()
            if sep.kind is Kind.RPAREN:
                return tuple(items)
            if sep.kind is not Kind.COMMA:
                raise self.error(f"expected ',' or ')', found {sep.describe()}", sep)


def parse_filter(text: str | None, vocab: FilterVocabulary) -> list[FilterClause]:
    """The clauses of ``text`` (none for an empty filter); MalformedFilter on bad input."""
    if text is None or not text.strip():
        return []
    return _Parser(text, vocab).parse()


@dataclass(frozen=True)
class OrderField:
    entity: FilterEntity
    key: str
    ascending: bool


def parse_order_by(items: Sequence[str], *, allowed: Mapping[str, str]) -> list[OrderField]:
    """``"name"``, ``"name DESC"``, ``"attribute.timestamp ASC"``; ``allowed`` maps names
    as written (aliases included) to canonical column names."""
    out: list[OrderField] = []
    seen: set[str] = set()
    for raw in items:
        parts = raw.strip().split()
        ascending = True
        if len(parts) == 2 and parts[1].upper() in ("ASC", "DESC"):
            ascending = parts[1].upper() == "ASC"
            parts = parts[:1]
        if len(parts) != 1:
            raise MalformedFilter(
                f"invalid order_by clause {raw!r}; expected '<field> [ASC|DESC]'",
                text=raw,
                position=0,
            )
        name = parts[0].strip('`"')
        head, dot, rest = name.partition(".")
        if dot and head.lower() in _ATTR_PREFIXES:
            name = rest
        canonical = allowed.get(name)
        if canonical is None:
            raise MalformedFilter(
                f"invalid order_by field {parts[0]!r}; valid fields are {', '.join(sorted(allowed))}",
                text=raw,
                position=0,
            )
        if canonical in seen:
            raise MalformedFilter(f"order_by field {name!r} given twice", text=raw, position=0)
        seen.add(canonical)
        out.append(OrderField(FilterEntity.ATTRIBUTE, canonical, ascending))
    return out


def string_condition(
    column: ColumnElement[Any], op: str, value: FilterValue
) -> ColumnElement[bool]:
    """The SQL for one string comparison, case-sensitive on every database (but ILIKE)."""
    if op in ("IN", "NOT IN"):
        values = value if isinstance(value, tuple) else (str(value),)
        cond = sql_ops.exact_in(column, values)
        return sa.not_(cond) if op == "NOT IN" else cond
    text = str(value)
    if op == "=":
        return sql_ops.exact_match(column, text)
    if op == "!=":
        return sa.not_(sql_ops.exact_match(column, text))
    if op == "LIKE":
        return sql_ops.CaseSensitiveLike(column, text)
    if op == "ILIKE":
        return sql_ops.case_insensitive_like(column, text)
    raise InvalidParameterValue(f"comparator {op!r} cannot compare strings")


def numeric_condition(
    column: ColumnElement[Any], op: str, value: FilterValue
) -> ColumnElement[bool]:
    if isinstance(value, (tuple, str)):
        raise InvalidParameterValue(f"expected a number, got {value!r}")
    ops: dict[str, Callable[[Any, Any], ColumnElement[bool]]] = {
        "=": operator.eq,
        "!=": operator.ne,
        "<": operator.lt,
        "<=": operator.le,
        ">": operator.gt,
        ">=": operator.ge,
    }
    return ops[op](column, value)
