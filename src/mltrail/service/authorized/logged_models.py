"""The logged-model service, checked against the permissions of each model's experiment."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from mltrail.entities import PagedList
from mltrail.errors import PermissionDenied
from mltrail.service.authorized.principal import AdminUnlessChecked, principal
from mltrail.service.permissions import (
    Level,
    logged_model_not_found,
    parse_experiment_key,
)


class AuthorizedLoggedModels(AdminUnlessChecked):
    """The logged-model service, checked against the model's experiment."""

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
