"""How filtered run searches reach their rows: the indexes they can use, and the join order
the store picks on SQLite. Plans, not times: tests never assert a time."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from mltrail.entities import ViewType
from mltrail.store import schema
from mltrail.store.search.compile_runs import RUNS_FIRST, RunSearch
from mltrail.store.sql import SqlTrackingStore, open_store
from mltrail.store.sql.search import _sqlite_join_order

BIG, SMALL = 1, 2


def _seeded_store(uri: str) -> SqlTrackingStore:
    """The migrated schema (revision 0006 makes the value indexes) with two experiments:
    BIG holds 300 runs, SMALL 5. Every run has ``params.common = 'yes'``; three runs of
    BIG have ``params.rare = 'yes'`` and ``tags.rare = 'yes'``; metric ``m`` is i / 300."""
    opened = open_store(uri, default_artifact_root="/tmp/plans")
    runs, params, tags, metrics = [], [], [], []
    for exp, count in ((BIG, 300), (SMALL, 5)):
        for i in range(count):
            run_id = f"{exp}-{i:04d}".ljust(32, "0")
            runs.append(
                dict(run_id=run_id, experiment_id=exp, run_name=f"r{i}", user_id="u",
                     status="FINISHED", start_time=i, lifecycle_stage="active",
                     artifact_uri="/tmp/plans")
            )  # fmt: skip
            params.append(dict(run_id=run_id, key="common", value="yes"))
            if exp == BIG and i % 100 == 7:
                params.append(dict(run_id=run_id, key="rare", value="yes"))
                tags.append(dict(run_id=run_id, key="rare", value="yes"))
            metrics.append(
                dict(run_id=run_id, key="m", value=i / 300, value_kind=schema.FINITE, step=0,
                     timestamp=0, min_value=i / 300, max_value=i / 300, count=1, chunk_count=1)
            )  # fmt: skip
    with opened.engine.begin() as conn:
        conn.execute(
            schema.experiments.insert(),
            [
                dict(experiment_id=e, name=f"e{e}", artifact_location="/tmp/plans",
                     creation_time=0, last_update_time=0)
                for e in (BIG, SMALL)
            ],
        )  # fmt: skip
        conn.execute(schema.runs.insert(), runs)
        conn.execute(schema.params.insert(), params)
        conn.execute(schema.tags.insert(), tags)
        conn.execute(schema.metric_summaries.insert(), metrics)
    return opened


@pytest.fixture
def store(db_uri: str) -> Iterator[SqlTrackingStore]:
    opened = _seeded_store(db_uri)
    try:
        yield opened
    finally:
        opened.close()


def _search(experiment: int, filter_string: str, order_by: list[str] | None = None) -> RunSearch:
    return RunSearch(
        experiment_ids=[experiment],
        filter_string=filter_string,
        view_type=ViewType.ACTIVE_ONLY,
        order_by=order_by or [],
    )


def _plan(conn: sa.Connection, query: sa.Select[object]) -> str:
    compiled = query.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True})
    dialect = conn.dialect.name
    if dialect == "sqlite":
        rows = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled}").all()
        return "\n".join(str(r[-1]) for r in rows)
    if dialect == "postgresql":
        # Tiny tables are cheaper to scan: ask whether the index can serve the lookup.
        conn.exec_driver_sql("SET LOCAL enable_seqscan = off")
        return "\n".join(r[0] for r in conn.exec_driver_sql(f"EXPLAIN {compiled}"))
    (doc,) = conn.exec_driver_sql(f"EXPLAIN FORMAT=JSON {compiled}").one()
    return json.dumps(json.loads(doc))


@pytest.mark.parametrize(("table", "key"), [("params", "rare"), ("tags", "rare")])
def test_a_value_filter_can_use_the_value_index(
    store: SqlTrackingStore, table: str, key: str
) -> None:
    prefix = "params" if table == "params" else "tags"
    search = _search(BIG, f"{prefix}.{key} = 'yes'")
    query = search.query(limit=10, offset=0, first="has_0")
    with store.engine.begin() as conn:
        plan = _plan(conn, query)
        dialect = conn.dialect.name
    index = f"ix_{table}_key_value"
    # The lookup uses both columns of the index, not only the key.
    if dialect == "sqlite":
        assert f"{index} (key=? AND <expr>=?)" in plan, plan
    elif dialect == "postgresql":
        assert index in plan and "substr(value, 1, 200) = 'yes'" in plan, plan
    else:
        # The optimizer lists the indexes that can serve the lookup (it may still scan a
        # table of a few rows).
        assert f'"possible_keys": ["PRIMARY", "{index}"]' in plan, plan


def test_a_metric_range_can_use_the_metric_index(store: SqlTrackingStore) -> None:
    query = _search(BIG, "metrics.m > 0.9", ["metrics.m DESC"]).query(
        limit=10, offset=0, first="has_0"
    )
    with store.engine.begin() as conn:
        plan = _plan(conn, query)
    assert "ix_metric_summaries_key_value" in plan, plan


@pytest.mark.parametrize(
    ("experiment", "filter_string", "order_by", "expected"),
    [
        # The filter matches 305 rows, all but 5 in the other experiment: start from the runs.
        (SMALL, "params.common = 'yes'", [], RUNS_FIRST),
        (SMALL, "params.common = 'yes' and metrics.m >= 0", ["metrics.m DESC"], RUNS_FIRST),
        # 3 rows against 300 runs: start from the filter.
        (BIG, "params.rare = 'yes'", [], "has_0"),
        (BIG, "params.common = 'yes' and params.rare = 'yes'", [], "has_1"),
        # As many rows as runs, but in the requested order: the page fills early there.
        (BIG, "metrics.m >= 0", ["metrics.m DESC"], "has_0"),
        (BIG, "params.common = 'yes'", [], RUNS_FIRST),
    ],
)
def test_sqlite_starts_from_the_side_with_the_fewest_rows(
    sqlite_uri: str,
    experiment: int,
    filter_string: str,
    order_by: list[str],
    expected: str,
) -> None:
    opened = _seeded_store(sqlite_uri)
    try:
        search = _search(experiment, filter_string, order_by)
        with opened.engine.connect() as conn:
            first = _sqlite_join_order(conn, search, wanted=11)
            assert first == expected
            chosen = conn.execute(search.query(limit=10, offset=0, first=first)).scalars().all()
            planned = conn.execute(search.query(limit=10, offset=0)).scalars().all()
        assert chosen == planned and chosen
    finally:
        opened.close()


def test_the_longest_values_are_stored_indexed_and_found(db_uri: str) -> None:
    """A param of 6,000 and a tag of 8,000 characters that do not compress: an index on the
    whole value would refuse them on PostgreSQL (2,704 bytes per b-tree entry)."""
    import random
    import string

    from mltrail.entities import Param, RunTag
    from mltrail.service.tracking import TrackingService

    rng = random.Random(17)
    letters = string.ascii_letters + "é€ü"
    param = "".join(rng.choice(letters) for _ in range(6000))
    tag = "".join(rng.choice(letters) for _ in range(8000))
    opened = open_store(db_uri, default_artifact_root="/tmp/plans")
    try:
        service = TrackingService(store=opened)
        exp = service.create_experiment("long")
        run = service.create_run(exp).info.run_id
        other = service.create_run(exp).info.run_id
        service.log_batch(run, params=[Param("big", param)], tags=[RunTag("big", tag)])
        # Same first 200 characters, another value.
        service.log_batch(other, params=[Param("big", param[:200] + "x")])
        for filter_string, expected in (
            (f"params.big = '{param}'", [run]),
            (f"tags.big = '{tag}'", [run]),
            (f"params.big = '{param[:200]}x'", [other]),
            (f"params.big IN ('{param}', '{param[:200]}')", [run]),
        ):
            found = service.search_runs([exp], filter_string=filter_string)
            assert [r.info.run_id for r in found] == expected
    finally:
        opened.close()


def test_revision_0006_only_adds_indexes(db_uri: str) -> None:
    """An older server still running on the database (a rolling upgrade) reads and writes
    the same tables and columns as before the upgrade."""
    from alembic import command

    from mltrail.store.sql.engine import create_engine_for
    from mltrail.store.sql.migrate import alembic_config

    def shape(engine: sa.Engine) -> dict[str, list[tuple[str, str, bool]]]:
        inspector = sa.inspect(engine)
        return {
            table: [
                (c["name"], str(c["type"]), bool(c["nullable"]))
                for c in inspector.get_columns(table)
            ]
            for table in sorted(inspector.get_table_names())
        }

    engine = create_engine_for(db_uri)
    try:
        for target in ("0005", "0006"):
            with engine.connect() as conn:
                if engine.dialect.name == "sqlite":
                    conn.execution_options(mltrail_write=True)
                with conn.begin():
                    command.upgrade(alembic_config(conn), target)
            if target == "0005":
                before = shape(engine)
        assert shape(engine) == before
    finally:
        engine.dispose()
