"""run_search_query against real SQLite, PostgreSQL and MariaDB databases."""

from __future__ import annotations

import math
import sys
from collections.abc import Sequence

import pytest
import sqlalchemy as sa

from mltrail.entities import ViewType
from mltrail.errors import MalformedFilter
from mltrail.store import schema
from mltrail.store.search import run_search_query
from mltrail.store.search.compile_runs import RUNS_FIRST, RunSearch

MAX = sys.float_info.max
# Two param values that share the indexed prefix (schema.VALUE_PREFIX characters).
LONG_A = "x" * schema.VALUE_PREFIX + "a"
LONG_B = "x" * schema.VALUE_PREFIX + "b"

# run id -> (experiment, name, status, user, start, end, lifecycle)
RUNS = {
    "run1": (1, "alpha", "FINISHED", "ann", 1000, 2000, "active"),
    "run2": (1, "beta", "FAILED", "bob", 2000, 2500, "active"),
    "run3": (1, "Gamma", "RUNNING", "ann", 3000, None, "active"),
    "run4": (1, "delta", "FINISHED", "cid", 4000, 10000, "active"),
    "run5": (1, "epsilon", "FINISHED", "ann", 5000, 5100, "deleted"),
    "run6": (2, "zeta", "FINISHED", "bob", 6000, 6500, "active"),
    "run7": (1, "eta", "KILLED", "ann", 7000, 7100, "active"),
    # experiment 3: runs that tie on start_time
    "tie_a": (3, "t", "FINISHED", "ann", 9000, None, "active"),
    "tie_c": (3, "t", "FINISHED", "ann", 9000, None, "active"),
    "tie_b": (3, "t", "FINISHED", "ann", 9000, None, "active"),
    "tie_0": (3, "t", "FINISHED", "ann", 8000, None, "active"),
}
# (run, key, value); NaN and infinities as the store writes them
METRICS = [
    ("run1", "rmse", 0.5),
    ("run1", "acc", 0.9),
    ("run2", "rmse", 0.3),
    ("run3", "rmse", math.nan),
    ("run4", "acc", 0.7),
    ("run5", "rmse", 0.1),
    ("run6", "rmse", math.inf),
    ("run7", "rmse", -math.inf),
    ("run7", "train/loss", 2.0),
]
PARAMS = [
    ("run1", "C", "1"),
    ("run1", "solver", "lbfgs"),
    ("run2", "C", "10"),
    ("run2", "solver", "LBFGS"),
    ("run2", "greek", "αβ"),
    ("run3", "C", "0.1"),
    ("run3", "solver", "sag"),
    ("run4", "solver", "lbfgs "),
    ("run5", "C", "1"),
    ("run6", "C", "5"),
    ("run1", "long", LONG_A),
    ("run2", "long", LONG_B),
    ("run3", "long", "x" * schema.VALUE_PREFIX),
]
TAGS = [
    ("run1", "team", "Core"),
    ("run1", "my key", "x y"),
    ("run2", "team", "core"),
    ("run3", "team", "ops%"),
    ("run3", "path", "C:\\data\\x"),
    ("run7", "a.b", "dots"),
]

ACTIVE_BY_START_DESC = ["run7", "run6", "run4", "run3", "run2", "run1"]


def _summary(run_id: str, key: str, value: float) -> dict[str, object]:
    if math.isnan(value):
        stored, kind = None, schema.NAN
    elif math.isinf(value):
        stored, kind = (MAX, schema.POS_INF) if value > 0 else (-MAX, schema.NEG_INF)
    else:
        stored, kind = value, schema.FINITE
    return {
        "run_id": run_id,
        "key": key,
        "value": stored,
        "value_kind": kind,
        "step": 0,
        "timestamp": 0,
        "min_value": stored,
        "max_value": stored,
        "count": 1,
        "chunk_count": 1,
    }


@pytest.fixture(scope="module")
def engine(module_engine: sa.Engine) -> sa.Engine:
    with module_engine.begin() as conn:
        conn.execute(
            schema.experiments.insert(),
            [
                {
                    "experiment_id": i,
                    "name": f"exp{i}",
                    "artifact_location": f"/tmp/{i}",
                    "lifecycle_stage": "active",
                    "creation_time": 0,
                    "last_update_time": 0,
                }
                for i in (1, 2, 3)
            ],
        )
        conn.execute(
            schema.runs.insert(),
            [
                {
                    "run_id": run_id,
                    "experiment_id": exp,
                    "run_name": name,
                    "status": status,
                    "user_id": user,
                    "start_time": start,
                    "end_time": end,
                    "lifecycle_stage": stage,
                    "artifact_uri": f"/tmp/{exp}/{run_id}",
                }
                for run_id, (exp, name, status, user, start, end, stage) in RUNS.items()
            ],
        )
        conn.execute(schema.metric_summaries.insert(), [_summary(*m) for m in METRICS])
        conn.execute(
            schema.params.insert(), [{"run_id": r, "key": k, "value": v} for r, k, v in PARAMS]
        )
        conn.execute(
            schema.tags.insert(), [{"run_id": r, "key": k, "value": v} for r, k, v in TAGS]
        )
    return module_engine


