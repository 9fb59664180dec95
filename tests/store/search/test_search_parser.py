"""The filter and order_by parser: accepted forms, values, and errors with positions."""

from __future__ import annotations

import pytest

from mltrail.errors import MalformedFilter
from mltrail.store.search import (
    EXPERIMENTS,
    RUNS,
    Clause,
    Comparator,
    Entity,
    OrderKey,
    parse_filter,
    parse_order_by,
    parse_order_by_list,
)
from mltrail.store.search.lexer import Kind, tokenize
from mltrail.store.search.sql_ops import like_to_glob, normalize_like_pattern

C = Comparator


def one(text: str) -> Clause:
    clauses = parse_filter(text, vocabulary=RUNS)
    assert len(clauses) == 1
    return clauses[0]


def error(text: str, *, vocabulary: object = RUNS) -> MalformedFilter:
    with pytest.raises(MalformedFilter) as caught:
        parse_filter(text, vocabulary=vocabulary)  # type: ignore[arg-type]
    assert caught.value.text == text
    assert caught.value.details == {"filter": text, "position": caught.value.position}
    return caught.value


# -- the entity x comparator matrix -------------------------------------------

PREFIXES = {
    Entity.METRIC: ["metrics", "metric", "METRICS"],
    Entity.PARAM: ["params", "param", "parameter", "parameters"],
    Entity.TAG: ["tags", "tag"],
}
VALUES = {Entity.METRIC: ("1.5", 1.5), Entity.PARAM: ("'v'", "v"), Entity.TAG: ("'v'", "v")}
LIST_VALUE = ("('a', \"b\")", ("a", "b"))
ALLOWED = {
    Entity.METRIC: {C.EQ, C.NE, C.LT, C.LE, C.GT, C.GE, C.IS_NULL, C.IS_NOT_NULL},
    Entity.PARAM: {C.EQ, C.NE, C.LIKE, C.ILIKE, C.IN, C.NOT_IN, C.IS_NULL, C.IS_NOT_NULL},
    Entity.TAG: {C.EQ, C.NE, C.LIKE, C.ILIKE, C.IN, C.NOT_IN, C.IS_NULL, C.IS_NOT_NULL},
}


def _matrix() -> list[tuple[str, Entity, Comparator]]:
    return [
        (prefix, entity, comparator)
        for entity, prefixes in PREFIXES.items()
        for prefix in prefixes
        for comparator in Comparator
    ]


def _clause_text(prefix: str, entity: Entity, comparator: Comparator) -> tuple[str, object]:
    if comparator in (C.IS_NULL, C.IS_NOT_NULL):
        return f"{prefix}.k {comparator.value}", None
    if comparator in (C.IN, C.NOT_IN):
        raw, value = LIST_VALUE
    else:
        raw, value = VALUES[entity]
    return f"{prefix}.k {comparator.value} {raw}", value


@pytest.mark.parametrize(("prefix", "entity", "comparator"), _matrix())
def test_entity_comparator_matrix(prefix: str, entity: Entity, comparator: Comparator) -> None:
    text, value = _clause_text(prefix, entity, comparator)
    if comparator in ALLOWED[entity]:
        assert one(text) == Clause(entity, "k", comparator, value, 0)  # type: ignore[arg-type]
    else:
        caught = error(text)
        assert caught.position == len(prefix) + 3  # the comparator
        assert f"{comparator.value} cannot be used with {prefix}.k" in caught.message


