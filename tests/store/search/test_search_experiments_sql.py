"""experiment_search_query against real SQLite, PostgreSQL and MariaDB databases."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
import sqlalchemy as sa

from mltrail.entities import ViewType
from mltrail.errors import MalformedFilter
from mltrail.store import schema
from mltrail.store.search import experiment_search_query

# id -> (name, creation_time, last_update_time, lifecycle)
EXPERIMENTS = {
    1: ("exp-a", 100, 500, "active"),
    2: ("Exp-b", 200, 300, "active"),
    3: ("deleted-exp", 300, 300, "deleted"),
    4: ("exp_c", 150, 160, "active"),
    5: ("exp%d", 150, 170, "active"),
}
TAGS = [
    (1, "owner", "ann"),
    (2, "owner", "Bob"),
    (2, "team x", "core"),
    (3, "owner", "ann"),
    (5, "owner", "bob"),
]


@pytest.fixture(scope="module")
def engine(module_engine: sa.Engine) -> sa.Engine:
    with module_engine.begin() as conn:
        conn.execute(
            schema.experiments.insert(),
            [
                {
                    "experiment_id": i,
                    "name": name,
                    "artifact_location": f"/tmp/{i}",
                    "lifecycle_stage": stage,
                    "creation_time": created,
                    "last_update_time": updated,
                }
                for i, (name, created, updated, stage) in EXPERIMENTS.items()
            ],
        )
        conn.execute(
            schema.experiment_tags.insert(),
            [{"experiment_id": e, "key": k, "value": v} for e, k, v in TAGS],
        )
    return module_engine


def search(
    engine: sa.Engine,
    filter_string: str = "",
    *,
    order_by: Sequence[str] = (),
    view_type: ViewType = ViewType.ACTIVE_ONLY,
    limit: int = 100,
    offset: int = 0,
) -> list[int]:
    query = experiment_search_query(
        filter_string=filter_string,
        view_type=view_type,
        order_by=order_by,
        limit=limit,
        offset=offset,
    )
    with engine.connect() as conn:
        return list(conn.execute(query).scalars())


@pytest.mark.parametrize(
    ("filter_string", "expected"),
    [
        ("", [2, 4, 5, 1]),  # creation_time DESC, then id
        ("name = 'exp-a'", [1]),
        ("name = 'EXP-A'", []),
        ("attributes.name != 'exp-a'", [2, 4, 5]),
        ("name LIKE 'exp%'", [4, 5, 1]),
        ("name ILIKE 'exp%'", [2, 4, 5, 1]),
        ("name LIKE 'exp\\_c'", [4]),
        ("name LIKE 'exp_c'", [4]),
        ("name LIKE '%\\%%'", [5]),
        ("name IN ('exp-a', 'Exp-b')", [2, 1]),
        ("creation_time > 120", [2, 4, 5]),
        ("creation_time = 150 AND last_update_time < 165", [4]),
        ("experiment_id = '4'", [4]),
        ("experiment_id IN ('1', '2', '3')", [2, 1]),
        ("experiment_id NOT IN (1, 2)", [4, 5]),
        ("tags.owner = 'ann'", [1]),
        ("tags.owner != 'ann'", [2, 5]),
        ("tags.owner LIKE 'b%'", [5]),
        ("tags.owner ILIKE 'b%'", [2, 5]),
        ("tags.owner IS NULL", [4]),
        ("tags.`team x` IS NOT NULL", [2]),
        ("tag.\"team x\" = 'core' AND name ILIKE 'exp-%'", [2]),
    ],
)
def test_filter(engine: sa.Engine, filter_string: str, expected: list[int]) -> None:
    assert search(engine, filter_string) == expected


@pytest.mark.parametrize(
    ("order_by", "expected"),
    [
        # code-point order: upper case before lower case on every database
        (["name"], [2, 5, 1, 4]),
        (["name DESC"], [4, 1, 5, 2]),
        (["attributes.creation_time ASC"], [1, 4, 5, 2]),
        (["last_update_time DESC"], [1, 2, 5, 4]),
        (["experiment_id DESC"], [5, 4, 2, 1]),
        (["tags.owner"], [2, 1, 5, 4]),
        (["tags.owner DESC"], [5, 1, 2, 4]),
    ],
)
def test_order(engine: sa.Engine, order_by: list[str], expected: list[int]) -> None:
    assert search(engine, order_by=order_by) == expected


def test_view_type_and_paging(engine: sa.Engine) -> None:
    assert search(engine, view_type=ViewType.DELETED_ONLY) == [3]
    assert search(engine, "tags.owner = 'ann'", view_type=ViewType.ALL) == [3, 1]
    assert search(engine, order_by=["name"], limit=2, offset=1) == [5, 1]
    assert search(engine, order_by=["name"], limit=2, offset=4) == []


@pytest.mark.parametrize(
    ("filter_string", "position", "fragment"),
    [
        ("metrics.x > 1", 0, "experiments have no metrics"),
        ("name > 'a'", 5, "> cannot be used with name"),
        ("owner = 'ann'", 0, "unknown attribute 'owner'"),
        ("experiment_id = 'abc'", 16, "expected an id"),
        ("creation_time > '5'", 16, "expected a number"),
    ],
)
def test_malformed(engine: sa.Engine, filter_string: str, position: int, fragment: str) -> None:
    with pytest.raises(MalformedFilter) as caught:
        search(engine, filter_string)
    assert caught.value.position == position
    assert fragment in caught.value.message


@pytest.mark.parametrize(
    ("order_by", "text", "position", "fragment"),
    [
        (["name", "attributes.name DESC"], "attributes.name DESC", 0, "appears more than once"),
        (["name SIDEWAYS"], "name SIDEWAYS", 5, "expected ASC or DESC after 'name'"),
        (["metrics.x"], "metrics.x", 0, "experiments have no metrics"),
        (["artifact_location"], "artifact_location", 0, "unknown attribute 'artifact_location'"),
    ],
)
def test_malformed_order_by(
    engine: sa.Engine, order_by: list[str], text: str, position: int, fragment: str
) -> None:
    with pytest.raises(MalformedFilter) as caught:
        search(engine, order_by=order_by)
    assert caught.value.text == text
    assert caught.value.position == position
    assert fragment in caught.value.message
