"""The parsed form of a search filter and of an order-by clause.

A filter is a list of clauses joined by AND; each clause names an entity (metric,
param, tag or attribute), a key, a comparator and a value. The vocabularies below say
which attribute keys each search accepts and how their values are typed; the parser
checks a filter against one of them so that the SQL compilers only see valid clauses.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field


class Entity(str, enum.Enum):
    METRIC = "metric"
    PARAM = "param"
    TAG = "tag"
    ATTRIBUTE = "attribute"


_PREFERRED_PREFIX = {
    Entity.METRIC: "metrics",
    Entity.PARAM: "params",
    Entity.TAG: "tags",
    Entity.ATTRIBUTE: "attributes",
}


class Comparator(str, enum.Enum):
    EQ = "="
    NE = "!="
    LT = "<"
    LE = "<="
    GT = ">"
    GE = ">="
    LIKE = "LIKE"
    ILIKE = "ILIKE"
    IN = "IN"
    NOT_IN = "NOT IN"
    IS_NULL = "IS NULL"
    IS_NOT_NULL = "IS NOT NULL"


NUMERIC_COMPARATORS = (
    Comparator.EQ,
    Comparator.NE,
    Comparator.LT,
    Comparator.LE,
    Comparator.GT,
    Comparator.GE,
)
STRING_COMPARATORS = (
    Comparator.EQ,
    Comparator.NE,
    Comparator.LIKE,
    Comparator.ILIKE,
    Comparator.IN,
    Comparator.NOT_IN,
)
PRESENCE_COMPARATORS = (Comparator.IS_NULL, Comparator.IS_NOT_NULL)


class ValueType(str, enum.Enum):
    NUMBER = "number"
    STRING = "string"
    INTEGER_ID = "integer id"  # an id written as '12' or 12 (experiment_id)


Value = float | int | str | tuple[str, ...] | tuple[int, ...] | None


@dataclass(frozen=True)
class Clause:
    entity: Entity
    key: str  # attribute keys are canonical (aliases resolved)
    comparator: Comparator
    value: Value
    position: int  # where the clause starts in the filter text


@dataclass(frozen=True)
class OrderKey:
    entity: Entity
    key: str
    ascending: bool


@dataclass(frozen=True)
class AttributeSpec:
    """One searchable attribute: its canonical name, value type and comparators."""

    name: str
    value_type: ValueType
    comparators: tuple[Comparator, ...]
    orderable: bool = True
    searchable: bool = True


@dataclass(frozen=True)
class Vocabulary:
    """What one kind of search (runs or experiments) accepts."""

    subject: str  # "runs" / "experiments", for messages
    entities: dict[str, Entity]  # prefix as written (lower case) -> entity
    attributes: dict[str, AttributeSpec]  # canonical name -> spec
    aliases: dict[str, str] = field(default_factory=dict)  # alias -> canonical name
    entity_comparators: dict[Entity, tuple[Comparator, ...]] = field(default_factory=dict)
    rejected_entities: dict[str, str] = field(default_factory=dict)  # prefix -> why

    def attribute(self, key: str) -> AttributeSpec | None:
        return self.attributes.get(self.aliases.get(key, key))

    def prefixes_text(self) -> str:
        present = set(self.entities.values())
        return ", ".join(f"{_PREFERRED_PREFIX[e]}." for e in Entity if e in present)


_KEY_PRESENCE = (*STRING_COMPARATORS, *PRESENCE_COMPARATORS)

RUNS = Vocabulary(
    subject="runs",
    entities={
        "metric": Entity.METRIC,
        "metrics": Entity.METRIC,
        "param": Entity.PARAM,
        "params": Entity.PARAM,
        "parameter": Entity.PARAM,
        "parameters": Entity.PARAM,
        "tag": Entity.TAG,
        "tags": Entity.TAG,
        "attribute": Entity.ATTRIBUTE,
        "attributes": Entity.ATTRIBUTE,
        "attr": Entity.ATTRIBUTE,
        "run": Entity.ATTRIBUTE,
    },
    attributes={
        spec.name: spec
        for spec in (
            AttributeSpec("run_id", ValueType.STRING, STRING_COMPARATORS),
            AttributeSpec("run_name", ValueType.STRING, STRING_COMPARATORS),
            AttributeSpec("status", ValueType.STRING, STRING_COMPARATORS),
            AttributeSpec("user_id", ValueType.STRING, STRING_COMPARATORS),
            AttributeSpec("artifact_uri", ValueType.STRING, STRING_COMPARATORS),
            AttributeSpec("start_time", ValueType.NUMBER, NUMERIC_COMPARATORS),
            AttributeSpec("end_time", ValueType.NUMBER, NUMERIC_COMPARATORS),
            # end_time - start_time in milliseconds; unset while the run has no end_time.
            AttributeSpec("duration", ValueType.NUMBER, NUMERIC_COMPARATORS),
            AttributeSpec(
                "experiment_id", ValueType.INTEGER_ID, NUMERIC_COMPARATORS, searchable=False
            ),
        )
    },
    aliases={
        "created": "start_time",
        "Created": "start_time",
        "run name": "run_name",
        "Run name": "run_name",
        "Run Name": "run_name",
    },
    entity_comparators={
        Entity.METRIC: (*NUMERIC_COMPARATORS, *PRESENCE_COMPARATORS),
        Entity.PARAM: _KEY_PRESENCE,
        Entity.TAG: _KEY_PRESENCE,
    },
    rejected_entities={
        "dataset": "searching runs by dataset is not supported",
        "datasets": "searching runs by dataset is not supported",
    },
)

EXPERIMENTS = Vocabulary(
    subject="experiments",
    entities={
        "tag": Entity.TAG,
        "tags": Entity.TAG,
        "attribute": Entity.ATTRIBUTE,
        "attributes": Entity.ATTRIBUTE,
        "attr": Entity.ATTRIBUTE,
    },
    attributes={
        spec.name: spec
        for spec in (
            AttributeSpec("name", ValueType.STRING, STRING_COMPARATORS),
            AttributeSpec(
                "experiment_id",
                ValueType.INTEGER_ID,
                (Comparator.EQ, Comparator.NE, Comparator.IN, Comparator.NOT_IN),
            ),
            AttributeSpec("creation_time", ValueType.NUMBER, NUMERIC_COMPARATORS),
            AttributeSpec("last_update_time", ValueType.NUMBER, NUMERIC_COMPARATORS),
        )
    },
    entity_comparators={Entity.TAG: _KEY_PRESENCE},
    rejected_entities={
        "metric": "experiments have no metrics; search runs to filter on metrics",
        "metrics": "experiments have no metrics; search runs to filter on metrics",
        "param": "experiments have no params; search runs to filter on params",
        "params": "experiments have no params; search runs to filter on params",
    },
)