def search(
    engine: sa.Engine,
    filter_string: str = "",
    *,
    order_by: Sequence[str] = (),
    view_type: ViewType = ViewType.ACTIVE_ONLY,
    experiment_ids: Sequence[int] = (1, 2),
    limit: int = 100,
    offset: int = 0,
) -> list[str]:
    query = run_search_query(
        experiment_ids=experiment_ids,
        filter_string=filter_string,
        view_type=view_type,
        order_by=order_by,
        limit=limit,
        offset=offset,
    )
    with engine.connect() as conn:
        return list(conn.execute(query).scalars())


FILTERS = [
    ("", ACTIVE_BY_START_DESC),
    # metrics: latest value; NaN never matches; a missing metric never matches, even !=
    ("metrics.rmse < 0.4", ["run7", "run2"]),
    ("metrics.rmse = 0.5", ["run1"]),
    ("metrics.rmse != 0.5", ["run7", "run6", "run2"]),
    ("metrics.rmse >= 0.3", ["run6", "run2", "run1"]),
    ("metrics.rmse > 1e300", ["run6"]),
    ("metric.rmse <= -1e300", ["run7"]),
    ("metrics.acc > 0.8", ["run1"]),
    ("metrics.`train/loss` = 2", ["run7"]),
    ("metrics.train/loss = 2.0", ["run7"]),
    ("metrics.rmse IS NULL", ["run4"]),
    ("metrics.acc IS NOT NULL", ["run4", "run1"]),
    ("metrics.RMSE < 1", []),
    # params: exact, case-sensitive, trailing spaces significant
    ("params.solver = 'lbfgs'", ["run1"]),
    ("params.solver = 'LBFGS'", ["run2"]),
    ("params.solver = 'lbfgs '", ["run4"]),
    ("params.solver != 'lbfgs'", ["run4", "run3", "run2"]),
    ("params.solver LIKE 'lb%'", ["run4", "run1"]),
    ("params.solver LIKE 'LB___'", ["run2"]),
    ("params.solver ILIKE 'lb%'", ["run4", "run2", "run1"]),
    ("params.solver ILIKE 'LBFGS'", ["run2", "run1"]),
    ("params.greek LIKE '__'", ["run2"]),
    ("params.greek = '\u0391\u0392'", []),  # capital alpha beta
    ("params.greek = '\u03b1\u03b2'", ["run2"]),
    ("params.greek ILIKE '%\u03b2'", ["run2"]),
    ("params.C IN ('1', '10')", ["run2", "run1"]),
    ("params.C NOT IN ('1')", ["run6", "run3", "run2"]),
    ("params.C IS NULL", ["run7", "run4"]),
    ('parameters.C = "0.1"', ["run3"]),
    ("params.c = '1'", []),
    # tags: keys with spaces and dots, LIKE escapes
    ("tags.team = 'core'", ["run2"]),
    ("tags.team LIKE 'c%'", ["run2"]),
    ("tags.team ILIKE 'c%'", ["run2", "run1"]),
    ("tags.team LIKE 'ops\\%'", ["run3"]),
    ("tags.team LIKE 'op\\_%'", []),
    ("tags.team LIKE '%\\%'", ["run3"]),
    ("tags.team LIKE 'ops*'", []),
    ("tags.path = 'C:\\\\data\\\\x'", ["run3"]),
    ("tags.path LIKE 'C:\\\\\\\\data%'", ["run3"]),
    ("tags.`my key` = 'x y'", ["run1"]),
    ("tags.\"a.b\" = 'dots'", ["run7"]),
    ("tags.team IS NOT NULL", ["run3", "run2", "run1"]),
    ("tag.team != 'Core'", ["run3", "run2"]),
    # attributes
    ("attributes.status = 'FINISHED'", ["run6", "run4", "run1"]),
    ("status != 'FINISHED'", ["run7", "run3", "run2"]),
    ("attributes.status IN ('FAILED', 'KILLED')", ["run7", "run2"]),
    ("run_name LIKE 'g%'", []),
    ("run_name ILIKE 'g%'", ["run3"]),
    ("attributes.`Run name` = 'alpha'", ["run1"]),
    ("attributes.run_id IN ('run1', 'run3', 'nope')", ["run3", "run1"]),
    ("attr.run_id NOT IN ('run1', 'run3')", ["run7", "run6", "run4", "run2"]),
    ("run.run_id = 'RUN1'", []),
    ("user_id = 'ann'", ["run7", "run3", "run1"]),
    ("artifact_uri LIKE '/tmp/2/%'", ["run6"]),
    ("start_time >= 3000 and start_time < 7000", ["run6", "run4", "run3"]),
    ("created > 6500", ["run7"]),
    ("end_time > 0", ["run7", "run6", "run4", "run2", "run1"]),
    ("end_time != 2000", ["run7", "run6", "run4", "run2"]),
    ("duration > 1000", ["run4"]),
    ("duration <= 500", ["run7", "run6", "run2"]),
    # combinations and hostile values
    ("metrics.rmse < 1 AND params.C = '1'", ["run1"]),
    ("metrics.rmse < 1 and params.solver ILIKE 'LB%' AND tags.team = 'Core'", ["run1"]),
    ("params.C = '1'' OR 1=1 --'", []),
    ("params.C = '1\\' OR \\'1\\'=\\'1'", []),
    # several clauses on one key share one row of it
    ("metrics.rmse > 0 and metrics.rmse < 0.4", ["run2"]),
    ("metrics.rmse > 0 and metrics.rmse IS NULL", []),
    ("params.C != '1' and params.C != '10'", ["run6", "run3"]),
    ("params.C IS NOT NULL and params.C IN ('1', '5')", ["run6", "run1"]),
    # values longer than the indexed prefix compare whole
    (f"params.long = '{LONG_A}'", ["run1"]),
    (f"params.long = '{LONG_B}'", ["run2"]),
    (f"params.long IN ('{LONG_B}', 'x')", ["run2"]),
    (f"params.long = '{'x' * schema.VALUE_PREFIX}'", ["run3"]),
    (f"params.long = '{'x' * (schema.VALUE_PREFIX - 1)}'", []),
    (f"params.long != '{LONG_A}'", ["run3", "run2"]),
]


