"""Model pages: registered models, one model's versions, a version, an experiment's models.

A run's models are a section of the run page (:func:`mltrail.server.ui.models_data.run_models`).
"""

from __future__ import annotations

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from mltrail.errors import MltrailError
from mltrail.model_entities import ModelVersion
from mltrail.server.services import services_of
from mltrail.server.ui.forms import redirect
from mltrail.server.ui.models_data import (
    experiment_registered_versions,
    load_snippet,
    logged_models,
    model_summary,
    quoted,
    read_mlmodel,
    register_snippet,
    registry,
    serve_snippet,
    signature_rows,
)
from mltrail.server.ui.routing import PAGE, PageRoute
from mltrail.server.ui.templating import render
from mltrail.server.ui.views_experiments import like_literal
from mltrail.service.registry_validation import parse_version, validate_model_name

router = APIRouter(route_class=PageRoute)

PAGE_SIZE = 100
MAX_VERSIONS = 1000
NOTICES = {
    "registered": "Version registered.",
    "alias": "Aliases changed.",
    "stage": "Stage changed.",
    "version_deleted": "Version deleted.",
    "deleted": "Registered model deleted.",
}


def _notice(request: Request) -> str:
    return NOTICES.get(request.query_params.get("done", ""), "")


@router.get("/models", include_in_schema=False, openapi_extra=PAGE)
def registered_models_page(request: Request) -> Response:
    q = request.query_params.get("q", "").strip()
    token = request.query_params.get("page") or None
    page = registry(request).search_registered_models(
        filter_string=f"name ILIKE '%{like_literal(q)}%'" if q else None,
        max_results=PAGE_SIZE,
        order_by=["name ASC"],
        page_token=token,
    )
    return render(
        request,
        "models.html",
        title="Registered models",
        models=list(page),
        q=q,
        next_token=page.token,
        page_token=token,
        register_code=register_snippet(str(request.base_url), model_uri="runs:/<run_id>/model"),
        notice=_notice(request),
    )


@router.get("/models/{name}", include_in_schema=False, openapi_extra=PAGE)
def registered_model_page(request: Request, name: str) -> Response:
    service = registry(request)
    model = service.get_registered_model(validate_model_name(name))
    versions = service.search_model_versions(
        filter_string=f"name = {quoted(model.name)}",
        order_by=["version_number DESC"],
        max_results=MAX_VERSIONS,
    )
    return render(
        request,
        "model.html",
        title=model.name,
        model=model,
        versions=list(versions),
        more_versions=versions.token is not None,
        aliases=sorted(model.aliases.items(), key=lambda a: (-a[1], a[0])),
        tags=sorted(model.tags.items()),
        run_names=_run_names(request, list(versions)),
        register_code=register_snippet(
            str(request.base_url), model_uri="runs:/<run_id>/model", name=model.name
        ),
        notice=_notice(request),
    )


@router.get("/models/{name}/versions/{version}", include_in_schema=False, openapi_extra=PAGE)
def model_version_page(request: Request, name: str, version: str) -> Response:
    mv = registry(request).get_model_version(
        validate_model_name(name), version=parse_version(version)
    )
    flavors: list[str] = []
    signature = None
    mlmodel_problem = ""
    try:
        text = read_mlmodel(request, mv.storage_location)
        if text is None:
            mlmodel_problem = "The model's folder has no MLmodel file."
        else:
            flavors, signature = model_summary(text)
    except MltrailError as exc:
        mlmodel_problem = exc.message
    return render(
        request,
        "model_version.html",
        title=f"{mv.name} v{mv.version}",
        mv=mv,
        run_name=_run_names(request, [mv]).get(mv.run_id or ""),
        flavors=flavors,
        signature=signature,
        signature_parts=(
            {k: signature_rows(v) for k, v in signature.items() if k in ("inputs", "outputs")}
            if signature
            else {}
        ),
        mlmodel_problem=mlmodel_problem,
        tags=sorted(mv.tags.items()),
        snippet=load_snippet(f"models:/{mv.name}/{mv.version}"),
        alias_snippets=[load_snippet(f"models:/{mv.name}@{a}") for a in mv.aliases[:1]],
        serve=serve_snippet(
            f"models:/{mv.name}/{mv.version}",
            tracking_uri=str(request.base_url).rstrip("/"),
            alias_uri=f"models:/{mv.name}@{mv.aliases[0]}" if mv.aliases else None,
        ),
        stages=("None", "Staging", "Production", "Archived"),
        logged_experiment=_logged_model_experiment(request, mv.model_id),
        notice=_notice(request),
    )


