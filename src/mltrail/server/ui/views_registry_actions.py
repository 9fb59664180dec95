"""Changing the model registry from the dashboard: register a version from a run's model, set
and move aliases, tags and descriptions, archive (or move to any stage), and delete.

Every change is a form POST with the page's CSRF token, answered by a redirect back to the
page (post/redirect/get). It goes through the same registry service as the MLflow API, so
under authentication the same permission checks apply (EDIT to change, MANAGE to delete,
READ on the source to register it); a refused or invalid change is rendered as the error
page with the service's message.
"""

from __future__ import annotations

import contextlib
from urllib.parse import quote

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from mltrail.errors import InvalidParameterValue, ResourceAlreadyExists
from mltrail.server.ui.forms import Form, checked_form, redirect
from mltrail.server.ui.models_data import registry
from mltrail.server.ui.routing import EDIT, PageRoute
from mltrail.service.registry import RegistryService
from mltrail.service.registry_validation import parse_version, validate_model_name

router = APIRouter(route_class=PageRoute)

STAGES = ("None", "Staging", "Production", "Archived")
MAX_DESCRIPTION = 100_000


def model_path(name: str, version: object | None = None) -> str:
    path = "/models/" + quote(name, safe="")
    return path if version is None else f"{path}/versions/{version}"


def _description(form: Form) -> str:
    text = form.get("description")
    if len(text) > MAX_DESCRIPTION:
        raise InvalidParameterValue(f"The description is longer than {MAX_DESCRIPTION} characters")
    return text


def _key(form: Form, field: str = "key") -> str:
    key = form.get(field).strip()
    if not key:
        raise InvalidParameterValue(f"A {field} is needed")
    return key


def register_version(service: RegistryService, form: Form) -> tuple[str, int]:
    """Create the registered model if needed, then a version from the form's model URI."""
    name = validate_model_name(form.get("name").strip())
    source = form.get("source").strip()
    if not source:
        raise InvalidParameterValue("Which model? The form has no model URI")
    # A new version of an existing model otherwise (the version call checks the rights).
    with contextlib.suppress(ResourceAlreadyExists):
        service.create_registered_model(name)
    version = service.create_model_version(
        name,
        source=source,
        run_id=form.get("run_id").strip() or None,
        model_id=form.get("model_id").strip() or None,
    )
    return version.name, version.version


@router.post("/models/register", include_in_schema=False, openapi_extra=EDIT)
async def register(request: Request) -> Response:
    form = await checked_form(request)
    name, version = await run_in_threadpool(register_version, registry(request), form)
    return redirect(request, model_path(name, version) + "?done=registered")


# -- a registered model ---------------------------------------------------------------------
@router.post("/models/{name}/description", include_in_schema=False, openapi_extra=EDIT)
async def model_description(request: Request, name: str) -> Response:
    form = await checked_form(request)
    text = _description(form)
    await run_in_threadpool(registry(request).update_registered_model, name, description=text)
    return redirect(request, model_path(name) + "#h-desc")


@router.post("/models/{name}/tags", include_in_schema=False, openapi_extra=EDIT)
async def model_tag(request: Request, name: str) -> Response:
    form = await checked_form(request)
    key = _key(form)
    await run_in_threadpool(
        registry(request).set_registered_model_tag, name, key=key, value=form.get("value")
    )
    return redirect(request, model_path(name) + "#model-tags")


@router.post("/models/{name}/tags/delete", include_in_schema=False, openapi_extra=EDIT)
async def model_tag_delete(request: Request, name: str) -> Response:
    form = await checked_form(request)
    await run_in_threadpool(
        registry(request).delete_registered_model_tag, name, key=form.get("key")
    )
    return redirect(request, model_path(name) + "#model-tags")


@router.post("/models/{name}/aliases", include_in_schema=False, openapi_extra=EDIT)
async def set_alias(request: Request, name: str) -> Response:
    """Set an alias, or move it: an alias names one version at a time."""
    form = await checked_form(request)
    alias = _key(form, "alias")
    version = parse_version(form.get("version"))
    await run_in_threadpool(
        registry(request).set_registered_model_alias, name, alias=alias, version=version
    )
    back = form.get("back") == "version"
    return redirect(request, model_path(name, version if back else None) + "?done=alias")


@router.post("/models/{name}/aliases/delete", include_in_schema=False, openapi_extra=EDIT)
async def delete_alias(request: Request, name: str) -> Response:
    form = await checked_form(request)
    await run_in_threadpool(
        registry(request).delete_registered_model_alias, name, alias=form.get("alias")
    )
    return redirect(request, model_path(name) + "?done=alias")


@router.post("/models/{name}/delete", include_in_schema=False, openapi_extra=EDIT)
async def delete_model(request: Request, name: str) -> Response:
    await checked_form(request)
    await run_in_threadpool(registry(request).delete_registered_model, name)
    return redirect(request, "/models?done=deleted")


# -- a model version -------------------------------------------------------------------------
@router.post(
    "/models/{name}/versions/{version}/description", include_in_schema=False, openapi_extra=EDIT
)
async def version_description(request: Request, name: str, version: str) -> Response:
    form = await checked_form(request)
    text = _description(form)
    await run_in_threadpool(
        registry(request).update_model_version,
        name,
        version=parse_version(version),
        description=text,
    )
    return redirect(request, model_path(name, version) + "#h-desc")


@router.post("/models/{name}/versions/{version}/tags", include_in_schema=False, openapi_extra=EDIT)
async def version_tag(request: Request, name: str, version: str) -> Response:
    form = await checked_form(request)
    key = _key(form)
    await run_in_threadpool(
        registry(request).set_model_version_tag,
        name,
        version=parse_version(version),
        key=key,
        value=form.get("value"),
    )
    return redirect(request, model_path(name, version) + "#version-tags")


@router.post(
    "/models/{name}/versions/{version}/tags/delete", include_in_schema=False, openapi_extra=EDIT
)
async def version_tag_delete(request: Request, name: str, version: str) -> Response:
    form = await checked_form(request)
    await run_in_threadpool(
        registry(request).delete_model_version_tag,
        name,
        version=parse_version(version),
        key=form.get("key"),
    )
    return redirect(request, model_path(name, version) + "#version-tags")


@router.post("/models/{name}/versions/{version}/stage", include_in_schema=False, openapi_extra=EDIT)
async def version_stage(request: Request, name: str, version: str) -> Response:
    """Move the version to a stage ("Archived" archives it)."""
    form = await checked_form(request)
    stage = form.get("stage")
    if stage not in STAGES:
        raise InvalidParameterValue(f"Unknown stage {stage!r}; expected one of {', '.join(STAGES)}")
    await run_in_threadpool(
        registry(request).transition_model_version_stage,
        name,
        version=parse_version(version),
        stage=stage,
        archive_existing_versions=form.get("archive_existing") == "true",
    )
    return redirect(request, model_path(name, version) + "?done=stage")


@router.post(
    "/models/{name}/versions/{version}/delete", include_in_schema=False, openapi_extra=EDIT
)
async def delete_version(request: Request, name: str, version: str) -> Response:
    await checked_form(request)
    await run_in_threadpool(
        registry(request).delete_model_version, name, version=parse_version(version)
    )
    return redirect(request, model_path(name) + "?done=version_deleted")
