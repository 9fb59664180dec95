"""MLflow logging and metric-history routes (``/mlflow/runs/log-*``, ``/mlflow/metrics/...``)."""

from __future__ import annotations

import json
from typing import Any

from mltrail.entities import Metric, Param, RunTag
from mltrail.errors import InvalidParameterValue
from mltrail.model_entities import LoggedModelMetric
from mltrail.server.api.mlflow.routing import Args, Call, MlflowRouter
from mltrail.server.api.mlflow.runs import (
    INPUTS_TAG,
    OUTPUTS_TAG,
    RUN_ID,
    run_id_of,
    stored_json,
)
from mltrail.server.api.mlflow.schema import (
    ARRAY,
    FLOAT,
    INT,
    REQUIRED,
    STRING,
    entries_have,
)
from mltrail.wire import columns_of

_router = MlflowRouter()

# MLflow's protocol limits (the native API allows far larger batches).
MAX_BATCH_METRICS = 1000
MAX_BATCH_PARAMS = 100
MAX_BATCH_TAGS = 100
MAX_BATCH_ENTITIES = 1000
SAME_STEP_POINTS = 100_000
# Run tag values are limited to this many characters by the service.
_KEY_VALUE = (RUN_ID[0], ("key", REQUIRED, STRING), ("value", STRING))
IO_TAG_BUDGET = 8000


def router() -> MlflowRouter:
    return _router


def _metric(args: Args) -> Metric:
    return Metric(
        key=args.required_string("key"),
        value=args.required_double("value"),
        timestamp=args.required_integer("timestamp"),
        step=args.integer("step", 0),
    )


def _point(m: Metric) -> tuple[int, int, str]:
    # repr() makes NaN equal to NaN, as MLflow's is_nan column does.
    return (m.step, m.timestamp, repr(m.value))


def _split_metrics(
    call: Call, run_id: str, metric_args: list[Args]
) -> tuple[list[Metric], dict[str, list[LoggedModelMetric]]]:
    """The metrics to write on the run, and those to link to logged models (by model id).

    mlflow's ``log_model`` re-sends the run's latest metrics with ``model_id`` set to link
    them to the new model. MLflow keeps one row per identical point, so a re-sent point that
    the run already holds is a link only, not a second point in the history.
    """
    plain: list[Metric] = []
    links: dict[str, list[LoggedModelMetric]] = {}
    known: dict[tuple[str, int], set[tuple[int, int, str]]] = {}
    for args in metric_args:
        metric = _metric(args)
        model_id = args.optional_string("model_id")
        if not model_id:
            plain.append(metric)
            continue
        links.setdefault(model_id, []).append(
            LoggedModelMetric(
                key=metric.key,
                value=metric.value,
                timestamp=metric.timestamp,
                step=metric.step,
                run_id=run_id,
                model_id=model_id,
                dataset_name=args.optional_string("dataset_name") or None,
                dataset_digest=args.optional_string("dataset_digest") or None,
            )
        )
        slot = (metric.key, metric.step)
        if slot not in known:
            points = call.tracking.get_metric_history_sampled(
                run_id,
                key=metric.key,
                max_points=SAME_STEP_POINTS,
                start_step=metric.step,
                end_step=metric.step,
            )
            known[slot] = {_point(p) for p in points}
        if _point(metric) not in known[slot]:
            known[slot].add(_point(metric))
            plain.append(metric)
    return plain, links


def _link_model_metrics(call: Call, links: dict[str, list[LoggedModelMetric]]) -> None:
    if not links:
        return
    # Imported here: the logged-model routes build their service per app, on first use.
    from mltrail.server.services import models_services

    models, _ = models_services(call.request.app)
    for model_id, linked in links.items():
        models.log_model_metrics(model_id, metrics=linked)


def _check_limit(kind: str, count: int, limit: int) -> None:
    if count > limit:
        raise InvalidParameterValue(
            f"A batch logging request can contain at most {limit} {kind}. Got {count} {kind}. "
            f"Please split up {kind} across multiple requests and try again."
        )


def _always(args: Args) -> bool:
    return True


def _no_model_link(args: Args) -> bool:
    # A metric linked to a logged model is a second write (and a read before the first).
    return not args.optional_string("model_id")


# A larger batch keeps the event loop from other requests for longer than a hand-off to a
# thread costs: it goes to the thread pool.
QUICK_BATCH_ENTRIES = 100


