"""Routing for the MLflow REST adapter: one declaration, mounted under every MLflow prefix.

How to declare a route (in any module of ``mltrail.server.api.mlflow``)::

    from typing import Any

    from mltrail.server.api.mlflow.routing import Call, MlflowRouter

    _router = MlflowRouter()

    @_router.rpc("POST", "/mlflow/experiments/create", access="experiment:create")
    def create_experiment(call: Call) -> dict[str, Any]:
        name = call.args.required_string("name")
        return {"experiment_id": call.tracking.create_experiment(name)}

    def router() -> MlflowRouter:
        return _router

Rules:

* ``path`` is relative to ``/api/<version>.0``; every route is mounted twice, under
  ``/api/<version>.0`` (Python client) and ``/ajax-api/<version>.0`` (web UI). ``version``
  defaults to 2; pass ``ajax=False`` for an api-only route, ``api=False`` for one MLflow
  serves to its web UI only, ``version=0`` for one at the server root (``/graphql``).
* ``schema`` lists MLflow's field checks of the route, in MLflow's order (see
  :mod:`.schema`); they run before the handler, so the first bad field is the one MLflow
  names. Path parameters use FastAPI's
  syntax (``{model_id}``, ``{path:path}``) and arrive in ``call.path``.
* ``methods`` is one method or a tuple (``("GET", "POST")``).
* The handler takes one :class:`Call`. ``call.args`` reads the request fields with
  MLflow's conventions: the query string on GET (repeated keys are lists, a single key is
  a one-element list), the JSON body otherwise (a double-encoded JSON string body is
  decoded twice; an empty body falls back to the query string, which is how lenient
  DELETEs work). Unknown fields are ignored. Its accessors (``required_string``,
  ``optional_integer``, ``double``, ``boolean``, ``string_list``, ``messages``...) raise
  ``InvalidParameterValue`` with MLflow's messages, so a handler never sees a bad type.
* A plain ``def`` handler runs in a worker thread (service calls block); an ``async def``
  handler runs on the event loop (use it for streaming, with ``raw_body=True`` so the body
  is left unread for ``call.request.stream()``).
* Return a ``dict`` already in wire form (build it with :mod:`.codec`; it is sent as JSON,
  ``{}`` for an empty answer) or any Starlette ``Response``.
* Raise errors from :mod:`mltrail.errors`; they are answered as
  ``{"error_code": ..., "message": ...}`` with the error's status. ``INVALID_STATE`` is
  answered as ``INVALID_PARAMETER_VALUE`` (400), which is what MLflow sends for writes to a
  deleted run or experiment. Other exceptions go to the app's handlers (a lost database is a
  503, anything else a 500 ``INTERNAL_ERROR`` without a traceback in the body).
* ``access`` is the authorization rule of the route, ``"<resource>:<level>"`` (resources
  ``experiment``, ``run``, ``logged_model``, ``registered_model``, ``artifact``; levels
  ``read``, ``edit``, ``delete``, ``manage``, ``create``) or ``"public"``. It is required and
  is recorded on the mounted route as ``route.openapi_extra["x-mltrail-access"]``, where the
  authorization layer and the route-table test read it.

``mount(app, routers)`` mounts a list of routers, then a catch-all that answers unknown
``/api/*/mlflow...`` paths with 404 ``ENDPOINT_NOT_FOUND`` in MLflow's JSON shape.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from mltrail.errors import (
    InvalidParameterValue,
    MalformedRequest,
    MltrailError,
    TemporarilyUnavailable,
    shown,
)
from mltrail.server.api.mlflow.dispatch import Endpoint, StaticRouteDispatch
from mltrail.server.api.mlflow.schema import (
    Schema,
    invalid_value_message,
    missing_value_message,
    validate,
)
from mltrail.server.threads import run_blocking, run_quick_write
from mltrail.wire import decode_json, encode_json

if TYPE_CHECKING:
    from mltrail.tracking_api import TrackingAPI

API_ACCESS_KEY = "x-mltrail-access"
_PATH_ERROR = "Invalid path"
# (sqlstate, error_class) MLflow adds to an error of each code (mlflow.error_classification).
_CLIENT_ERROR = ("KAM00", "INVALID_PARAMETER_VALUE")
_ERROR_CLASSES = {
    "BAD_REQUEST": _CLIENT_ERROR,
    "INVALID_PARAMETER_VALUE": _CLIENT_ERROR,
    "ENDPOINT_NOT_FOUND": ("KAM00", "RESOURCE_NOT_FOUND"),
    "RESOURCE_DOES_NOT_EXIST": ("KAM00", "RESOURCE_NOT_FOUND"),
    "RESOURCE_ALREADY_EXISTS": ("KAM00", "RESOURCE_ALREADY_EXISTS"),
    "PERMISSION_DENIED": ("KAM00", "PERMISSION_DENIED"),
    "INTERNAL_ERROR": ("XXM00", "CLIENT_INTERNAL_ERROR"),
    "INVALID_STATE": ("XXM00", "CLIENT_INTERNAL_ERROR"),
    "TEMPORARILY_UNAVAILABLE": ("XXM00", "CLIENT_INTERNAL_ERROR"),
}
HandlerResult = dict[str, Any] | Response
Handler = Callable[["Call"], HandlerResult | Awaitable[HandlerResult]]
H = TypeVar("H", bound=Handler)


def _missing(name: str) -> InvalidParameterValue:
    return InvalidParameterValue(missing_value_message(name))


def _invalid(name: str, value: Any, expected: str) -> InvalidParameterValue:
    # MLflow's words (``expected`` is not part of them; it documents the call site).
    return InvalidParameterValue(invalid_value_message(name, value))


_NON_FINITE = {"nan": math.nan, "infinity": math.inf, "-infinity": -math.inf, "inf": math.inf}
_NON_FINITE.update({"-inf": -math.inf, "+infinity": math.inf})


class Args:
    """The fields of one request (or of one nested message), read with MLflow's conventions."""

    def __init__(
        self, data: Mapping[str, Any], *, from_query: bool = False, prefix: str = ""
    ) -> None:
        self._data = data
        self._from_query = from_query
        self._prefix = prefix

    @classmethod
    def from_query(cls, items: Iterable[tuple[str, str]]) -> Args:
        multi: dict[str, list[str]] = {}
        for key, value in items:
            multi.setdefault(key, []).append(value)
        return cls(multi, from_query=True)

    def _name(self, name: str) -> str:
        return f"{self._prefix}{name}"

    def raw(self) -> dict[str, Any]:
        """The fields as received (a copy)."""
        return dict(self._data)

    def validate(self, schema: Schema) -> None:
        """Check the fields against an MLflow schema (see :mod:`.schema`)."""
        validate(self._data, schema, from_query=self._from_query)

    def has(self, name: str) -> bool:
        value = self._raw(name)
        return value is not None

    def _raw(self, name: str) -> Any:
        value = self._data.get(name)
        if self._from_query and isinstance(value, list):
            return value[0] if value else None
        return value

    # -- strings -----------------------------------------------------------
    def optional_string(self, name: str) -> str | None:
        value = self._raw(name)
        if value is None:
            return None
        if not isinstance(value, str):
            raise _invalid(self._name(name), value, "a string")
        return value

    def string(self, name: str, default: str = "") -> str:
        value = self.optional_string(name)
        return default if value is None else value

    def required_string(self, name: str, *, allow_empty: bool = False) -> str:
        value = self.optional_string(name)
        if value is None or (value == "" and not allow_empty):
            raise _missing(self._name(name))
        return value

    # -- numbers -----------------------------------------------------------
    def optional_integer(self, name: str) -> int | None:
        value = self._raw(name)
        if value is None:
            return None
        # proto-JSON sends int64 as numbers or as strings; bools are not integers.
        if isinstance(value, bool):
            raise _invalid(self._name(name), value, "an integer")
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str):
            try:
                return int(value.strip())
            except ValueError:
                pass
        raise _invalid(self._name(name), value, "an integer")

    def integer(self, name: str, default: int) -> int:
        value = self.optional_integer(name)
        return default if value is None else value

    def required_integer(self, name: str) -> int:
        value = self.optional_integer(name)
        if value is None:
            raise _missing(self._name(name))
        return value

    def optional_double(self, name: str) -> float | None:
        value = self._raw(name)
        if value is None:
            return None
        if isinstance(value, bool):
            raise _invalid(self._name(name), value, "a number")
        if isinstance(value, (int, float)):
            try:
                return float(value)
            except OverflowError:  # an integer literal beyond the double range
                raise _invalid(self._name(name), value, "a number in the double range") from None
        if isinstance(value, str):
            special = _NON_FINITE.get(value.strip().lower())
            if special is not None:
                return special
            try:
                return float(value)
            except ValueError:
                pass
        raise _invalid(self._name(name), value, "a number")

    def required_double(self, name: str) -> float:
        value = self.optional_double(name)
        if value is None:
            raise _missing(self._name(name))
        return value

    # -- bools and enums ---------------------------------------------------
    def optional_boolean(self, name: str) -> bool | None:
        value = self._raw(name)
        if value is None:
            return None
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in ("true", "false"):
            return value.strip().lower() == "true"
        raise _invalid(self._name(name), value, "a boolean")

    def boolean(self, name: str, default: bool = False) -> bool:
        value = self.optional_boolean(name)
        return default if value is None else value

    def optional_enum(self, name: str, names: Iterable[str]) -> str | None:
        """An enum given by name (any case) or by its proto number (1-based position in ``names``)."""
        value = self._raw(name)
        if value is None:
            return None
        choices = list(names)
        if isinstance(value, str) and value.strip().upper() in choices:
            return value.strip().upper()
        number: int | None = None
        if isinstance(value, int) and not isinstance(value, bool):
            number = value
        elif isinstance(value, str) and value.strip().isdigit():
            number = int(value.strip())
        if number is not None and 1 <= number <= len(choices):
            return choices[number - 1]
        raise InvalidParameterValue(
            f"Invalid value {shown(value)} for parameter '{self._name(name)}' supplied. "
            f"Valid values are {choices}."
        )

    # -- repeated fields ---------------------------------------------------
    def string_list(self, name: str) -> list[str]:
        value = self._data.get(name)
        if value is None:
            return []
        if isinstance(value, str):
            return [value]
        if not isinstance(value, list):
            raise _invalid(self._name(name), value, "a list of strings")
        for item in value:
            if not isinstance(item, str):
                raise _invalid(self._name(name), item, "a string")
        return list(value)

    def messages(self, name: str) -> list[Args]:
        """A repeated nested message (never sent on GET: then always empty)."""
        if self._from_query:
            return []
        value = self._data.get(name)
        if value is None:
            return []
        if not isinstance(value, list):
            raise _invalid(self._name(name), value, "a list")
        out: list[Args] = []
        for index, item in enumerate(value):
            if not isinstance(item, dict):
                raise _invalid(f"{self._name(name)}[{index}]", item, "an object")
            out.append(Args(item, prefix=f"{self._name(name)}[{index}]."))
        return out

    def message(self, name: str) -> Args | None:
        if self._from_query:
            return None
        value = self._data.get(name)
        if value is None:
            return None
        if not isinstance(value, dict):
            raise _invalid(self._name(name), value, "an object")
        return Args(value, prefix=f"{self._name(name)}.")


