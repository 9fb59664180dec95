"""The HTTP session behind the REST backend: one pooled keep-alive connection set, timeouts,
credentials, TLS, retries with exponential backoff and jitter, typed errors.

Retried: connection failures, timeouts, 429 and 5xx (honouring Retry-After). Never retried:
other 4xx, which would fail the same way again. Requests that change state are retried
too, so callers that must not apply a change twice send an idempotency key.

With ``MLTRAIL_OFFLINE=1`` no request leaves the machine: the session answers from the
offline spool (:mod:`mltrail.client.offline`). At interpreter exit
(:func:`give_up_after`) retries stop at a deadline, so a process whose server is gone
exits in bounded time.

The transport seam: like ``httpx.Client``, a session takes ``transport=``, and transports
mounted for a server URL (:func:`mount_transport`, httpx's ``mounts=`` for the whole process)
answer every session later built for that URL, including those the fluent API, the
artifact proxy and the CLI build from a tracking URI. Tests mount an ASGI app there to drive
a server in-process; without a mount a session talks to the network as it always did.
"""

from __future__ import annotations

import random
import ssl
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from typing import Any
from urllib.parse import urlsplit

import httpx

from mltrail.config import Settings
from mltrail.errors import (
    ConfigurationError,
    ConnectionFailed,
    MltrailError,
    TrackingServerUnreachable,
    from_code,
)
from mltrail.version import __version__
from mltrail.wire import decode_json, encode_json

BACKOFF_BASE_S = 0.1
BACKOFF_MAX_S = 10.0
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504, 507})
_TRANSPORT_ERRORS = (httpx.TransportError,)
# Monotonic time after which no request is retried any more (set at interpreter exit).
_give_up_at: float | None = None
# Transports mounted per server origin ("scheme://host:port", lower case).
_mounts: dict[str, httpx.BaseTransport] = {}
# Origins that answered at least once in this process. A connection refused by one that never
# did is a wrong address, not an outage: it is not worth the outage's retries.
_answered: set[str] = set()
# Path ends that make a tracking URI point inside the API instead of at the server.
_API_SUFFIXES = ("/api", "/api/2.0", "/api/2.0/mlflow", "/ajax-api", "/ajax-api/2.0", "/api/v1")


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme.lower()}://{parts.netloc.lower()}"


def mount_transport(url: str, transport: httpx.BaseTransport) -> None:
    """Send the requests of sessions later built for ``url``'s origin through ``transport``.

    Sessions that exist already keep their transport; the caller owns ``transport``.
    """
    _mounts[_origin(url)] = transport


def unmount_transport(url: str) -> None:
    _mounts.pop(_origin(url), None)


@contextmanager
def mounted_transport(url: str, transport: httpx.BaseTransport) -> Iterator[None]:
    """:func:`mount_transport` for the duration of a ``with`` block."""
    mount_transport(url, transport)
    try:
        yield
    finally:
        unmount_transport(url)


def give_up_after(seconds: float) -> None:
    """Stop retrying requests ``seconds`` from now (for a bounded interpreter exit).

    An earlier deadline already set stays: several exit handlers share one budget.
    """
    global _give_up_at
    deadline = time.monotonic() + max(0.0, seconds)
    if _give_up_at is None or deadline < _give_up_at:
        _give_up_at = deadline


def time_left() -> float | None:
    """Seconds until the exit deadline (may be negative), or None when none is set."""
    return None if _give_up_at is None else _give_up_at - time.monotonic()


def _out_of_time() -> bool:
    return _give_up_at is not None and time.monotonic() >= _give_up_at


def _verify(settings: Settings) -> ssl.SSLContext | bool:
    if settings.tracking_insecure_tls:
        return False
    if settings.tracking_server_cert_path:
        try:
            return ssl.create_default_context(cafile=settings.tracking_server_cert_path)
        except (OSError, ssl.SSLError) as exc:
            raise ConfigurationError(
                f"Cannot read the CA bundle {settings.tracking_server_cert_path!r}: {exc}"
            ) from exc
    return True


def _auth(settings: Settings) -> tuple[httpx.Auth | None, dict[str, str]]:
    if settings.tracking_token:
        return None, {"Authorization": f"Bearer {settings.tracking_token}"}
    if settings.tracking_username or settings.tracking_password:
        return httpx.BasicAuth(settings.tracking_username, settings.tracking_password), {}
    return None, {}


def error_from_response(response: httpx.Response) -> MltrailError:
    """The typed error a server answer stands for."""
    code = "INTERNAL_ERROR"
    message = ""
    try:
        body = response.json()
        if isinstance(body, dict):
            code = str(body.get("error_code") or code)
            message = str(body.get("message") or "")
    except (ValueError, UnicodeDecodeError):
        pass
    if not message:
        text = response.text.strip().splitlines()[0][:300] if response.text.strip() else ""
        message = f"HTTP {response.status_code} from {response.request.url}" + (
            f": {text}" if text else ""
        )
    return from_code(code, message, status=response.status_code)


def backoff_delay(attempt: int, *, retry_after: str | None = None) -> float:
    """Exponential backoff with full jitter; a server's Retry-After (seconds) is a floor."""
    delay = random.uniform(0, min(BACKOFF_MAX_S, BACKOFF_BASE_S * (2**attempt)))
    if retry_after:
        with suppress(ValueError):
            delay = max(delay, min(float(retry_after), 60.0))
    return delay