def _small_batch_without_model_links(args: Args) -> bool:
    metrics = args.messages("metrics")
    entries = len(metrics) + len(args.messages("params")) + len(args.messages("tags"))
    return entries <= QUICK_BATCH_ENTRIES and not any(
        m.optional_string("model_id") for m in metrics
    )


@_router.rpc(
    "POST",
    "/mlflow/runs/log-metric",
    access="run:edit",
    quick_write=_no_model_link,
    schema=(
        RUN_ID[0],
        ("key", REQUIRED, STRING),
        ("value", REQUIRED, FLOAT),
        ("timestamp", INT, REQUIRED),
        ("step", INT),
        ("model_id", STRING),
        ("dataset_name", STRING),
        ("dataset_digest", STRING),
    ),
)
def log_metric(call: Call) -> dict[str, Any]:
    run_id = run_id_of(call.args)
    metrics, links = _split_metrics(call, run_id, [call.args])
    call.tracking.log_batch(run_id, metrics=columns_of(metrics))
    _link_model_metrics(call, links)
    return {}


@_router.rpc(
    "POST",
    "/mlflow/runs/log-batch",
    access="run:edit",
    quick_write=_small_batch_without_model_links,
    schema=(
        ("run_id", STRING, REQUIRED),
        ("metrics", ARRAY, entries_have("key", "value", "timestamp")),
        ("params", ARRAY, entries_have("key")),
        ("tags", ARRAY, entries_have("key")),
    ),
)
def log_batch(call: Call) -> dict[str, Any]:
    args = call.args
    run_id = args.required_string("run_id")
    metric_args = args.messages("metrics")
    param_args = args.messages("params")
    tag_args = args.messages("tags")
    _check_limit("metrics", len(metric_args), MAX_BATCH_METRICS)
    _check_limit("params", len(param_args), MAX_BATCH_PARAMS)
    _check_limit("tags", len(tag_args), MAX_BATCH_TAGS)
    total = len(metric_args) + len(param_args) + len(tag_args)
    if total > MAX_BATCH_ENTITIES:
        raise InvalidParameterValue(
            f"A batch logging request can contain at most {MAX_BATCH_ENTITIES} metrics, params "
            f"and tags in total. Got {total}. Please split up the batch and try again."
        )
    params = [Param(p.required_string("key"), p.string("value")) for p in param_args]
    tags = [RunTag(t.required_string("key"), t.string("value")) for t in tag_args]
    metrics, links = _split_metrics(call, run_id, metric_args)
    call.tracking.log_batch(run_id, metrics=columns_of(metrics), params=params, tags=tags)
    _link_model_metrics(call, links)
    return {}


@_router.rpc(
    "POST", "/mlflow/runs/log-parameter", access="run:edit", schema=_KEY_VALUE, quick_write=_always
)
def log_param(call: Call) -> dict[str, Any]:
    args = call.args
    param = Param(args.required_string("key"), args.string("value"))
    call.tracking.log_batch(run_id_of(args), params=[param])
    return {}


@_router.rpc(
    "POST", "/mlflow/runs/set-tag", access="run:edit", schema=_KEY_VALUE, quick_write=_always
)
def set_tag(call: Call) -> dict[str, Any]:
    args = call.args
    tag = RunTag(args.required_string("key"), args.string("value"))
    call.tracking.log_batch(run_id_of(args), tags=[tag])
    return {}


@_router.rpc("POST", "/mlflow/runs/delete-tag", access="run:edit", schema=_KEY_VALUE[:2])
def delete_tag(call: Call) -> dict[str, Any]:
    args = call.args
    call.tracking.delete_tag(run_id_of(args), key=args.required_string("key"))
    return {}


def _dataset_entry(item: Args) -> dict[str, Any]:
    dataset = item.message("dataset")
    if dataset is None:
        raise InvalidParameterValue(
            "Missing value for required parameter 'datasets[].dataset'. "
            "See the API docs for more information about request parameters."
        )
    entry: dict[str, Any] = {
        k: dataset.required_string(k) for k in ("name", "digest", "source_type", "source")
    }
    for optional in ("schema", "profile"):
        value = dataset.optional_string(optional)
        if value:
            entry[optional] = value
    entry["tags"] = {t.required_string("key"): t.string("value") for t in item.messages("tags")}
    return entry


def _fit_budget(value: dict[str, Any], *, what: str) -> str:
    """JSON of ``value`` within the run-tag size, dropping bulky dataset fields if needed."""
    text = json.dumps(value, separators=(",", ":"))
    for bulky in ("profile", "schema"):
        if len(text) <= IO_TAG_BUDGET:
            break
        for entry in value.get("datasets", []):
            entry.pop(bulky, None)
        text = json.dumps(value, separators=(",", ":"))
    if len(text) > IO_TAG_BUDGET:
        raise InvalidParameterValue(
            f"Too many {what} recorded for this run: their description exceeds "
            f"{IO_TAG_BUDGET} characters."
        )
    return text