@pytest.mark.parametrize(("filter_string", "expected"), FILTERS)
def test_filter(engine: sa.Engine, filter_string: str, expected: list[str]) -> None:
    assert search(engine, filter_string) == expected


ORDERS = [
    (["metrics.rmse ASC"], ["run7", "run2", "run1", "run6", "run3", "run4"]),
    (["metrics.rmse DESC"], ["run6", "run1", "run2", "run7", "run3", "run4"]),
    (["metrics.acc"], ["run4", "run1", "run7", "run6", "run3", "run2"]),
    (["params.C"], ["run3", "run1", "run2", "run6", "run7", "run4"]),
    (["params.C DESC"], ["run6", "run2", "run1", "run3", "run7", "run4"]),
    (["tags.team"], ["run1", "run2", "run3", "run7", "run6", "run4"]),
    (["tags.team desc"], ["run3", "run2", "run1", "run7", "run6", "run4"]),
    (["run_name"], ["run3", "run1", "run2", "run4", "run7", "run6"]),
    (["attributes.end_time DESC"], ["run4", "run7", "run6", "run2", "run1", "run3"]),
    (["end_time"], ["run1", "run2", "run6", "run7", "run4", "run3"]),
    (["start_time ASC"], ["run1", "run2", "run3", "run4", "run6", "run7"]),
    (["created"], ["run1", "run2", "run3", "run4", "run6", "run7"]),
    # run2 and run6 both lasted 500 ms: the later start comes first
    (["duration DESC"], ["run4", "run1", "run6", "run2", "run7", "run3"]),
    (["status", "user_id DESC"], ["run2", "run4", "run6", "run1", "run7", "run3"]),
    (["params.solver", "metrics.acc DESC"], ["run2", "run1", "run4", "run3", "run7", "run6"]),
    (["run_id DESC"], ["run7", "run6", "run4", "run3", "run2", "run1"]),
]
# Orders over keys that the filter also names: the order reuses the filter's join.
FILTERED_ORDERS = [
    ("metrics.rmse < 1", ["metrics.rmse DESC"], ["run1", "run2", "run7"]),
    ("metrics.rmse >= -1e308", ["metrics.rmse"], ["run2", "run1", "run6"]),
    ("metrics.rmse IS NOT NULL", ["metrics.rmse DESC"], ["run6", "run1", "run2", "run7", "run3"]),
    ("params.C IN ('1', '10', '5')", ["params.C DESC"], ["run6", "run2", "run1"]),
    ("tags.team != 'x'", ["tags.team"], ["run1", "run2", "run3"]),
    ("params.C != '0'", ["metrics.rmse", "params.C DESC"], ["run2", "run1", "run6", "run3"]),
]


