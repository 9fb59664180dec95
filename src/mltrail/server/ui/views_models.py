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
