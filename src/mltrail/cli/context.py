"""What every command gets from the top-level options: the tracking URI and a client.

The client (and through it the store) is built on first use, inside a command, so that
``mltrail --help`` and command help never import SQLAlchemy or the service layer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from mltrail.client.tracking_client import TrackingClient


@dataclass
class CliState:
    tracking_uri: str | None = None
    debug: bool = False
    _client: TrackingClient | None = field(default=None, repr=False)

    def resolved_uri(self) -> str:
        from mltrail.client.uris import resolve_tracking_uri

        return resolve_tracking_uri(self.tracking_uri)

    def client(self) -> TrackingClient:
        if self._client is None:
            from mltrail.client.tracking_client import TrackingClient

            self._client = TrackingClient(tracking_uri=self.resolved_uri())
        return self._client


pass_state = click.make_pass_decorator(CliState, ensure=True)