@router.get("/experiments/{experiment_id}/models", include_in_schema=False, openapi_extra=PAGE)
def experiment_models_page(request: Request, experiment_id: str) -> Response:
    tracking = services_of(request).tracking
    experiment = tracking.get_experiment(experiment_id)
    token = request.query_params.get("page") or None
    page = logged_models(request).search_logged_models(
        [experiment.experiment_id], max_results=PAGE_SIZE, page_token=token
    )
    versions = experiment_registered_versions(request, experiment.experiment_id)
    return render(
        request,
        "experiment_models.html",
        title=f"Models of {experiment.name}",
        experiment=experiment,
        logged=list(page),
        versions=versions,
        next_token=page.token,
        page_token=token,
        run_names=_run_names(request, versions),
        register_code=register_snippet(str(request.base_url), model_uri="runs:/<run_id>/model"),
    )


@router.get(
    "/experiments/{experiment_id}/models/{model_id}", include_in_schema=False, openapi_extra=PAGE
)
def logged_model_page(request: Request, experiment_id: str, model_id: str) -> Response:
    """One logged model (MLflow's ``#/experiments/<id>/models/<model_id>`` page)."""
    model = logged_models(request).get_logged_model(model_id)
    if model.experiment_id != experiment_id:
        # The experiment in the URL is only a path: send the reader to the model's own.
        return redirect(request, f"/experiments/{model.experiment_id}/models/{model.model_id}")
    experiment = services_of(request).tracking.get_experiment(model.experiment_id)
    flavors: list[str] = []
    signature = None
    mlmodel_problem = ""
    try:
        text = read_mlmodel(request, model.artifact_location)
        if text is None:
            mlmodel_problem = "The model's folder has no MLmodel file (yet)."
        else:
            flavors, signature = model_summary(text)
    except MltrailError as exc:
        mlmodel_problem = exc.message
    versions = list(
        registry(request).search_model_versions(
            filter_string=f"run_id = {quoted(model.source_run_id)}", max_results=200
        )
        if model.source_run_id
        else []
    )
    return render(
        request,
        "logged_model.html",
        title=model.name,
        model=model,
        experiment=experiment,
        run_name=_run_names(request, versions).get(model.source_run_id or "")
        or _run_name(request, model.source_run_id),
        flavors=flavors,
        signature_parts=(
            {k: signature_rows(v) for k, v in signature.items() if k in ("inputs", "outputs")}
            if signature
            else {}
        ),
        mlmodel_problem=mlmodel_problem,
        versions=[v for v in versions if v.model_id == model.model_id],
        snippet=load_snippet(f"models:/{model.model_id}"),
        model_names=_model_names(request),
    )


def _logged_model_experiment(request: Request, model_id: str | None) -> str | None:
    """The experiment of a version's logged model, for a link (None if unreadable)."""
    if not model_id:
        return None
    try:
        return logged_models(request).get_logged_model(model_id).experiment_id
    except MltrailError:
        return None


def _run_name(request: Request, run_id: str | None) -> str:
    if not run_id:
        return ""
    try:
        return services_of(request).tracking.get_run(run_id).info.run_name or run_id
    except MltrailError:
        return run_id


def _model_names(request: Request) -> list[str]:
    """Names of registered models the viewer can see, offered when registering a version."""
    try:
        page = registry(request).search_registered_models(max_results=200, order_by=["name ASC"])
    except MltrailError:
        return []
    return [m.name for m in page]


def _run_names(request: Request, versions: list[ModelVersion]) -> dict[str, str]:
    """Names of the versions' source runs (those the viewer may read)."""
    tracking = services_of(request).tracking
    names: dict[str, str] = {}
    for run_id in {v.run_id for v in versions if v.run_id}:
        if run_id and len(names) < 200:
            try:
                names[run_id] = tracking.get_run(run_id).info.run_name or run_id
            except MltrailError:  # a deleted or unreadable run keeps its id as the label
                continue
    return names
