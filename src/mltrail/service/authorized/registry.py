"""The model-registry service, checked against per-registered-model permissions."""

from __future__ import annotations

from typing import Any

from mltrail.errors import PermissionDenied, ResourceDoesNotExist
from mltrail.service.authorized.principal import AdminUnlessChecked, principal, refuse_unknown
from mltrail.service.authorized.registry_sources import SourceChecks, model_version_not_found
from mltrail.service.permissions import Level, PermissionService, registered_model_not_found
from mltrail.service.registry_validation import validate_model_name, validate_source

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


class AuthorizedRegistry(AdminUnlessChecked):
    """The model-registry service, checked against per-registered-model permissions."""

    def __init__(self, inner: Any, *, permissions: PermissionService) -> None:
        super().__init__(inner, permissions=permissions)
        self.sources = SourceChecks(permissions=permissions, inner=inner)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        level = _REGISTRY_LEVELS.get(name)
        method = getattr(self.inner, name)
        if level is None:
            if not principal().is_admin:
                raise refuse_unknown(name)
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
            self.sources.require_readable(
                who,
                source=source,
                run_id=kwargs.get("run_id") or None,
                model_id=kwargs.get("model_id") or None,
            )
        return self.inner.create_model_version(name, **kwargs)

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