@dataclass
class Call:
    """Everything a handler needs: the parsed fields, path parameters and the services."""

    request: Request
    args: Args
    path: dict[str, str]

    @property
    def services(self) -> Any:
        return self.request.app.state.services

    @property
    def tracking(self) -> TrackingAPI:
        tracking: TrackingAPI = self.services.tracking
        return tracking

    @property
    def artifacts(self) -> Any:
        """The proxied-artifact service; 503 when the server runs with --no-serve-artifacts."""
        service = self.services.artifacts
        if service is None:
            raise TemporarilyUnavailable(
                "Endpoint disabled: the server was started with --no-serve-artifacts "
                "(artifact proxying is off)."
            )
        return service


@dataclass(frozen=True)
class RouteSpec:
    methods: tuple[str, ...]
    path: str
    handler: Handler
    access: str
    version: int
    ajax: bool
    raw_body: bool
    schema: Schema = ()
    api: bool = True
    # When this says so for a request's fields, the handler makes one small write and runs
    # on the event loop on SQLite (threads.run_quick_write).
    quick_write: Callable[[Args], bool] | None = None


class MlflowRouter:
    """A list of route declarations, mounted later by :func:`mount`."""

    def __init__(self) -> None:
        self.routes: list[RouteSpec] = []

    def rpc(
        self,
        methods: str | tuple[str, ...],
        path: str,
        *,
        access: str,
        version: int = 2,
        ajax: bool = True,
        api: bool = True,
        raw_body: bool = False,
        schema: Schema = (),
        quick_write: Callable[[Args], bool] | None = None,
    ) -> Callable[[H], H]:
        method_tuple = (methods,) if isinstance(methods, str) else tuple(methods)

        def decorate(handler: H) -> H:
            self.routes.append(
                RouteSpec(
                    methods=tuple(m.upper() for m in method_tuple),
                    path=path,
                    handler=handler,
                    access=access,
                    version=version,
                    ajax=ajax,
                    raw_body=raw_body,
                    schema=schema,
                    api=api,
                    quick_write=quick_write,
                )
            )
            return handler

        return decorate