@pytest.mark.parametrize(("order_by", "expected"), ORDERS)
def test_order(engine: sa.Engine, order_by: list[str], expected: list[str]) -> None:
    assert search(engine, order_by=order_by) == expected


@pytest.mark.parametrize(("filter_string", "order_by", "expected"), FILTERED_ORDERS)
def test_order_by_a_filtered_key(
    engine: sa.Engine, filter_string: str, order_by: list[str], expected: list[str]
) -> None:
    assert search(engine, filter_string, order_by=order_by) == expected


def _every_join_order(filter_string: str, order_by: Sequence[str]) -> list[str | None]:
    search = RunSearch(
        experiment_ids=[1, 2],
        filter_string=filter_string,
        view_type=ViewType.ACTIVE_ONLY,
        order_by=order_by,
    )
    return [None, RUNS_FIRST, *(join.name for join in search.joins.values())]


@pytest.mark.parametrize(
    ("filter_string", "order_by", "expected"),
    [*((f, ["metrics.rmse DESC"], None) for f, _ in FILTERS), *FILTERED_ORDERS],
)
def test_every_join_order_gives_the_same_page(
    engine: sa.Engine, filter_string: str, order_by: list[str], expected: list[str] | None
) -> None:
    """The store may start from the runs or from any filter's rows (SQLite keeps the
    order it is given): the answer must not depend on it."""
    pages = []
    for first in _every_join_order(filter_string, order_by):
        query = RunSearch(
            experiment_ids=[1, 2],
            filter_string=filter_string,
            view_type=ViewType.ACTIVE_ONLY,
            order_by=order_by,
        ).query(limit=100, offset=0, first=first)
        with engine.connect() as conn:
            pages.append(list(conn.execute(query).scalars()))
    assert all(page == pages[0] for page in pages), pages
    if expected is not None:
        assert pages[0] == expected


def test_order_with_filter_and_paging(engine: sa.Engine) -> None:
    ordered = ["run7", "run2", "run1", "run6", "run3"]
    assert search(engine, "metrics.rmse IS NOT NULL", order_by=["metrics.rmse"]) == ordered
    pages = [
        search(engine, "metrics.rmse IS NOT NULL", order_by=["metrics.rmse"], limit=2, offset=o)
        for o in (0, 2, 4, 6)
    ]
    assert pages == [ordered[0:2], ordered[2:4], ordered[4:], []]


@pytest.mark.parametrize(
    ("view_type", "filter_string", "expected"),
    [
        (ViewType.DELETED_ONLY, "", ["run5"]),
        (ViewType.ALL, "params.C = '1'", ["run5", "run1"]),
        (ViewType.ALL, "metrics.rmse < 0.2", ["run7", "run5"]),
        (ViewType.ACTIVE_ONLY, "params.C = '1'", ["run1"]),
    ],
)
def test_view_type(
    engine: sa.Engine, view_type: ViewType, filter_string: str, expected: list[str]
) -> None:
    assert search(engine, filter_string, view_type=view_type) == expected


def test_experiment_ids(engine: sa.Engine) -> None:
    assert search(engine, experiment_ids=[2]) == ["run6"]
    assert search(engine, experiment_ids=[]) == []
    assert search(engine, "params.C != '5'", experiment_ids=[1]) == ["run3", "run2", "run1"]


def test_ties_are_broken_by_run_id(engine: sa.Engine) -> None:
    # MLflow's rule: start_time DESC unless requested, then ascending run id.
    default = ["tie_a", "tie_b", "tie_c", "tie_0"]
    assert search(engine, experiment_ids=[3]) == default
    assert search(engine, experiment_ids=[3], order_by=["run_name"]) == default
    assert search(engine, experiment_ids=[3], order_by=["start_time", "run_id"]) == [
        "tie_0",
        "tie_a",
        "tie_b",
        "tie_c",
    ]
    assert search(engine, experiment_ids=[3], order_by=["start_time", "run_id DESC"]) == [
        "tie_0",
        "tie_c",
        "tie_b",
        "tie_a",
    ]
    pages = [search(engine, experiment_ids=[3], limit=1, offset=o) for o in range(4)]
    assert pages == [[run] for run in default]


def test_limit_offset_default_order(engine: sa.Engine) -> None:
    assert search(engine, limit=2, offset=1) == ["run6", "run4"]
    assert search(engine, limit=0) == []


def test_malformed_filter_raises_before_sql(engine: sa.Engine) -> None:
    with pytest.raises(MalformedFilter) as caught:
        search(engine, "metrics.rmse < 1 AND params.C LIKE 1")
    assert caught.value.position == 35
    with pytest.raises(MalformedFilter) as caught:
        search(engine, order_by=["metrics.rmse DOWN"])
    assert caught.value.position == 13
    assert caught.value.text == "metrics.rmse DOWN"
