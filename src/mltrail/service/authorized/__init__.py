"""Services that check the current principal's permissions before every operation.

The server wraps its tracking, logged-model, registry and artifact services in these
classes when authentication is on. Checks use the ids a call actually operates on (not
the ids a route claims in its URL), so a request whose URL and body name different
resources cannot slip past. A resource the caller may not read answers exactly like a
missing one; searches are filtered inside the SQL query.

Fail closed: a method without a rule here is refused to anyone but admins.
"""

from __future__ import annotations

from mltrail.service.authorized.artifacts import AuthorizedArtifacts
from mltrail.service.authorized.dashboard import AuthorizedDashboard
from mltrail.service.authorized.logged_models import AuthorizedLoggedModels
from mltrail.service.authorized.principal import principal
from mltrail.service.authorized.registry import AuthorizedRegistry
from mltrail.service.authorized.registry_sources import model_version_not_found
from mltrail.service.authorized.tracking import AuthorizedTracking
from mltrail.service.permissions import experiment_not_found, registered_model_not_found

__all__ = [
    "AuthorizedArtifacts",
    "AuthorizedDashboard",
    "AuthorizedLoggedModels",
    "AuthorizedRegistry",
    "AuthorizedTracking",
    "experiment_not_found",
    "model_version_not_found",
    "principal",
    "registered_model_not_found",
]