@pytest.mark.parametrize(
    ("key", "comparator", "raw", "value"),
    [
        ("run_id", C.EQ, "'abc'", "abc"),
        ("run_id", C.IN, "('a','b')", ("a", "b")),
        ("run_id", C.NOT_IN, "( 'a' )", ("a",)),
        ("run_name", C.LIKE, "'a%'", "a%"),
        ("status", C.NE, "'FAILED'", "FAILED"),
        ("user_id", C.ILIKE, '"Ann"', "Ann"),
        ("artifact_uri", C.EQ, "'s3://b/x'", "s3://b/x"),
        ("start_time", C.GE, "1700000000000", 1700000000000),
        ("end_time", C.LT, "1.5e12", 1.5e12),
        ("duration", C.GT, "-5", -5),
    ],
)
def test_attributes(key: str, comparator: Comparator, raw: str, value: object) -> None:
    for prefix in ("", "attributes.", "attribute.", "attr.", "run.", "ATTRIBUTES."):
        clause = one(f"{prefix}{key} {comparator.value} {raw}")
        assert clause == Clause(Entity.ATTRIBUTE, key, comparator, value, 0)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("created > 5", "start_time"),
        ("attributes.Created > 5", "start_time"),
        ("attributes.`Run name` = 'x'", "run_name"),
        ("attributes.\"run name\" = 'x'", "run_name"),
        ("`Run Name` = 'x'", "run_name"),
    ],
)
def test_attribute_aliases(text: str, key: str) -> None:
    assert one(text).key == key


@pytest.mark.parametrize(
    ("text", "position", "fragment"),
    [
        ("start_time LIKE '1'", 11, "LIKE cannot be used with start_time (a number)"),
        ("run_name < 'b'", 9, "< cannot be used with run_name (a string)"),
        ("status IS NULL", 7, "IS NULL cannot be used with status"),
        ("start_time IN (1, 2)", 11, "IN cannot be used with start_time"),
        ("lifecycle_stage = 'active'", 0, "unknown attribute 'lifecycle_stage'"),
        ("attributes.foo = 'x'", 11, "unknown attribute 'foo'"),
        ("experiment_id = '1'", 0, "unknown attribute 'experiment_id' for filtering runs"),
        ("start_time > '5'", 13, "expected a number after 'start_time >'"),
        ("status = FINISHED", 9, "quote it: 'FINISHED'"),
    ],
)
def test_attribute_errors(text: str, position: int, fragment: str) -> None:
    caught = error(text)
    assert caught.position == position
    assert fragment in caught.message


# -- keys and values ------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("metrics.rmse > 1", "rmse"),
        ("metrics.train/loss > 1", "train/loss"),
        ("metrics.val-acc:top_1 > 1", "val-acc:top_1"),
        ("metrics.a.b.c > 1", "a.b.c"),
        ("metrics.`my metric` > 1", "my metric"),
        ('metrics."my.metric" > 1', "my.metric"),
        ("metrics.'quoted' > 1", "quoted"),
        ("metrics.`it``s` > 1", "it`s"),
        ("metrics.`a\\`b` > 1", "a`b"),
        ("metrics.rmse>1", "rmse"),
    ],
)
def test_keys(text: str, key: str) -> None:
    assert one(text).key == key


@pytest.mark.parametrize(
    ("raw", "value"),
    [
        ("1", 1),
        ("-1", -1),
        ("+2", 2),
        ("1.5", 1.5),
        ("-0.25", -0.25),
        (".5", 0.5),
        ("1e3", 1000.0),
        ("-2.5E-3", -0.0025),
        ("12345678901234567890123", 1.2345678901234568e22),
    ],
)
def test_numbers(raw: str, value: float) -> None:
    assert one(f"metrics.m = {raw}").value == value
    assert one(f"metrics.m>{raw}").value == value


@pytest.mark.parametrize(
    ("raw", "value"),
    [
        ("'plain'", "plain"),
        ('"double"', "double"),
        ("''", ""),
        ("'it''s'", "it's"),
        ("'it\\'s'", "it's"),
        ('"say ""hi"""', 'say "hi"'),
        ('"say \\"hi\\""', 'say "hi"'),
        ("'back\\\\slash'", "back\\slash"),
        ("'100\\%'", "100\\%"),
        ("'a AND b'", "a AND b"),
        ("'unicode é ✓'", "unicode é ✓"),
        ("'  spaced  '", "  spaced  "),
    ],
)
def test_strings(raw: str, value: str) -> None:
    assert one(f"params.p = {raw}").value == value


