"""Whether the caller may read what a model version's source names.

Registering a version makes the source's files reachable through the registry (its
download URI, the dashboard's MLmodel preview), so the caller must be able to read the
logged model, run, registered version or experiment folder the source points at. A
source they may not read answers exactly like a missing one.
"""

from __future__ import annotations

from typing import Any

from mltrail.errors import InvalidParameterValue, PermissionDenied, ResourceDoesNotExist
from mltrail.service.model_sources import (
    LoggedModelSource,
    RegisteredSource,
    RunSource,
    is_under,
    parse_source,
    proxied_experiment,
)
from mltrail.service.permissions import (
    Level,
    PermissionService,
    Principal,
    experiment_not_found,
    logged_model_not_found,
    parse_experiment_key,
    registered_model_not_found,
    run_not_found,
)


def model_version_not_found(name: object, version: object) -> ResourceDoesNotExist:
    return ResourceDoesNotExist(f"Model Version (name={name}, version={version}) not found")


class SourceChecks:
    """Checks over the grant store; ``inner`` is the registry service (its ``tracking``)."""

    def __init__(self, *, permissions: PermissionService, inner: Any) -> None:
        self.permissions = permissions
        self.inner = inner

    def require_readable(
        self, who: Principal, *, source: str, run_id: str | None, model_id: str | None
    ) -> None:
        if model_id is not None:
            self._require_logged_model(who, str(model_id))
        if run_id is not None:
            self._require_run(who, str(run_id))
        try:
            ref = parse_source(source)
        except InvalidParameterValue:
            if model_id is not None:
                return  # the registry uses the model id and keeps the source as text
            raise
        if isinstance(ref, LoggedModelSource):
            self._require_logged_model(who, ref.model_id)
        elif isinstance(ref, RegisteredSource):
            self._require_registered_source(who, ref)
        elif isinstance(ref, RunSource):
            self._require_run(who, ref.run_id)
        else:
            self._require_uri(who, ref.uri, run_id=run_id)

    def _require_logged_model(self, who: Principal, model_id: str) -> None:
        experiment_id = self.permissions.store.experiment_of_logged_model(model_id)
        if (
            experiment_id is None
            or self.permissions.experiment_level(who, experiment_id) < Level.READ
        ):
            raise logged_model_not_found(model_id)

    def _require_run(self, who: Principal, run_id: str) -> None:
        experiment_id = self.permissions.store.experiment_of_run(run_id)
        if (
            experiment_id is None
            or self.permissions.experiment_level(who, experiment_id) < Level.READ
        ):
            raise run_not_found(run_id)

    def _require_registered_source(self, who: Principal, ref: RegisteredSource) -> None:
        model_id = self.permissions.store.registered_model_id(ref.name)
        if model_id is None or self.permissions.registered_model_level(who, model_id) < Level.READ:
            # The registry's own answers for a missing model, by version or by alias.
            if ref.version is not None:
                raise model_version_not_found(ref.name, ref.version)
            raise registered_model_not_found(ref.name)

    def _require_uri(self, who: Principal, uri: str, *, run_id: str | None) -> None:
        folder = proxied_experiment(uri)
        if folder is not None:
            key = parse_experiment_key(folder)
            if key is None or self.permissions.experiment_level(who, key) < Level.READ:
                raise experiment_not_found(folder)
            # A readable id may still be unused: its folder would become the next
            # experiment's, so it must exist (this answers not-found otherwise).
            self.inner.tracking.get_experiment(str(key))
            return
        if run_id is not None and is_under(
            uri, self.inner.tracking.get_run(run_id).info.artifact_uri
        ):
            return  # a folder of a run the caller may read (already checked)
        raise PermissionDenied(
            f"Permission denied: only admins may register a model version from the storage "
            f"location '{uri}'. Register a logged model (models:/<model_id>), a run's folder "
            "(runs:/<run_id>/<path>) or a path under the server's artifacts "
            "(mlflow-artifacts:/<experiment_id>/...)."
        )
