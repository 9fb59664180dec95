"""The tracking service, checked against experiment permissions."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from mltrail.entities import (
    Experiment,
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
from mltrail.errors import PermissionDenied, ResourceAlreadyExists
from mltrail.service.authorized.principal import AdminUnlessChecked, principal
from mltrail.service.permission_messages import hidden_experiment
from mltrail.service.permissions import (
    Level,
    Principal,
    parse_experiment_key,
    run_not_found,
)
from mltrail.service.tracking import USER_TAG
from mltrail.tracking_api import MetricColumns, TrackingAPI


class AuthorizedTracking(AdminUnlessChecked):
    """A :class:`TrackingAPI` that checks experiment permissions first."""

    inner: TrackingAPI

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
        if artifact_location and not who.is_admin:
            # The server reads a run's files from its experiment's location (the dashboard's
            # artifact pages, a registered version's MLmodel preview): a location chosen by
            # a user could point at another experiment's folder or at the server's own files.
            raise PermissionDenied(
                "Permission denied: only admins may choose an experiment's artifact location; "
                "create the experiment without one and its files go to the server's artifact "
                "store."
            )
        try:
            experiment_id = self.inner.create_experiment(
                name, artifact_location=artifact_location, tags=tags
            )
        except ResourceAlreadyExists:
            # "Already exists" about an experiment the caller cannot see sends them looking
            # for it in vain: say it is a permission problem, and who can solve it.
            existing = self.inner.get_experiment_by_name(name)
            if existing is not None and not self._readable(who, existing):
                raise hidden_experiment(who, name) from None
            raise
        self.permissions.grant_creator_experiment(who, experiment_id)
        return experiment_id

    def get_experiment(self, experiment_id: str) -> Experiment:
        self._experiment(experiment_id, Level.READ)
        return self.inner.get_experiment(experiment_id)

    def get_experiment_by_name(self, name: str) -> Experiment | None:
        """The experiment, or None when no experiment has that name. One hidden from the
        caller is a permission error that says who can share it: the name is all it
        discloses, and creating an experiment of that name would disclose as much."""
        who = principal()
        found = self.inner.get_experiment_by_name(name)
        if found is not None and not self._readable(who, found):
            raise hidden_experiment(who, name)
        return found

    def _readable(self, who: Principal, experiment: Experiment) -> bool:
        if who.is_admin:
            return True
        key = parse_experiment_key(experiment.experiment_id)
        return key is not None and self.permissions.experiment_level(who, key) >= Level.READ

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
        who = principal()
        if not who.is_admin:
            # A run is its author's, whatever the request claims; admins may record runs on
            # someone's behalf (an import of another tracker's runs, say).
            user_id = who.username
            if tags and USER_TAG in tags:
                tags = {**tags, USER_TAG: who.username}
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
        metrics: MetricColumns | None = None,
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