def json_response(body: Mapping[str, Any], *, status: int = 200) -> Response:
    # The codec has encoded every non-finite double already (orjson would write null).
    content = encode_json(body)
    return Response(content, status_code=status, media_type="application/json")


def error_response(error: MltrailError) -> Response:
    code, status, message = error.code, error.status, error.message
    if code == "INVALID_STATE" and status == 400:
        code = "INVALID_PARAMETER_VALUE"
    if code == "INVALID_PARAMETER_VALUE" and message.startswith(_PATH_ERROR):
        # MLflow answers every unsafe artifact path with exactly this message.
        message = _PATH_ERROR
    body = {"error_code": code, "message": message}
    classified = _ERROR_CLASSES.get(code)
    if classified is not None:
        body["sqlstate"], body["error_class"] = classified
    return json_response(body, status=status)


async def parse_args(request: Request) -> Args:
    if request.method in ("GET", "HEAD"):
        return Args.from_query(request.query_params.multi_items())
    raw = await request.body()
    if not raw.strip():
        return Args.from_query(request.query_params.multi_items())
    try:
        data: Any = decode_json(raw)
        if isinstance(data, str):
            # Very old clients send the JSON object encoded as a JSON string.
            data = decode_json(data)
    except MalformedRequest as exc:
        raise InvalidParameterValue(exc.message) from None
    if not isinstance(data, dict):
        raise InvalidParameterValue("The request body must be a JSON object.")
    return Args(data)


