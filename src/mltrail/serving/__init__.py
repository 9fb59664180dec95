"""Serving a model: an HTTP scoring server (MLflow's scoring protocol) and batch prediction.

``scoring_app(model_uri)`` returns the scoring server as an ASGI app, to run with any ASGI
server or to mount inside another service::

    from fastapi import FastAPI
    from mltrail.serving import scoring_app

    service = FastAPI()
    service.mount("/churn", scoring_app("models:/churn@champion"))

The package is imported only by the ``mltrail models`` commands and by code that asks for it;
the tracking server never loads it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mltrail.client.tracking_client import TrackingClient
    from mltrail.serving.app import ScoringApp

__all__ = ["scoring_app"]


def scoring_app(
    model_uri: str,
    *,
    client: TrackingClient | None = None,
    allow_pickle: bool = False,
    trusted_types: tuple[str, ...] = (),
    watch: bool = False,
    watch_interval: float = 30.0,
    max_batch_rows: int | None = None,
    max_body_bytes: int | None = None,
    timeout: float | None = None,
) -> ScoringApp:
    """The scoring ASGI app for ``model_uri`` (a path, ``runs:/``, ``models:/``), loaded and
    checked now. ``runs:/`` and ``models:/`` URIs are looked up with ``client`` (default: a
    client of the current tracking URI). ``watch=True`` follows an alias as ``--watch`` does."""
    from mltrail.serving.app import ServeOptions
    from mltrail.serving.runner import ServeConfig, build_app, check_config, load

    defaults = ServeOptions()
    options = ServeOptions(
        max_batch_rows=defaults.max_batch_rows if max_batch_rows is None else max_batch_rows,
        max_body_bytes=defaults.max_body_bytes if max_body_bytes is None else max_body_bytes,
        timeout=defaults.timeout if timeout is None else timeout,
    )
    config = ServeConfig(
        model_uri=model_uri,
        options=options,
        allow_pickle=allow_pickle,
        trusted_types=tuple(trusted_types),
        watch=watch,
        watch_interval=watch_interval,
    )
    check_config(config)

    def make_client() -> TrackingClient:
        if client is not None:
            return client
        from mltrail.client.tracking_client import TrackingClient

        return TrackingClient()

    served = load(config, make_client=make_client)
    return build_app(served, config=config, make_client=make_client)
