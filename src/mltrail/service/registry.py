"""Model-registry use cases: names, versions, stages, aliases and where a version's files are.

A version's ``source`` is kept as given; its ``storage_location`` is where the files
really are, resolved once at registration: the logged model's artifact location for
``models:/m-...``, the registered version's for ``models:/Name/1`` or ``models:/Name@a``,
the run's artifact directory (or the logged model the run produced under that name)
for ``runs:/<run>/<path>``, and the URI itself otherwise.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence

from mltrail.artifacts.paths import check_stored_uri
from mltrail.entities import PagedList
from mltrail.errors import InvalidParameterValue, ResourceDoesNotExist
from mltrail.model_entities import (
    LoggedModel,
    ModelVersion,
    ModelVersionStage,
    RegisteredModel,
)
from mltrail.paging import decode_token, encode_token
from mltrail.service import validation as v
from mltrail.service.logged_models import LoggedModelService
from mltrail.service.model_sources import (
    LoggedModelSource,
    RegisteredSource,
    RunSource,
    parse_source,
)
from mltrail.service.registry_store import RegistryStore
from mltrail.service.registry_validation import (
    parse_version,
    validate_alias,
    validate_description,
    validate_model_name,
    validate_source,
    validate_tag,
    validate_tags,
)
from mltrail.tracking_api import TrackingAPI

MODEL_VERSIONS_TAG = "mlflow.modelVersions"
RUNS_SCHEME = "runs:/"
MAX_MODELS_PAGE = 1000
MAX_VERSIONS_PAGE = 200_000


def now_ms() -> int:
    return int(time.time() * 1000)


class RegistryService:
    def __init__(
        self,
        *,
        store: RegistryStore,
        tracking: TrackingAPI,
        logged_models: LoggedModelService,
        allowed_roots: Sequence[str] | None = None,
    ) -> None:
        """``allowed_roots``: where a version's files may be (a server passes its configured
        artifact roots, since it reads model files itself); None leaves it unrestricted, for
        a store on the caller's own machine."""
        self.store = store
        self.tracking = tracking
        self.logged_models = logged_models
        self.allowed_roots = None if allowed_roots is None else tuple(allowed_roots)

    def _checked_location(self, uri: str, *, what: str) -> str:
        if self.allowed_roots is None or uri.startswith(RUNS_SCHEME):
            # A runs:/ source left as it is names a run the server did not know; readers
            # resolve it through the tracking API, never as a location of their own.
            return uri
        return check_stored_uri(uri, allowed_roots=self.allowed_roots, what=what)

    # -- registered models ---------------------------------------------------
    def create_registered_model(
        self,
        name: str,
        *,
        tags: Mapping[str, str] | None = None,
        description: str | None = None,
        user_id: str | None = None,
    ) -> RegisteredModel:
        return self.store.create_registered_model(
            validate_model_name(name),
            now=now_ms(),
            tags=validate_tags(tags),
            description=validate_description(description),
            user_id=user_id,
        )

    def get_registered_model(self, name: str) -> RegisteredModel:
        return self.store.get_registered_model(validate_model_name(name))

    def rename_registered_model(self, name: str, *, new_name: str) -> RegisteredModel:
        return self.store.rename_registered_model(
            validate_model_name(name),
            new_name=validate_model_name(new_name, what="new_name"),
            now=now_ms(),
        )

    def update_registered_model(self, name: str, *, description: str | None) -> RegisteredModel:
        return self.store.update_registered_model(
            validate_model_name(name), description=validate_description(description), now=now_ms()
        )

    def delete_registered_model(self, name: str) -> None:
        self.store.delete_registered_model(validate_model_name(name))

    def set_registered_model_tag(self, name: str, *, key: str, value: str) -> None:
        validate_tag(key, value)
        self.store.set_registered_model_tag(
            validate_model_name(name), key=key, value=value, now=now_ms()
        )

    def delete_registered_model_tag(self, name: str, *, key: str) -> None:
        v.validate_key(key, what="key")
        self.store.delete_registered_model_tag(validate_model_name(name), key=key)

    def search_registered_models(
        self,
        *,
        filter_string: str | None = None,
        max_results: int | None = None,
        order_by: Sequence[str] = (),
        page_token: str | None = None,
        readable_by: tuple[int, int] | None = None,
    ) -> PagedList[RegisteredModel]:
        limit = v.validate_max_results(
            100 if max_results is None else max_results, limit=MAX_MODELS_PAGE
        )
        offset = decode_token(page_token)
        models, more = self.store.search_registered_models(
            filter_string=filter_string,
            order_by=v.validate_order_by(order_by),
            max_results=limit,
            offset=offset,
            readable_by=readable_by,
        )
        return PagedList(models, encode_token(offset + len(models)) if more else None)

    def get_latest_versions(self, name: str, *, stages: Sequence[str] = ()) -> list[ModelVersion]:
        parsed = [ModelVersionStage.parse(s) for s in stages]
        return self.store.get_latest_versions(validate_model_name(name), stages=parsed)

    # -- aliases -------------------------------------------------------------
    def set_registered_model_alias(self, name: str, *, alias: str, version: object) -> None:
        self.store.set_alias(
            validate_model_name(name),
            alias=validate_alias(alias),
            version=parse_version(version),
            now=now_ms(),
        )

    def delete_registered_model_alias(self, name: str, *, alias: str) -> None:
        self.store.delete_alias(
            validate_model_name(name), alias=validate_alias(alias, reserved_check=False)
        )

    def get_model_version_by_alias(self, name: str, *, alias: str) -> ModelVersion:
        return self.store.get_version_by_alias(
            validate_model_name(name), alias=validate_alias(alias, reserved_check=False)
        )

    # -- versions ------------------------------------------------------------
    def create_model_version(
        self,
        name: str,
        *,
        source: str,
        run_id: str | None = None,
        tags: Mapping[str, str] | None = None,
        run_link: str | None = None,
        description: str | None = None,
        model_id: str | None = None,
        user_id: str | None = None,
    ) -> ModelVersion:
        name = validate_model_name(name)
        source = validate_source(source)
        storage, run_id, model_id = self._resolve_source(
            source, run_id=run_id or None, model_id=model_id or None
        )
        # Checked after resolution: what is stored and later read is where the files are.
        storage = self._checked_location(storage, what="model version source")
        version = self.store.create_model_version(
            name,
            source=source,
            storage_location=storage,
            now=now_ms(),
            run_id=run_id,
            run_link=run_link or None,
            description=validate_description(description),
            tags=validate_tags(tags),
            model_id=model_id,
            user_id=user_id,
        )
        if model_id is not None:
            self._link_logged_model(model_id, name=name, version=version.version)
        return version

    def _resolve_source(
        self, source: str, *, run_id: str | None, model_id: str | None
    ) -> tuple[str, str | None, str | None]:
        logged: LoggedModel | None = None
        if model_id:
            logged = self.logged_models.get_logged_model(model_id)
        else:
            ref = parse_source(source)
            if isinstance(ref, LoggedModelSource):
                logged = self.logged_models.get_logged_model(ref.model_id)
            elif isinstance(ref, RegisteredSource):
                registered = self._resolve_registered(ref)
                return (
                    registered.storage_location,
                    run_id or registered.run_id,
                    registered.model_id,
                )
            elif isinstance(ref, RunSource):
                if run_id and run_id != ref.run_id:
                    raise InvalidParameterValue(
                        f"Invalid model version source: '{source}'. The run_id request "
                        "parameter must identify the resource that contains the source."
                    )
                try:
                    run = self.tracking.get_run(ref.run_id)
                except ResourceDoesNotExist:
                    # As MLflow: the version keeps its source and has no run link.
                    return source, ref.run_id, None
                run_id = run.info.run_id
                logged = self._logged_model_of_run(
                    run.info.experiment_id, run.info.run_id, ref.path
                )
                if logged is None:
                    base = run.info.artifact_uri.rstrip("/")
                    return (f"{base}/{ref.path}" if ref.path else base), run_id, None
        if logged is not None:
            return logged.artifact_location, run_id or logged.source_run_id, logged.model_id
        return source, run_id, None

    def _resolve_registered(self, ref: RegisteredSource) -> ModelVersion:
        if ref.alias is not None:
            return self.store.get_version_by_alias(ref.name, alias=ref.alias)
        assert ref.version is not None
        return self.store.get_model_version(ref.name, version=ref.version)

    def _logged_model_of_run(
        self, experiment_id: str, run_id: str, name: str
    ) -> LoggedModel | None:
        if not name:
            return None
        escaped = name.replace("'", "\\'")
        found = self.logged_models.search_logged_models(
            [experiment_id],
            filter_string=f"name = '{escaped}' AND source_run_id = '{run_id}'",
            max_results=1,
        )
        return found[0] if found else None

    def _link_logged_model(self, model_id: str, *, name: str, version: int) -> None:
        """Record the registration on the logged model, in MLflow's tag format."""
        model = self.logged_models.get_logged_model(model_id)
        try:
            links = json.loads(model.tags.get(MODEL_VERSIONS_TAG, "[]"))
            if not isinstance(links, list):
                links = []
        except ValueError:
            links = []
        # MLflow writes the version as a number; older mltrail rows hold it as a string.
        entry = {"name": name, "version": version}
        if not any(
            isinstance(link, dict)
            and (link.get("name"), str(link.get("version"))) == (name, str(version))
            for link in links
        ):
            links.append(entry)
        self.logged_models.set_logged_model_tags(
            model_id, tags={MODEL_VERSIONS_TAG: json.dumps(links)}
        )

    def get_model_version(self, name: str, *, version: object) -> ModelVersion:
        return self.store.get_model_version(
            validate_model_name(name), version=parse_version(version)
        )

    def get_model_version_download_uri(self, name: str, *, version: object) -> str:
        # Checked again when used: a row stored before the check, or under an old
        # configuration, must not send readers to a location outside the roots.
        location = self.get_model_version(name, version=version).storage_location
        return self._checked_location(location, what="model version location")

    def update_model_version(
        self, name: str, *, version: object, description: str | None
    ) -> ModelVersion:
        return self.store.update_model_version(
            validate_model_name(name),
            version=parse_version(version),
            description=validate_description(description),
            now=now_ms(),
        )

    def transition_model_version_stage(
        self, name: str, *, version: object, stage: str, archive_existing_versions: bool = False
    ) -> ModelVersion:
        return self.store.transition_stage(
            validate_model_name(name),
            version=parse_version(version),
            stage=ModelVersionStage.parse(stage),
            archive_existing=archive_existing_versions,
            now=now_ms(),
        )

    def delete_model_version(self, name: str, *, version: object) -> None:
        self.store.delete_model_version(
            validate_model_name(name), version=parse_version(version), now=now_ms()
        )

    def set_model_version_tag(self, name: str, *, version: object, key: str, value: str) -> None:
        validate_tag(key, value)
        self.store.set_model_version_tag(
            validate_model_name(name),
            version=parse_version(version),
            key=key,
            value=value,
            now=now_ms(),
        )

    def delete_model_version_tag(self, name: str, *, version: object, key: str) -> None:
        v.validate_key(key, what="key")
        self.store.delete_model_version_tag(
            validate_model_name(name), version=parse_version(version), key=key
        )

    def search_model_versions(
        self,
        *,
        filter_string: str | None = None,
        max_results: int | None = None,
        order_by: Sequence[str] = (),
        page_token: str | None = None,
        readable_by: tuple[int, int] | None = None,
    ) -> PagedList[ModelVersion]:
        limit = v.validate_max_results(
            10_000 if max_results is None else max_results, limit=MAX_VERSIONS_PAGE
        )
        offset = decode_token(page_token)
        versions, more = self.store.search_model_versions(
            filter_string=filter_string,
            order_by=v.validate_order_by(order_by),
            max_results=limit,
            offset=offset,
            readable_by=readable_by,
        )
        return PagedList(versions, encode_token(offset + len(versions)) if more else None)