@_router.rpc(
    "POST",
    "/mlflow/runs/log-inputs",
    access="run:edit",
    schema=(RUN_ID[0], ("datasets", ARRAY), ("models", ARRAY)),
)
def log_inputs(call: Call) -> dict[str, Any]:
    args = call.args
    run_id = args.required_string("run_id")
    new_datasets = [_dataset_entry(item) for item in args.messages("datasets")]
    new_models = [m.required_string("model_id") for m in args.messages("models")]
    run = call.tracking.get_run(run_id)
    stored = stored_json(run, INPUTS_TAG)
    datasets: list[dict[str, Any]] = list(stored.get("datasets", []))
    for entry in new_datasets:
        # One entry per (name, digest, context), like MLflow's inputs table.
        same = [
            d
            for d in datasets
            if (d.get("name"), d.get("digest"), d.get("tags"))
            == (entry["name"], entry["digest"], entry["tags"])
        ]
        if not same:
            datasets.append(entry)
    models: list[str] = list(stored.get("models", []))
    models.extend(m for m in new_models if m not in models)
    if datasets == stored.get("datasets", []) and models == stored.get("models", []):
        call.tracking.log_batch(run_id)  # still reports a missing or deleted run
        return {}
    value = _fit_budget({"datasets": datasets, "models": models}, what="inputs")
    call.tracking.log_batch(run_id, tags=[RunTag(INPUTS_TAG, value)])
    return {}


@_router.rpc(
    "POST",
    "/mlflow/runs/outputs",
    access="run:edit",
    schema=(RUN_ID[0], ("models", REQUIRED, ARRAY)),
)
def log_outputs(call: Call) -> dict[str, Any]:
    args = call.args
    run_id = args.required_string("run_id")
    new = [
        {"model_id": m.required_string("model_id"), "step": m.integer("step", 0)}
        for m in args.messages("models")
    ]
    run = call.tracking.get_run(run_id)
    models: list[dict[str, Any]] = list(stored_json(run, OUTPUTS_TAG).get("models", []))
    models.extend(m for m in new if m not in models)
    value = _fit_budget({"models": models}, what="outputs")
    call.tracking.log_batch(run_id, tags=[RunTag(OUTPUTS_TAG, value)])
    return {}


LOGGED_MODELS_TAG = "mlflow.log-model.history"
_MODEL_FIELDS = ("artifact_path", "flavors", "utc_time_created", "run_id")
# What MLflow keeps of a model in the run's history tag (``Model.get_tags_dict``).
_HISTORY_FIELDS = ("run_id", "artifact_path", "utc_time_created", "model_uuid")


def _history_entry(model: dict[str, Any]) -> dict[str, Any]:
    entry = {k: model[k] for k in _HISTORY_FIELDS if k in model}
    flavors = model.get("flavors") or {}
    entry["flavors"] = {
        name: (
            {k: v for k, v in config.items() if k != "config"}
            if isinstance(config, dict)
            else config
        )
        for name, config in (flavors.items() if isinstance(flavors, dict) else [])
    }
    return entry


@_router.rpc(
    "POST",
    "/mlflow/runs/log-model",
    access="run:edit",
    schema=(("run_id", STRING, REQUIRED), ("model_json", STRING, REQUIRED)),
)
def log_model(call: Call) -> dict[str, Any]:
    """The legacy route: append the model's description to the run's history tag."""
    args = call.args
    run_id = args.required_string("run_id")
    text = args.required_string("model_json")
    try:
        model = json.loads(text)
    except ValueError:
        model = None
    if not isinstance(model, dict):
        raise InvalidParameterValue(f"Malformed model info. \n {text} \n is not a valid JSON.")
    missing = set(_MODEL_FIELDS) - set(model)
    if missing:
        raise InvalidParameterValue(f"Model json is missing mandatory fields: {missing}")
    run = call.tracking.get_run(run_id)
    try:
        history = json.loads(run.data.tags.get(LOGGED_MODELS_TAG, "[]"))
    except ValueError:
        history = []
    if not isinstance(history, list):
        history = []
    history.append(_history_entry(model))
    call.tracking.log_batch(run_id, tags=[RunTag(LOGGED_MODELS_TAG, json.dumps(history))])
    return {}
