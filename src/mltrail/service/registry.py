"""Model-registry use cases: names, versions, stages, aliases and where a version's files are.

A version's ``source`` is kept as given; its ``storage_location`` is where the files
really are, resolved once at registration: the logged model's artifact location for
``models:/m-...``, the registered version's for ``models:/Name/1`` or ``models:/Name@a``,
the run's artifact directory (or the logged model the run produced under that name)
for ``runs:/<run>/<path>``, and the URI itself otherwise.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Mapping, Sequence
from typing import Protocol
from urllib.parse import unquote

from mltrail.entities import PagedList
from mltrail.errors import InvalidParameterValue
from mltrail.model_entities import (
    LoggedModel,
    ModelVersion,
    ModelVersionStage,
    RegisteredModel,
)
from mltrail.service import validation as v
from mltrail.service.logged_models import LoggedModelService
from mltrail.store.paging import decode_token, encode_token
from mltrail.tracking_api import TrackingAPI

MODEL_VERSIONS_TAG = "mlflow.modelVersions"
MAX_REGISTRY_TAG_VALUE = 100_000
MAX_DESCRIPTION = 100_000
MAX_MODELS_PAGE = 1000
MAX_VERSIONS_PAGE = 200_000
MAX_ALIAS_LENGTH = 255
_ALIAS = re.compile(r"^[\w\-]*$")
_VERSION_ALIAS = re.compile(r"^[vV]\d+$")


def now_ms() -> int:
    return int(time.time() * 1000)


class RegistryStore(Protocol):
    def create_registered_model(
        self,
        name: str,
        *,
        now: int,
        tags: Mapping[str, str] | None = None,
        description: str | None = None,
        user_id: str | None = None,
    ) -> RegisteredModel: ...

    def get_registered_model(self, name: str) -> RegisteredModel: ...

    def rename_registered_model(self, name: str, *, new_name: str, now: int) -> RegisteredModel: ...

    def update_registered_model(
        self, name: str, *, description: str | None, now: int
    ) -> RegisteredModel: ...

    def delete_registered_model(self, name: str) -> None: ...

    def set_registered_model_tag(self, name: str, *, key: str, value: str, now: int) -> None: ...

    def delete_registered_model_tag(self, name: str, *, key: str) -> None: ...

    def search_registered_models(
        self,
        *,
        filter_string: str | None = None,
        order_by: Sequence[str] = (),
        max_results: int = 100,
        offset: int = 0,
        readable_by: tuple[int, int] | None = None,
    ) -> tuple[list[RegisteredModel], bool]: ...

    def set_alias(self, name: str, *, alias: str, version: int, now: int) -> None: ...

    def delete_alias(self, name: str, *, alias: str) -> None: ...

    def get_version_by_alias(self, name: str, *, alias: str) -> ModelVersion: ...

    def create_model_version(
        self,
        name: str,
        *,
        source: str,
        storage_location: str,
        now: int,
        run_id: str | None = None,
        run_link: str | None = None,
        description: str | None = None,
        tags: Mapping[str, str] | None = None,
        model_id: str | None = None,
        user_id: str | None = None,
        status: str = "READY",
    ) -> ModelVersion: ...

    def get_model_version(self, name: str, *, version: int) -> ModelVersion: ...

    def update_model_version(
        self, name: str, *, version: int, description: str | None, now: int
    ) -> ModelVersion: ...

    def transition_stage(
        self,
        name: str,
        *,
        version: int,
        stage: ModelVersionStage,
        archive_existing: bool,
        now: int,
    ) -> ModelVersion: ...

    def delete_model_version(self, name: str, *, version: int, now: int) -> None: ...

    def set_model_version_tag(
        self, name: str, *, version: int, key: str, value: str, now: int
    ) -> None: ...

    def delete_model_version_tag(self, name: str, *, version: int, key: str) -> None: ...

    def get_latest_versions(
        self, name: str, *, stages: Sequence[ModelVersionStage] = ()
    ) -> list[ModelVersion]: ...

    def search_model_versions(
        self,
        *,
        filter_string: str | None = None,
        order_by: Sequence[str] = (),
        max_results: int = 10000,
        offset: int = 0,
        readable_by: tuple[int, int] | None = None,
    ) -> tuple[list[ModelVersion], bool]: ...


# -- validation ---------------------------------------------------------------
def validate_model_name(name: object, *, what: str = "name") -> str:
    if not isinstance(name, str) or not name.strip():
        raise InvalidParameterValue(
            f"Missing value for required parameter '{what}'. "
            "See the API docs for more information about request parameters."
        )
    if "/" in name or ":" in name:
        raise InvalidParameterValue(
            f"Invalid model name '{name}'. Names cannot contain '/' or ':'."
        )
    if name in (".", "..") or "\x00" in name or len(name) > 256:
        raise InvalidParameterValue(f"Invalid model name {name!r}.")
    return name


def parse_version(version: object) -> int:
    if isinstance(version, bool):
        raise InvalidParameterValue(f"Parameter 'version' must be an integer, got {version!r}.")
    if isinstance(version, int):
        number = version
    else:
        try:
            number = int(str(version).strip())
        except ValueError:
            raise InvalidParameterValue(
                f"Parameter 'version' must be an integer, got {version!r}."
            ) from None
    if number < 1:
        raise InvalidParameterValue(
            f"Parameter 'version' must be a positive integer, got {number}."
        )
    return number


def validate_alias(alias: object, *, reserved_check: bool = True) -> str:
    if not isinstance(alias, str) or not alias:
        raise InvalidParameterValue("Registered model alias name cannot be empty.")
    if not _ALIAS.match(alias):
        raise InvalidParameterValue(
            f"Invalid alias name: '{alias}'. Names may only contain alphanumerics, "
            "underscores (_), and dashes (-)."
        )
    if len(alias) > MAX_ALIAS_LENGTH:
        raise InvalidParameterValue(
            f"Registered model alias name exceeds the maximum length of {MAX_ALIAS_LENGTH}."
        )
    if reserved_check:
        if alias.lower() == "latest":
            raise InvalidParameterValue("'latest' alias name (case insensitive) is reserved.")
        if _VERSION_ALIAS.match(alias):
            raise InvalidParameterValue(f"Version alias name '{alias}' is reserved.")
    return alias


def _validate_tag(key: object, value: object) -> None:
    v.validate_key(key, what="key")
    if not isinstance(value, str):
        raise InvalidParameterValue(
            f"Invalid value {value!r} for tag '{key}': it must be a string."
        )
    if len(value) > MAX_REGISTRY_TAG_VALUE:
        raise InvalidParameterValue(
            f"The value of tag '{key}' exceeds the maximum length of {MAX_REGISTRY_TAG_VALUE}."
        )


def _tags(tags: Mapping[str, str] | None) -> dict[str, str]:
    for key, value in (tags or {}).items():
        _validate_tag(key, value)
    return dict(tags or {})


def _description(description: str | None) -> str | None:
    if description is not None and len(description) > MAX_DESCRIPTION:
        raise InvalidParameterValue(
            f"The description exceeds the maximum length of {MAX_DESCRIPTION} characters."
        )
    return description


def validate_source(source: object) -> str:
    """Reject NUL and any ``..`` segment, however percent-encoded (MLflow does the same)."""
    if not isinstance(source, str) or not source:
        raise InvalidParameterValue(
            "Missing value for required parameter 'source'. "
            "See the API docs for more information about request parameters."
        )
    decoded = source
    for _ in range(3):
        decoded = unquote(decoded)
    if "\x00" in decoded or ".." in re.split(r"[/\\]", decoded):
        raise InvalidParameterValue(f"Invalid model version source: '{source}'.")
    return source


class RegistryService:
    def __init__(
        self,
        *,
        store: RegistryStore,
        tracking: TrackingAPI,
        logged_models: LoggedModelService,
    ) -> None:
        self.store = store
        self.tracking = tracking
        self.logged_models = logged_models

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
            tags=_tags(tags),
            description=_description(description),
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
            validate_model_name(name), description=_description(description), now=now_ms()
        )

    def delete_registered_model(self, name: str) -> None:
        self.store.delete_registered_model(validate_model_name(name))

    def set_registered_model_tag(self, name: str, *, key: str, value: str) -> None:
        _validate_tag(key, value)
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
        version = self.store.create_model_version(
            name,
            source=source,
            storage_location=storage,
            now=now_ms(),
            run_id=run_id,
            run_link=run_link or None,
            description=_description(description),
            tags=_tags(tags),
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
        if source.startswith("models:/"):
            ref = source[len("models:/") :].strip("/")
            if logged is None and ref.startswith("m-") and "/" not in ref and "@" not in ref:
                logged = self.logged_models.get_logged_model(ref)
            if logged is None:
                registered = self._resolve_registered(ref, source=source)
                return (
                    registered.storage_location,
                    run_id or registered.run_id,
                    registered.model_id,
                )
        elif source.startswith("runs:/") and logged is None:
            run_ref, _, path = source[len("runs:/") :].partition("/")
            run = self.tracking.get_run(run_ref)
            run_id = run_id or run.info.run_id
            path = path.strip("/")
            logged = self._logged_model_of_run(run.info.experiment_id, run.info.run_id, path)
            if logged is None:
                base = run.info.artifact_uri.rstrip("/")
                return (f"{base}/{path}" if path else base), run_id, None
        if logged is not None:
            return logged.artifact_location, run_id or logged.source_run_id, logged.model_id
        return source, run_id, None

    def _resolve_registered(self, ref: str, *, source: str) -> ModelVersion:
        if "@" in ref:
            model_name, _, alias = ref.partition("@")
            return self.store.get_version_by_alias(model_name, alias=alias)
        model_name, _, version = ref.rpartition("/")
        if not model_name:
            raise InvalidParameterValue(
                f"Invalid model version source '{source}': expected models:/<model_id>, "
                "models:/<name>/<version> or models:/<name>@<alias>."
            )
        return self.store.get_model_version(model_name, version=parse_version(version))

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
        entry = {"name": name, "version": str(version)}
        if entry not in links:
            links.append(entry)
        self.logged_models.set_logged_model_tags(
            model_id, tags={MODEL_VERSIONS_TAG: json.dumps(links)}
        )

    def get_model_version(self, name: str, *, version: object) -> ModelVersion:
        return self.store.get_model_version(
            validate_model_name(name), version=parse_version(version)
        )

    def get_model_version_download_uri(self, name: str, *, version: object) -> str:
        return self.get_model_version(name, version=version).storage_location

    def update_model_version(
        self, name: str, *, version: object, description: str | None
    ) -> ModelVersion:
        return self.store.update_model_version(
            validate_model_name(name),
            version=parse_version(version),
            description=_description(description),
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
        _validate_tag(key, value)
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
