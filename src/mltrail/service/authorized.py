"""Services that check the current principal's permissions before every operation.

The server wraps its tracking, logged-model, registry and artifact services in these
classes when authentication is on. Checks use the ids a call actually operates on (not
the ids a route claims in its URL), so a request whose URL and body name different
resources cannot slip past. A resource the caller may not read answers exactly like a
missing one; searches are filtered inside the SQL query.

Fail closed: a method without a rule here is refused to anyone but admins.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

from mltrail.entities import (
    Experiment,
    FileInfo,
    Metric,
    MetricSummary,
    PagedList,
    Param,
    Run,
    RunInfo,
    RunStatus,
    RunTag,
    ViewType,
)
from mltrail.errors import (
    InvalidParameterValue,
    PermissionDenied,
    ResourceDoesNotExist,
    Unauthenticated,
)
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
    current_principal,
    experiment_not_found,
    logged_model_not_found,
    parse_experiment_key,
    registered_model_not_found,
    run_not_found,
)
from mltrail.service.registry_validation import validate_model_name, validate_source
from mltrail.tracking_api import TrackingAPI


def principal() -> Principal:
    found = current_principal()
    if found is None:
        raise Unauthenticated("Authentication required")
    return found


def _refuse_unknown(name: str) -> PermissionDenied:
    return PermissionDenied(f"Permission denied ({name} has no authorization rule)")


class AuthorizedTracking:
    """A :class:`TrackingAPI` that checks experiment permissions first."""

    def __init__(self, inner: TrackingAPI, *, permissions: PermissionService) -> None:
        self.inner = inner
        self.permissions = permissions

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        if not principal().is_admin:
            raise _refuse_unknown(name)
        return getattr(self.inner, name)

    # -- helpers ------------------------------------------------------------
    def _experiment(self, experiment_id: object, need: Level) -> None:
        self.permissions.require_experiment(principal(), experiment_id, need)

    def _run(self, run_id: str, need: Level) -> None:
        who = principal()
        if who.is_admin:
            return
        store = self.permissions.store
        experiment_id = store.experiment_of_run(str(run_id)) if isinstance(run_id, str) else None
        if experiment_id is None:
            return  # the service reports the missing run (or the bad id) itself
        have = self.permissions.experiment_level(who, experiment_id)
        if have < Level.READ:
            raise run_not_found(run_id)
        if have < need:
            raise PermissionDenied("Permission denied")

    # -- experiments ----------------------------------------------------------
    def create_experiment(
        self,
        name: str,
        *,
        artifact_location: str | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> str:
        who = principal()
        experiment_id = self.inner.create_experiment(
            name, artifact_location=artifact_location, tags=tags
        )
        self.permissions.grant_creator_experiment(who, experiment_id)
        return experiment_id

    def get_experiment(self, experiment_id: str) -> Experiment:
        self._experiment(experiment_id, Level.READ)
        return self.inner.get_experiment(experiment_id)

    def get_experiment_by_name(self, name: str) -> Experiment | None:
        who = principal()
        found = self.inner.get_experiment_by_name(name)
        if found is None or who.is_admin:
            return found
        key = parse_experiment_key(found.experiment_id)
        if key is None or self.permissions.experiment_level(who, key) < Level.READ:
            return None
        return found

    def search_experiments(
        self,
        *,
        view_type: ViewType = ViewType.ACTIVE_ONLY,
        max_results: int = 1000,
        filter_string: str = "",
        order_by: Sequence[str] = (),
        page_token: str | None = None,
    ) -> PagedList[Experiment]:
        readable_by = self.permissions.readable_by(principal())
        search: Callable[..., PagedList[Experiment]] = self.inner.search_experiments
        kwargs: dict[str, Any] = {}
        if readable_by is not None:
            kwargs["readable_by"] = readable_by
        return search(
            view_type=view_type,
            max_results=max_results,
            filter_string=filter_string,
            order_by=order_by,
            page_token=page_token,
            **kwargs,
        )

    def rename_experiment(self, experiment_id: str, *, new_name: str) -> None:
        self._experiment(experiment_id, Level.EDIT)
        self.inner.rename_experiment(experiment_id, new_name=new_name)

    def delete_experiment(self, experiment_id: str) -> None:
        self._experiment(experiment_id, Level.MANAGE)
        self.inner.delete_experiment(experiment_id)

    def restore_experiment(self, experiment_id: str) -> None:
        self._experiment(experiment_id, Level.MANAGE)
        self.inner.restore_experiment(experiment_id)

    def set_experiment_tag(self, experiment_id: str, *, key: str, value: str) -> None:
        self._experiment(experiment_id, Level.EDIT)
        self.inner.set_experiment_tag(experiment_id, key=key, value=value)

    def delete_experiment_tag(self, experiment_id: str, *, key: str) -> None:
        self._experiment(experiment_id, Level.EDIT)
        self.inner.delete_experiment_tag(experiment_id, key=key)

    # -- runs -------------------------------------------------------------------
    def create_run(
        self,
        experiment_id: str,
        *,
        start_time: int | None = None,
        tags: Mapping[str, str] | None = None,
        run_name: str | None = None,
        user_id: str | None = None,
        run_id: str | None = None,
    ) -> Run:
        self._experiment(experiment_id, Level.EDIT)
        if run_id is not None:
            # Resuming a run by id must not reach into someone else's run.
            self._run(run_id, Level.EDIT)
        return self.inner.create_run(
            experiment_id,
            start_time=start_time,
            tags=tags,
            run_name=run_name,
            user_id=user_id,
            run_id=run_id,
        )

    def get_run(self, run_id: str) -> Run:
        self._run(run_id, Level.READ)
        return self.inner.get_run(run_id)

    def update_run(
        self,
        run_id: str,
        *,
        status: RunStatus | None = None,
        end_time: int | None = None,
        run_name: str | None = None,
    ) -> RunInfo:
        self._run(run_id, Level.EDIT)
        return self.inner.update_run(run_id, status=status, end_time=end_time, run_name=run_name)

    def delete_run(self, run_id: str) -> None:
        self._run(run_id, Level.MANAGE)
        self.inner.delete_run(run_id)

    def restore_run(self, run_id: str) -> None:
        self._run(run_id, Level.MANAGE)
        self.inner.restore_run(run_id)

    def search_runs(
        self,
        experiment_ids: Sequence[str],
        *,
        filter_string: str = "",
        view_type: ViewType = ViewType.ACTIVE_ONLY,
        max_results: int = 1000,
        order_by: Sequence[str] = (),
        page_token: str | None = None,
    ) -> PagedList[Run]:
        ids = [experiment_ids] if isinstance(experiment_ids, str) else list(experiment_ids)
        who = principal()
        if not who.is_admin:
            # Narrowing the experiment list keeps the filter inside the query.
            ids = [e for e in ids if self._readable_experiment(who, e)]
            if not ids:
                return PagedList([], None)
        return self.inner.search_runs(
            ids,
            filter_string=filter_string,
            view_type=view_type,
            max_results=max_results,
            order_by=order_by,
            page_token=page_token,
        )

    def _readable_experiment(self, who: Principal, experiment_id: object) -> bool:
        key = parse_experiment_key(experiment_id)
        return key is not None and self.permissions.experiment_level(who, key) >= Level.READ

    # -- logging ----------------------------------------------------------------
    def log_batch(
        self,
        run_id: str,
        *,
        metrics: Sequence[Metric] = (),
        params: Sequence[Param] = (),
        tags: Sequence[RunTag] = (),
        idempotency_key: str | None = None,
    ) -> None:
        self._run(run_id, Level.EDIT)
        self.inner.log_batch(
            run_id, metrics=metrics, params=params, tags=tags, idempotency_key=idempotency_key
        )

    def delete_tag(self, run_id: str, *, key: str) -> None:
        self._run(run_id, Level.EDIT)
        self.inner.delete_tag(run_id, key=key)

    def get_metric_history(
        self,
        run_id: str,
        *,
        key: str,
        max_results: int | None = None,
        page_token: str | None = None,
    ) -> PagedList[Metric]:
        self._run(run_id, Level.READ)
        return self.inner.get_metric_history(
            run_id, key=key, max_results=max_results, page_token=page_token
        )

    def get_metric_history_sampled(
        self,
        run_id: str,
        *,
        key: str,
        max_points: int,
        start_step: int | None = None,
        end_step: int | None = None,
    ) -> list[Metric]:
        self._run(run_id, Level.READ)
        return self.inner.get_metric_history_sampled(
            run_id, key=key, max_points=max_points, start_step=start_step, end_step=end_step
        )

    def get_metric_summaries(self, run_id: str) -> list[MetricSummary]:
        self._run(run_id, Level.READ)
        return self.inner.get_metric_summaries(run_id)

    def get_metric_summaries_of_runs(
        self, run_ids: Sequence[str]
    ) -> dict[str, list[MetricSummary]]:
        for run_id in run_ids:
            self._run(run_id, Level.READ)
        return self.inner.get_metric_summaries_of_runs(run_ids)


class AuthorizedLoggedModels:
    """The logged-model service, checked against the model's experiment."""

    def __init__(self, inner: Any, *, permissions: PermissionService) -> None:
        self.inner = inner
        self.permissions = permissions

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        if not principal().is_admin:
            raise _refuse_unknown(name)
        return getattr(self.inner, name)

    def _model(self, model_id: str, need: Level) -> None:
        who = principal()
        if who.is_admin:
            return
        experiment_id = self.permissions.store.experiment_of_logged_model(str(model_id))
        if experiment_id is None:
            return
        have = self.permissions.experiment_level(who, experiment_id)
        if have < Level.READ:
            raise logged_model_not_found(model_id)
        if have < need:
            raise PermissionDenied("Permission denied")

    def create_logged_model(self, experiment_id: str, **kwargs: Any) -> Any:
        self.permissions.require_experiment(principal(), experiment_id, Level.EDIT)
        return self.inner.create_logged_model(experiment_id, **kwargs)

    def get_logged_model(self, model_id: str, **kwargs: Any) -> Any:
        self._model(model_id, Level.READ)
        return self.inner.get_logged_model(model_id, **kwargs)

    def finalize_logged_model(self, model_id: str, **kwargs: Any) -> Any:
        self._model(model_id, Level.EDIT)
        return self.inner.finalize_logged_model(model_id, **kwargs)

    def set_logged_model_tags(self, model_id: str, **kwargs: Any) -> Any:
        self._model(model_id, Level.EDIT)
        return self.inner.set_logged_model_tags(model_id, **kwargs)

    def delete_logged_model_tag(self, model_id: str, **kwargs: Any) -> Any:
        self._model(model_id, Level.EDIT)
        return self.inner.delete_logged_model_tag(model_id, **kwargs)

    def log_logged_model_params(self, model_id: str, **kwargs: Any) -> Any:
        self._model(model_id, Level.EDIT)
        return self.inner.log_logged_model_params(model_id, **kwargs)

    def log_model_metrics(self, model_id: str, **kwargs: Any) -> Any:
        self._model(model_id, Level.EDIT)
        return self.inner.log_model_metrics(model_id, **kwargs)

    def delete_logged_model(self, model_id: str) -> Any:
        self._model(model_id, Level.MANAGE)
        return self.inner.delete_logged_model(model_id)

    def search_logged_models(self, experiment_ids: Sequence[str], **kwargs: Any) -> Any:
        who = principal()
        ids = [experiment_ids] if isinstance(experiment_ids, str) else list(experiment_ids)
        if not who.is_admin:
            ids = [
                e
                for e in ids
                if (key := parse_experiment_key(e)) is not None
                and self.permissions.experiment_level(who, key) >= Level.READ
            ]
            if not ids:
                return PagedList([], None)
        return self.inner.search_logged_models(ids, **kwargs)