def test_conjunctions_and_whitespace() -> None:
    clauses = parse_filter(
        "  metrics.a > 1 and params.b = 'x'\n\tAND tags.c LIKE '%y'  AnD run_name != 'z' ",
        vocabulary=RUNS,
    )
    assert [(c.entity, c.key, c.comparator, c.value, c.position) for c in clauses] == [
        (Entity.METRIC, "a", C.GT, 1, 2),
        (Entity.PARAM, "b", C.EQ, "x", 20),
        (Entity.TAG, "c", C.LIKE, "%y", 40),
        (Entity.ATTRIBUTE, "run_name", C.NE, "z", 62),
    ]


@pytest.mark.parametrize("text", ["", "   ", "\n", None])
def test_empty_filter(text: str | None) -> None:
    assert parse_filter(text, vocabulary=RUNS) == []


def test_keywords_are_case_insensitive() -> None:
    assert one("params.p not in ('a')").comparator is C.NOT_IN
    assert one("params.p like 'a'").comparator is C.LIKE
    assert one("params.p Ilike 'a'").comparator is C.ILIKE
    assert one("params.p is not null").comparator is C.IS_NOT_NULL
    assert one("params.p IS null").comparator is C.IS_NULL


# -- errors, each with the position of the offending character -------------------

ERRORS = [
    # (filter, position, message fragment)
    (
        "metrics.rmse",
        12,
        "expected a comparator (=, !=, <, <=, >, >=, IS NULL, IS NOT NULL) after 'metrics.rmse', found the end",
    ),
    ("params.x ~ 'a'", 9, "unexpected character '~'"),
    (
        "params.x 'a'",
        9,
        "expected a comparator (=, !=, LIKE, ILIKE, IN, NOT IN, IS NULL, IS NOT NULL) after 'params.x'",
    ),
    ("metrics.rmse == 1", 13, "unknown comparator '=='; use ="),
    ("metrics.rmse <> 1", 13, "unknown comparator '<>'; use !="),
    ("metrics.rmse >", 14, "expected a value after 'metrics.rmse >'"),
    (
        "metrics.rmse > '1'",
        15,
        "expected a number after 'metrics.rmse >', found \"'1'\"; write numbers without quotes",
    ),
    ("metrics.rmse > abc", 15, "expected a number"),
    ("metrics.rmse > 1e999", 15, "number 1e999 is out of range"),
    ("metrics.rmse > 1abc", 15, "invalid number '1abc'"),
    (
        "params.x = abc",
        11,
        "expected a quoted string after 'params.x =', found 'abc'; quote it: 'abc'",
    ),
    ("params.x = 12", 11, "quote it: '12'"),
    ("params.x = `v`", 11, "backquotes are for keys"),
    ("params.x = 'abc", 11, "unterminated string: no closing '"),
    ('tags.x = "abc', 9, 'unterminated string: no closing "'),
    ("tags.`abc = 'x'", 5, "unterminated identifier: no closing `"),
    ("params. = 'x'", 7, "expected a key after 'params.'"),
    ("params.`` = 'x'", 7, "empty key after 'params.'"),
    ("params = 'x'", 6, "expected '.' and a key after 'params'"),
    (
        "foo.x = 'x'",
        0,
        "unknown entity 'foo'; expected one of metrics., params., tags., attributes.",
    ),
    ("metrcs.rmse > 1", 0, "unknown entity 'metrcs' (did you mean 'metrics'?); expected one of"),
    ("attributes.runname = 'x'", 11, "unknown attribute 'runname' (did you mean 'run_name'?)"),
    ("datasets.name = 'x'", 0, "searching runs by dataset is not supported"),
    ("dataset.digest = 'x'", 0, "searching runs by dataset is not supported"),
    ("metrics.a > 1 OR metrics.b > 1", 14, "OR is not supported"),
    ("metrics.a > 1 or metrics.b > 1", 14, "OR is not supported"),
    ("metrics.a > 1 AND", 17, "expected a clause after AND"),
    ("metrics.a > 1 AND AND metrics.b > 1", 18, "expected a key such as metrics.<key>"),
    (
        "AND metrics.a > 1",
        0,
        "expected a key such as metrics.<key>, params.<key>, tags.<key>, attributes.<key> or an attribute name, found 'AND'",
    ),
    (
        "metrics.a > 1 metrics.b > 2",
        14,
        "expected AND or the end of the filter after 'metrics.a > 1', found 'metrics.b'",
    ),
    ("metrics.a > 1 )", 14, "expected AND or the end of the filter"),
    ("(metrics.a > 1)", 0, "expected a key such as"),
    ("'metrics.a' > 1", 0, "expected a key such as"),
    ("metrics.a > 1;", 13, "unexpected character ';'"),
    ("params.x IN 'a'", 12, "expected a parenthesised list such as ('a', 'b') after 'params.x IN'"),
    ("params.x IN ()", 13, "the list after 'params.x IN' is empty"),
    ("params.x IN ('a' 'b')", 17, "expected ',' or ')' in the list after 'params.x IN'"),
    ("params.x IN ('a',)", 17, "expected a quoted string after 'params.x IN ('"),
    ("params.x IN ('a', b)", 18, "quote it: 'b'"),
    ("params.x IN ('a'", 16, "expected ',' or ')'"),
    ("params.x NOT LIKE 'a'", 13, "expected IN after NOT, found 'LIKE'"),
    ("params.x IS 'a'", 12, "expected NULL or NOT NULL after IS"),
    ("params.x IS NOT 'a'", 16, "expected NULL after IS NOT"),
    ("metrics.a IS NULL 1", 18, "expected AND or the end of the filter"),
]