class HttpSession:
    """Requests against one tracking server (``base_url`` without a trailing slash)."""

    def __init__(
        self,
        base_url: str,
        *,
        settings: Settings,
        sleep: Callable[[float], None] = time.sleep,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        """``transport`` replaces the network (httpx's ``transport=``); without it a
        transport mounted for ``base_url`` (:func:`mount_transport`) does."""
        self.base_url = base_url.rstrip("/")
        self._origin = _origin(self.base_url)
        self.max_retries = max(0, settings.http_max_retries)
        self.timeout = settings.http_timeout
        self._sleep = sleep
        auth, headers = _auth(settings)
        headers["User-Agent"] = f"mltrail/{__version__}"
        self.offline = settings.offline
        if self.offline:
            # Offline means nothing leaves the process, whatever else was configured.
            from mltrail.client.offline import OfflineTransport

            transport = OfflineTransport(self.base_url, settings=settings)
        elif transport is None:
            transport = _mounts.get(_origin(self.base_url))
        self.client = httpx.Client(
            transport=transport,
            base_url=self.base_url,
            timeout=httpx.Timeout(settings.http_timeout),
            verify=_verify(settings),
            auth=auth,
            headers=headers,
            limits=httpx.Limits(max_connections=32, max_keepalive_connections=16),
            follow_redirects=False,
        )

    def close(self) -> None:
        self.client.close()

    def _send(
        self,
        build: Callable[[], httpx.Request],
        *,
        stream: bool = False,
        retries: int | None = None,
    ) -> httpx.Response:
        max_retries = self.max_retries if retries is None else retries
        attempt = 0
        while True:
            request = build()
            self._bound_by_exit_deadline(request)
            try:
                response = self.client.send(request, stream=stream)
            except _TRANSPORT_ERRORS as exc:
                never_answered = (
                    isinstance(exc, httpx.ConnectError) and self._origin not in _answered
                )
                if never_answered and (attempt >= min(max_retries, 1) or _out_of_time()):
                    raise self._unreachable(exc) from None
                if attempt >= max_retries or _out_of_time():
                    raise ConnectionFailed(
                        f"Cannot reach the tracking server at {self.base_url} "
                        f"({type(exc).__name__}: {exc}) after {attempt + 1} attempts"
                    ) from exc
                self._sleep(backoff_delay(attempt))
                attempt += 1
                continue
            _answered.add(self._origin)
            if (
                response.status_code in RETRY_STATUSES
                and attempt < max_retries
                and not _out_of_time()
            ):
                retry_after = response.headers.get("retry-after")
                response.close()
                self._sleep(backoff_delay(attempt, retry_after=retry_after))
                attempt += 1
                continue
            if response.status_code >= 400:
                if stream:
                    response.read()
                error = error_from_response(response)
                response.close()
                if response.status_code == 404:
                    error = self._with_api_hint(error)
                raise error
            return response

    def _unreachable(self, exc: Exception) -> TrackingServerUnreachable:
        reason = "connection refused" if "refused" in str(exc).lower() else str(exc)
        return TrackingServerUnreachable(
            f"Nothing answers at {self.base_url} ({reason}). Is the tracking server running, "
            "and are this host and port its address? The address comes from the tracking URI "
            "(set_tracking_uri, MLTRAIL_TRACKING_URI or MLFLOW_TRACKING_URI)."
        )

    def _with_api_hint(self, error: MltrailError) -> MltrailError:
        path = urlsplit(self.base_url).path.rstrip("/")
        if not path.endswith(_API_SUFFIXES):
            return error
        server = self.base_url[: len(self.base_url) - len(path)]
        return from_code(
            error.code,
            f"{error.message}. The tracking URI points inside the server's API ({path}): "
            f"use the server's address alone, {server}",
            status=error.status,
        )

    def _bound_by_exit_deadline(self, request: httpx.Request) -> None:
        """After interpreter exit began, no request may outlive the exit budget: a server
        that accepts connections and never answers must not hold the process."""
        left = time_left()
        if left is None:
            return
        if left <= 0:
            raise ConnectionFailed(
                f"Not sending {request.method} {request.url.path} to {self.base_url}: the exit "
                "deadline (MLTRAIL_FLUSH_TIMEOUT) has passed"
            )
        request.extensions["timeout"] = httpx.Timeout(min(self.timeout, left)).as_dict()

    def call(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        content: bytes | None = None,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Any:
        """A JSON request; returns the decoded JSON answer."""
        body = content
        all_headers = dict(headers or {})
        if json_body is not None:
            body = encode_json(json_body)
            all_headers["Content-Type"] = "application/json"
        clean_params = {k: v for k, v in (params or {}).items() if v is not None}

        def build() -> httpx.Request:
            return self.client.build_request(
                method, path, content=body, params=clean_params, headers=all_headers
            )

        response = self._send(build)
        if not response.content:
            return {}
        try:
            return decode_json(response.content)
        except ValueError as exc:
            raise MltrailError(
                f"The tracking server answered {method} {path} with something that is not JSON "
                f"(is {self.base_url} an mltrail server?)"
            ) from exc

    def upload(
        self,
        path: str,
        *,
        open_body: Callable[[], Any],
        length: int | None = None,
        replayable: bool = True,
    ) -> Any:
        """PUT a body that ``open_body`` produces afresh for each attempt (a file, an iterator).

        A body that cannot be produced again (a one-shot iterator) is sent once, no retry.
        """
        headers = {"Content-Type": "application/octet-stream"}
        if length is not None:
            headers["Content-Length"] = str(length)

        def build() -> httpx.Request:
            return self.client.build_request("PUT", path, content=open_body(), headers=headers)

        return self._send(build, retries=None if replayable else 0).json()

    @contextmanager
    def download(
        self, path: str, *, headers: Mapping[str, str] | None = None
    ) -> Iterator[httpx.Response]:
        """A streaming GET (the connection is released when the block ends)."""

        def build() -> httpx.Request:
            return self.client.build_request("GET", path, headers=dict(headers or {}))

        response = self._send(build, stream=True)
        try:
            yield response
        finally:
            response.close()