# Registry methods by the level they need on the model named by their first argument.
_REGISTRY_LEVELS: dict[str, Level] = {
    "get_registered_model": Level.READ,
    "get_latest_versions": Level.READ,
    "get_model_version": Level.READ,
    "get_model_version_download_uri": Level.READ,
    "get_model_version_by_alias": Level.READ,
    "rename_registered_model": Level.EDIT,
    "update_registered_model": Level.EDIT,
    "set_registered_model_tag": Level.EDIT,
    "delete_registered_model_tag": Level.EDIT,
    "set_registered_model_alias": Level.EDIT,
    "update_model_version": Level.EDIT,
    "transition_model_version_stage": Level.EDIT,
    "set_model_version_tag": Level.EDIT,
    "delete_model_version_tag": Level.EDIT,
    "delete_registered_model": Level.MANAGE,
    "delete_model_version": Level.MANAGE,
    "delete_registered_model_alias": Level.MANAGE,
}


# Reads whose answer for a missing model names the version, not the model.
_VERSION_FIRST = frozenset({"get_model_version", "get_model_version_download_uri"})


def model_version_not_found(name: object, version: object) -> ResourceDoesNotExist:
    return ResourceDoesNotExist(f"Model Version (name={name}, version={version}) not found")


class AuthorizedRegistry:
    """The model-registry service, checked against per-registered-model permissions."""

    def __init__(self, inner: Any, *, permissions: PermissionService) -> None:
        self.inner = inner
        self.permissions = permissions

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        level = _REGISTRY_LEVELS.get(name)
        method = getattr(self.inner, name)
        if level is None:
            if not principal().is_admin:
                raise _refuse_unknown(name)
            return method

        def checked(model_name: str, *args: Any, **kwargs: Any) -> Any:
            who = principal()
            if not who.is_admin and isinstance(model_name, str):
                try:
                    self.permissions.require_registered_model(who, model_name, level)
                except ResourceDoesNotExist:
                    if name in _VERSION_FIRST and "version" in kwargs:
                        # These answer a missing model with the version's message.
                        raise model_version_not_found(model_name, kwargs["version"]) from None
                    raise
            return method(model_name, *args, **kwargs)

        return checked

    def create_registered_model(self, name: str, **kwargs: Any) -> Any:
        who = principal()
        created = self.inner.create_registered_model(name, **kwargs)
        self.permissions.grant_creator_registered_model(who, created.name)
        return created

    def create_model_version(self, name: str, **kwargs: Any) -> Any:
        """EDIT on the registered model, and READ on whatever the source names.

        Without the second check a user could register (and then read through the
        registry) a logged model or run files of an experiment they may not see.
        """
        who = principal()
        if not who.is_admin:
            validate_model_name(name)
            source = validate_source(kwargs.get("source"))
            model_id = self.permissions.store.registered_model_id(name)
            if model_id is None:
                # Missing and hidden models answer alike, before anything about the source.
                raise registered_model_not_found(name)
            have = self.permissions.registered_model_level(who, model_id)
            if have < Level.READ:
                raise registered_model_not_found(name)
            if have < Level.EDIT:
                raise PermissionDenied("Permission denied")
            self._require_readable_source(
                who,
                source=source,
                run_id=kwargs.get("run_id") or None,
                model_id=kwargs.get("model_id") or None,
            )
        return self.inner.create_model_version(name, **kwargs)

    def _require_readable_source(
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

    def search_registered_models(self, **kwargs: Any) -> Any:
        readable_by = self.permissions.readable_by(principal())
        if readable_by is not None:
            kwargs["readable_by"] = readable_by
        return self.inner.search_registered_models(**kwargs)

    def search_model_versions(self, **kwargs: Any) -> Any:
        readable_by = self.permissions.readable_by(principal())
        if readable_by is not None:
            kwargs["readable_by"] = readable_by
        return self.inner.search_model_versions(**kwargs)


class AuthorizedArtifacts:
    """Proxied artifacts: the first path segment is the experiment id."""

    def __init__(self, inner: Any, *, permissions: PermissionService) -> None:
        self.inner = inner
        self.permissions = permissions

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        if not principal().is_admin:
            raise _refuse_unknown(name)
        return getattr(self.inner, name)

    @property
    def destination(self) -> Any:
        # Only admins reach the raw store; the UI reaches it after a run read check.
        return self.inner.destination

    def _check(self, path: str, need: Level) -> None:
        who = principal()
        if who.is_admin:
            return
        first = str(path).strip("/").split("/", 1)[0]
        key = parse_experiment_key(first)
        missing = ResourceDoesNotExist(f"Artifact {str(path).strip('/')!r} does not exist")
        if key is None:
            raise missing
        have = self.permissions.experiment_level(who, key)
        if have < Level.READ:
            raise missing
        if have < need:
            raise PermissionDenied("Permission denied")

    def put(self, path: str, chunks: Iterable[bytes]) -> int:
        self._check(path, Level.EDIT)
        size: int = self.inner.put(path, chunks)
        return size

    def open(
        self, path: str, start: int = 0, end: int | None = None
    ) -> tuple[Iterator[bytes], int, str]:
        self._check(path, Level.READ)
        opened: tuple[Iterator[bytes], int, str] = self.inner.open(path, start, end)
        return opened

    def list(self, path: str = "") -> list[FileInfo]:
        who = principal()
        if not who.is_admin and not str(path).strip("/"):
            # The root lists experiment folders: show only the readable ones.
            entries: list[FileInfo] = self.inner.list(path)
            return [e for e in entries if self._readable_folder(who, e.path)]
        self._check(path, Level.READ)
        found: list[FileInfo] = self.inner.list(path)
        return found

    def _readable_folder(self, who: Principal, path: str) -> bool:
        key = parse_experiment_key(path.strip("/").split("/", 1)[0])
        return key is not None and self.permissions.experiment_level(who, key) >= Level.READ

    def delete(self, path: str) -> None:
        self._check(path, Level.MANAGE)
        self.inner.delete(path)


__all__ = [
    "AuthorizedArtifacts",
    "AuthorizedLoggedModels",
    "AuthorizedRegistry",
    "AuthorizedTracking",
    "experiment_not_found",
    "registered_model_not_found",
]