@pytest.mark.parametrize(("text", "position", "fragment"), ERRORS)
def test_errors(text: str, position: int, fragment: str) -> None:
    caught = error(text)
    assert fragment in caught.message
    assert caught.position == position


def test_error_message_points_at_the_character() -> None:
    caught = error("metrics.rmse > 'x'")
    assert caught.message.splitlines()[-2:] == ["metrics.rmse > 'x'", "               ^"]
    assert "(at character 16)" in caught.message
    assert caught.status == 400
    assert caught.code == "INVALID_PARAMETER_VALUE"


# -- order_by ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("metrics.rmse", OrderKey(Entity.METRIC, "rmse", True)),
        ("metrics.rmse DESC", OrderKey(Entity.METRIC, "rmse", False)),
        ("metric.rmse asc", OrderKey(Entity.METRIC, "rmse", True)),
        ("params.C", OrderKey(Entity.PARAM, "C", True)),
        ("tags.`my tag` DESC", OrderKey(Entity.TAG, "my tag", False)),
        ('tags."a.b"', OrderKey(Entity.TAG, "a.b", True)),
        ("start_time", OrderKey(Entity.ATTRIBUTE, "start_time", True)),
        ("attributes.start_time ASC", OrderKey(Entity.ATTRIBUTE, "start_time", True)),
        ("created DESC", OrderKey(Entity.ATTRIBUTE, "start_time", False)),
        ("attr.run_name", OrderKey(Entity.ATTRIBUTE, "run_name", True)),
        ("experiment_id", OrderKey(Entity.ATTRIBUTE, "experiment_id", True)),
        ("  end_time   desc  ", OrderKey(Entity.ATTRIBUTE, "end_time", False)),
    ],
)
def test_order_by(text: str, key: OrderKey) -> None:
    assert parse_order_by(text, vocabulary=RUNS) == key


