"""SqlLoggedModelStore on SQLite, PostgreSQL and MariaDB."""

from __future__ import annotations

import math

import pytest
from sqlalchemy import Engine

from mltrail.errors import MalformedFilter, ResourceAlreadyExists, ResourceDoesNotExist
from mltrail.model_entities import DatasetScope, LoggedModelMetric, LoggedModelStatus, ModelOrder
from mltrail.store.sql.logged_models import SqlLoggedModelStore
from mltrail.store.sql.models_search import LOGGED_MODELS, parse_filter


def _mid(n: int) -> str:
    return f"m-{n:032x}"


def _create(store: SqlLoggedModelStore, exp: str, n: int, **kw: object) -> None:
    store.create(
        _mid(n),
        experiment_id=exp,
        name=str(kw.pop("name", "model")),
        artifact_location=f"mlflow-artifacts:/{exp}/models/{_mid(n)}/artifacts",
        now=int(kw.pop("now", 1000 + n)),
        **kw,  # type: ignore[arg-type]
    )


def test_create_get_finalize_tags_params(engine: Engine, experiment_id: str) -> None:
    store = SqlLoggedModelStore(engine)
    model = store.create(
        _mid(1),
        experiment_id=experiment_id,
        name="model",
        artifact_location="mlflow-artifacts:/1/models/m/artifacts",
        now=10,
        source_run_id="r" * 32,
        model_type="sklearn",
        params={"C": "1.0"},
        tags={"mlflow.user": "ann"},
    )
    assert model.status is LoggedModelStatus.PENDING
    assert model.params == {"C": "1.0"} and model.tags == {"mlflow.user": "ann"}
    assert model.experiment_id == experiment_id and model.source_run_id == "r" * 32

    ready = store.finalize(_mid(1), status=LoggedModelStatus.READY, now=20)
    assert ready.status is LoggedModelStatus.READY and ready.last_updated_timestamp == 20

    store.set_tags(_mid(1), tags={"a": "1", "mlflow.user": "bob"}, now=30)
    store.log_params(_mid(1), params={"solver": "lbfgs"}, now=30)
    got = store.get(_mid(1))
    assert got.tags == {"a": "1", "mlflow.user": "bob"}
    assert got.params == {"C": "1.0", "solver": "lbfgs"}

    store.delete_tag(_mid(1), key="a", now=40)
    assert "a" not in store.get(_mid(1)).tags
    with pytest.raises(ResourceDoesNotExist):
        store.delete_tag(_mid(1), key="a", now=41)

    with pytest.raises(ResourceAlreadyExists):
        _create(store, experiment_id, 1)


def test_missing_model_and_experiment(engine: Engine, experiment_id: str) -> None:
    store = SqlLoggedModelStore(engine)
    with pytest.raises(ResourceDoesNotExist):
        store.get(_mid(9))
    with pytest.raises(ResourceDoesNotExist):
        store.finalize(_mid(9), status=LoggedModelStatus.READY, now=1)
    with pytest.raises(ResourceDoesNotExist):
        _create(store, "9999", 2)


def test_soft_delete(engine: Engine, experiment_id: str) -> None:
    store = SqlLoggedModelStore(engine)
    _create(store, experiment_id, 1)
    store.delete(_mid(1), now=5)
    with pytest.raises(ResourceDoesNotExist):
        store.get(_mid(1))
    assert store.get(_mid(1), allow_deleted=True).lifecycle_stage == "deleted"
    models, more = store.search(experiment_ids=[experiment_id])
    assert models == [] and not more


def test_metrics_round_trip_non_finite(engine: Engine, experiment_id: str) -> None:
    store = SqlLoggedModelStore(engine)
    _create(store, experiment_id, 1)
    store.log_metrics(
        _mid(1),
        metrics=[
            LoggedModelMetric("acc", 0.9, 100, 0, run_id="r" * 32),
            LoggedModelMetric("loss", math.nan, 100, 0),
            LoggedModelMetric("big", math.inf, 100, 0, dataset_name="d", dataset_digest="x"),
        ],
    )
    metrics = {m.key: m for m in store.get(_mid(1)).metrics}
    assert metrics["acc"].value == 0.9 and metrics["acc"].run_id == "r" * 32
    assert math.isnan(metrics["loss"].value)
    assert metrics["big"].value == math.inf and metrics["big"].dataset_name == "d"


def test_search_filters_order_and_paging(engine: Engine, experiment_id: str) -> None:
    store = SqlLoggedModelStore(engine)
    for n in range(5):
        _create(
            store,
            experiment_id,
            n,
            name="model" if n % 2 == 0 else "Other",
            source_run_id=f"{n:032x}",
            tags={"k": str(n)},
            params={"p": f"v{n}"},
        )
        store.log_metrics(_mid(n), metrics=[LoggedModelMetric("acc", n / 10, 1, 0)])

    def ids(text: str, **kw: object) -> list[str]:
        models, _ = store.search(
            experiment_ids=[experiment_id],
            filter_string=text,
            **kw,  # type: ignore[arg-type]
        )
        return [m.model_id for m in models]

    # default order: newest first
    assert ids("") == [_mid(n) for n in (4, 3, 2, 1, 0)]
    assert ids("name = 'model'") == [_mid(n) for n in (4, 2, 0)]
    assert ids("name = 'MODEL'") == []
    assert ids("name ILIKE 'MOD%'") == [_mid(n) for n in (4, 2, 0)]
    assert ids("name LIKE 'Oth%' AND tags.k = '3'") == [_mid(3)]
    assert ids("params.p != 'v1' AND metrics.acc >= 0.3") == [_mid(4), _mid(3)]
    assert ids(f"source_run_id = '{1:032x}'") == [_mid(1)]
    assert ids("status = 'LOGGED_MODEL_PENDING'") == [_mid(n) for n in (4, 3, 2, 1, 0)]
    assert ids("creation_timestamp < 1002") == [_mid(1), _mid(0)]
    assert ids("", order_by=[ModelOrder("metrics.acc", ascending=True)]) == [
        _mid(n) for n in range(5)
    ]
    assert ids("", order_by=[ModelOrder("name", ascending=True)])[:2] == [_mid(3), _mid(1)]
    assert ids("metrics.acc > 0", datasets=[DatasetScope("nope")]) == []

    page1, more = store.search(experiment_ids=[experiment_id], max_results=2)
    page3, last = store.search(experiment_ids=[experiment_id], max_results=2, offset=4)
    assert more and not last and [m.model_id for m in page3] == [_mid(0)]
    assert len(page1) == 2

    with pytest.raises(MalformedFilter):
        parse_filter("name = model", LOGGED_MODELS)
    with pytest.raises(MalformedFilter):
        parse_filter("bogus = 'x'", LOGGED_MODELS)