def _endpoint(spec: RouteSpec) -> Callable[[Request], Awaitable[Response]]:
    is_async = inspect.iscoroutinefunction(spec.handler)
    quick_write = spec.quick_write

    async def endpoint(request: Request) -> Response:
        try:
            if spec.raw_body:
                args = Args.from_query(request.query_params.multi_items())
            else:
                args = await parse_args(request)
            if spec.schema:
                args.validate(spec.schema)
            call = Call(request=request, args=args, path=dict(request.path_params))
            if is_async:
                result = await spec.handler(call)  # type: ignore[misc]
            elif quick_write is not None and call.services.sqlite and quick_write(args):
                result = await run_quick_write(spec.handler, call)
            else:
                result = await run_blocking(spec.handler, call)
        except MltrailError as error:
            return error_response(error)
        if isinstance(result, Response):
            return result
        return json_response(result)

    endpoint.__name__ = getattr(spec.handler, "__name__", "mlflow_endpoint")
    return endpoint


def _prefixes(spec: RouteSpec) -> list[str]:
    if spec.version == 0:
        return [""]  # mounted at the root, as MLflow's /get-artifact is
    out = [f"/api/{spec.version}.0"] if spec.api else []
    if spec.ajax:
        out.append(f"/ajax-api/{spec.version}.0")
    return out


async def _not_found(request: Request) -> Response:
    return json_response(
        {
            "error_code": "ENDPOINT_NOT_FOUND",
            "message": f"No endpoint {request.method} {request.url.path}",
        },
        status=404,
    )


ALL_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]


def mount(app: FastAPI, routers: Iterable[MlflowRouter]) -> None:
    """Mount every route of ``routers`` under its prefixes, then the MLflow 404 catch-all.

    The routes with a fixed path are also answered by ``StaticRouteDispatch`` (see there).
    """
    static: dict[tuple[str, str], tuple[Endpoint, BaseRoute]] = {}
    for router in routers:
        for spec in router.routes:
            endpoint = _endpoint(spec)
            for prefix in _prefixes(spec):
                app.add_api_route(
                    prefix + spec.path,
                    endpoint,
                    methods=list(spec.methods),
                    include_in_schema=False,
                    openapi_extra={API_ACCESS_KEY: spec.access},
                )
                if "{" not in spec.path:
                    for method in spec.methods:
                        static.setdefault((method, prefix + spec.path), (endpoint, app.routes[-1]))
    app.add_middleware(StaticRouteDispatch, table=static, exception_handlers=app.exception_handlers)
    for prefix in ("/api/2.0", "/ajax-api/2.0", "/api/3.0", "/ajax-api/3.0"):
        for area in ("mlflow", "mlflow-artifacts"):
            for suffix in ("", "/{rest:path}"):
                app.add_api_route(
                    f"{prefix}/{area}{suffix}",
                    _not_found,
                    methods=ALL_METHODS,
                    include_in_schema=False,
                    openapi_extra={API_ACCESS_KEY: "public"},
                )