@pytest.mark.parametrize(
    ("text", "position", "fragment"),
    [
        ("", 0, "empty order_by clause"),
        ("metrics.rmse DOWN", 13, "expected ASC or DESC after 'metrics.rmse', found 'DOWN'"),
        (
            "metrics.rmse DESC ASC",
            18,
            "expected the end of the order_by clause after 'metrics.rmse DESC'",
        ),
        ("foo.bar", 0, "unknown entity 'foo'"),
        ("nonsense", 0, "unknown attribute 'nonsense' for ordering runs"),
        ("metrics.", 8, "expected a key after 'metrics.'"),
        ("metrics.rmse, params.C", 12, "an order_by entry holds one key"),
    ],
)
def test_order_by_errors(text: str, position: int, fragment: str) -> None:
    with pytest.raises(MalformedFilter) as caught:
        parse_order_by(text, vocabulary=RUNS)
    assert fragment in caught.value.message
    assert caught.value.position == position
    assert caught.value.text == text


def test_order_by_duplicates_are_rejected() -> None:
    with pytest.raises(MalformedFilter) as caught:
        parse_order_by_list(["metrics.rmse", "params.C", "metric.rmse DESC"], vocabulary=RUNS)
    assert "metrics.rmse appears more than once" in caught.value.message
    assert caught.value.text == "metric.rmse DESC"
    with pytest.raises(MalformedFilter):
        parse_order_by_list(["created", "start_time DESC"], vocabulary=RUNS)


def test_experiment_vocabulary() -> None:
    clauses = parse_filter(
        "name LIKE 'a%' AND tags.owner = 'x' AND experiment_id IN ('1', 2)",
        vocabulary=EXPERIMENTS,
    )
    assert [(c.key, c.value) for c in clauses] == [
        ("name", "a%"),
        ("owner", "x"),
        ("experiment_id", (1, 2)),
    ]
    assert parse_order_by("name DESC", vocabulary=EXPERIMENTS) == OrderKey(
        Entity.ATTRIBUTE, "name", False
    )
    assert error("params.x = 'a'", vocabulary=EXPERIMENTS).message.startswith(
        "experiments have no params"
    )
    assert error("run_name = 'a'", vocabulary=EXPERIMENTS).message.startswith(
        "unknown attribute 'run_name' for filtering experiments; expected one of "
        "creation_time, experiment_id, last_update_time, name"
    )


# -- helpers ---------------------------------------------------------------------


def test_tokens_carry_offsets() -> None:
    tokens = tokenize("metrics.`a b` >= -1 AND tags.t IN ('x')")
    assert [(t.kind, t.value, t.start) for t in tokens] == [
        (Kind.WORD, "metrics.", 0),
        (Kind.BACKQUOTED, "a b", 8),
        (Kind.OP, ">=", 14),
        (Kind.NUMBER, "-1", 17),
        (Kind.WORD, "AND", 20),
        (Kind.WORD, "tags.t", 24),
        (Kind.WORD, "IN", 31),
        (Kind.LPAREN, "(", 34),
        (Kind.STRING, "x", 35),
        (Kind.RPAREN, ")", 38),
        (Kind.END, "", 39),
    ]


@pytest.mark.parametrize(
    ("like", "glob"),
    [
        ("abc", "abc"),
        ("a%", "a*"),
        ("a_c", "a?c"),
        ("100\\%", "100%"),
        ("a\\_b", "a_b"),
        ("what?", "what[?]"),
        ("st*r", "st[*]r"),
        ("[x]", "[[]x]"),
        ("a\\\\%", "a\\*"),
    ],
)
def test_like_to_glob(like: str, glob: str) -> None:
    assert like_to_glob(like) == glob


def test_trailing_backslash_is_literal() -> None:
    assert normalize_like_pattern("a\\") == "a\\\\"
    assert normalize_like_pattern("a\\\\") == "a\\\\"
    assert like_to_glob(normalize_like_pattern("a\\")) == "a\\"
