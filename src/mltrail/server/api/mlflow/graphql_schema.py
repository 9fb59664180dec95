"""The GraphQL schema MLflow's web UI queries (``mlflow/server/graphql`` of MLflow 3.17.2).

Type, field and input names are MLflow's, so the UI's queries validate unchanged. Every
resolver answers through the REST route of the same operation (:func:`invoke`): the
same field checks, permission-checked services and wire shapes. Only the web UI's
operations are served: runs (with their experiment and model versions), run search,
experiments, metric history by interval, artifact listing, model-version search and
dataset search.

Imported on the first ``/graphql`` request: graphene takes about a second to load.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import graphene
from graphene.types.resolver import dict_or_attr_resolver, set_default_resolver
from graphql import (
    DirectiveLocation,
    GraphQLArgument,
    GraphQLDirective,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLString,
)
from graphql.language.ast import IntValueNode

from mltrail.server.api.mlflow import (
    artifacts,
    datasets,
    experiments,
    metric_history,
    registry,
    runs,
)
from mltrail.server.api.mlflow.routing import Args, Call, HandlerResult

# The UI tags its queries with @component(name: ...).
ComponentDirective = GraphQLDirective(
    name="component",
    locations=[DirectiveLocation.QUERY, DirectiveLocation.MUTATION],
    args={"name": GraphQLArgument(GraphQLNonNull(GraphQLString))},
)


def invoke(info: Any, handler: Callable[[Call], HandlerResult], data: Mapping[str, Any]) -> Any:
    """Answer through a REST route's handler (MLflow's resolvers skip the routes' field
    checks too, and call the same implementation)."""
    fields = {k: _plain(v) for k, v in data.items() if v is not None}
    return handler(Call(request=info.context["request"], args=Args(fields), path={}))


def proto_default_resolver(
    attname: str, default_value: Any, root: Any, info: Any, **args: Any
) -> Any:
    """A field's value, or the proto default MLflow answers for an unset one: an empty list,
    an empty message, "", 0 (the REST shapes leave unset fields out)."""
    value = dict_or_attr_resolver(attname, default_value, root, info, **args)
    if value is not None or attname == "apiError":
        return value
    kind = info.return_type
    if isinstance(kind, GraphQLNonNull):
        kind = kind.of_type
    if isinstance(kind, GraphQLList):
        return []
    if isinstance(kind, GraphQLObjectType):
        return {}
    return _SCALAR_DEFAULTS.get(getattr(kind, "name", ""))


_SCALAR_DEFAULTS: dict[str, Any] = {"String": "", "LongString": 0, "Float": 0.0, "Boolean": False}


def _plain(value: Any) -> Any:
    if isinstance(value, list):
        return [_plain(v) for v in value]
    name = getattr(value, "name", None)
    return name if isinstance(name, str) and not isinstance(value, str) else value


class LongString(graphene.Scalar):
    """Long converted to string to prevent truncation to max integer in JavaScript"""

    @staticmethod
    def serialize(value: Any) -> str:
        return str(value)

    @staticmethod
    def parse_literal(node: Any, _variables: Any = None) -> int | None:
        return int(node.value) if isinstance(node, IntValueNode) else None

    @staticmethod
    def parse_value(value: Any) -> int:
        return int(value)


class ErrorDetail(graphene.ObjectType):
    field = graphene.String()
    message = graphene.String()


class ApiError(graphene.ObjectType):
    code = graphene.String()
    message = graphene.String()
    help_url = graphene.String()
    trace_id = graphene.String()
    error_details = graphene.List(ErrorDetail)


class MlflowRunStatus(graphene.Enum):
    RUNNING = 1
    SCHEDULED = 2
    FINISHED = 3
    FAILED = 4
    KILLED = 5


class MlflowViewType(graphene.Enum):
    ACTIVE_ONLY = 1
    DELETED_ONLY = 2
    ALL = 3


class MlflowModelVersionStatus(graphene.Enum):
    PENDING_REGISTRATION = 1
    FAILED_REGISTRATION = 2
    READY = 3


class KeyValue:
    key = graphene.String()
    value = graphene.String()


class MlflowRunTag(KeyValue, graphene.ObjectType):
    pass


class MlflowParam(KeyValue, graphene.ObjectType):
    pass


class MlflowInputTag(KeyValue, graphene.ObjectType):
    pass


class MlflowExperimentTag(KeyValue, graphene.ObjectType):
    pass


class MlflowModelVersionTag(KeyValue, graphene.ObjectType):
    pass


def _wire_double(value: Any) -> float:
    # The REST shapes send NaN as the string "NaN".
    return float(value) if isinstance(value, str) else value


class MlflowMetric(graphene.ObjectType):
    key = graphene.String()
    value = graphene.Float()
    timestamp = LongString()
    step = LongString()
    dataset_name = graphene.String()
    dataset_digest = graphene.String()
    model_id = graphene.String()
    run_id = graphene.String()

    @staticmethod
    def resolve_value(parent: Mapping[str, Any], info: Any) -> float | None:
        # NaN is not a GraphQL Float: MLflow answers it as null.
        value = _wire_double(parent.get("value"))
        return None if value is None or math.isnan(value) else value


class MlflowMetricWithRunId(graphene.ObjectType):
    key = graphene.String()
    value = graphene.Float()
    timestamp = LongString()
    step = LongString()
    run_id = graphene.String()

    @staticmethod
    def resolve_value(parent: Mapping[str, Any], info: Any) -> float | None:
        # Not nulled here, as in MLflow: a NaN point is a field error of its own.
        return _wire_double(parent.get("value"))


class MlflowRunData(graphene.ObjectType):
    metrics = graphene.List(graphene.NonNull(MlflowMetric))
    params = graphene.List(graphene.NonNull(MlflowParam))
    tags = graphene.List(graphene.NonNull(MlflowRunTag))


class MlflowRunInfo(graphene.ObjectType):
    run_id = graphene.String()
    run_uuid = graphene.String()
    run_name = graphene.String()
    experiment_id = graphene.String()
    user_id = graphene.String()
    status = graphene.Field(MlflowRunStatus)
    start_time = LongString()
    end_time = LongString()
    artifact_uri = graphene.String()
    lifecycle_stage = graphene.String()


class MlflowDataset(graphene.ObjectType):
    name = graphene.String()
    digest = graphene.String()
    source_type = graphene.String()
    source = graphene.String()
    schema = graphene.String()
    profile = graphene.String()


class MlflowDatasetInput(graphene.ObjectType):
    tags = graphene.List(graphene.NonNull(MlflowInputTag))
    dataset = graphene.Field(MlflowDataset)


class MlflowModelInput(graphene.ObjectType):
    model_id = graphene.String()


class MlflowRunInputs(graphene.ObjectType):
    dataset_inputs = graphene.List(graphene.NonNull(MlflowDatasetInput))
    model_inputs = graphene.List(graphene.NonNull(MlflowModelInput))


class MlflowModelOutput(graphene.ObjectType):
    model_id = graphene.String()
    step = LongString()


class MlflowRunOutputs(graphene.ObjectType):
    model_outputs = graphene.List(graphene.NonNull(MlflowModelOutput))


class MlflowExperiment(graphene.ObjectType):
    experiment_id = graphene.String()
    name = graphene.String()
    artifact_location = graphene.String()
    lifecycle_stage = graphene.String()
    last_update_time = LongString()
    creation_time = LongString()
    tags = graphene.List(graphene.NonNull(MlflowExperimentTag))
    effective_trace_archival_retention = graphene.String()
    workspace = graphene.String()


class MlflowModelVersion(graphene.ObjectType):
    name = graphene.String()
    version = graphene.String()
    creation_timestamp = LongString()
    last_updated_timestamp = LongString()
    user_id = graphene.String()
    current_stage = graphene.String()
    description = graphene.String()
    source = graphene.String()
    run_id = graphene.String()
    status = graphene.Field(MlflowModelVersionStatus)
    status_message = graphene.String()
    tags = graphene.List(graphene.NonNull(MlflowModelVersionTag))
    run_link = graphene.String()
    aliases = graphene.List(graphene.String)
    model_id = graphene.String()


class MlflowRunExtension(graphene.ObjectType):
    info = graphene.Field(MlflowRunInfo)
    data = graphene.Field(MlflowRunData)
    inputs = graphene.Field(MlflowRunInputs)
    outputs = graphene.Field(MlflowRunOutputs)
    experiment = graphene.Field(MlflowExperiment)
    model_versions = graphene.List(graphene.NonNull(MlflowModelVersion))

    @staticmethod
    def resolve_experiment(parent: Mapping[str, Any], info: Any) -> Any:
        experiment_id = parent["info"]["experiment_id"]
        found = invoke(info, experiments.get_experiment, {"experiment_id": experiment_id})
        return found["experiment"]

    @staticmethod
    def resolve_model_versions(parent: Mapping[str, Any], info: Any) -> Any:
        run_id = parent["info"]["run_id"]
        found = invoke(info, registry.search_model_versions, {"filter": f"run_id='{run_id}'"})
        return found.get("model_versions", [])


class MlflowGetRunResponse(graphene.ObjectType):
    run = graphene.Field(MlflowRunExtension)
    apiError = graphene.Field(ApiError)


class MlflowSearchRunsResponse(graphene.ObjectType):
    runs = graphene.List(graphene.NonNull(MlflowRunExtension))
    next_page_token = graphene.String()
    apiError = graphene.Field(ApiError)


class MlflowGetExperimentResponse(graphene.ObjectType):
    experiment = graphene.Field(MlflowExperiment)
    apiError = graphene.Field(ApiError)


class MlflowGetMetricHistoryBulkIntervalResponse(graphene.ObjectType):
    metrics = graphene.List(graphene.NonNull(MlflowMetricWithRunId))
    apiError = graphene.Field(ApiError)


class MlflowFileInfo(graphene.ObjectType):
    path = graphene.String()
    is_dir = graphene.Boolean()
    file_size = LongString()


class MlflowListArtifactsResponse(graphene.ObjectType):
    root_uri = graphene.String()
    files = graphene.List(graphene.NonNull(MlflowFileInfo))
    next_page_token = graphene.String()
    apiError = graphene.Field(ApiError)


class MlflowSearchModelVersionsResponse(graphene.ObjectType):
    model_versions = graphene.List(graphene.NonNull(MlflowModelVersion))
    next_page_token = graphene.String()
    apiError = graphene.Field(ApiError)


class MlflowDatasetSummary(graphene.ObjectType):
    experiment_id = graphene.String()
    name = graphene.String()
    digest = graphene.String()
    context = graphene.String()


class MlflowSearchDatasetsResponse(graphene.ObjectType):
    dataset_summaries = graphene.List(graphene.NonNull(MlflowDatasetSummary))
    apiError = graphene.Field(ApiError)


class MlflowGetExperimentInput(graphene.InputObjectType):
    experiment_id = graphene.String()


class MlflowGetRunInput(graphene.InputObjectType):
    run_id = graphene.String()
    run_uuid = graphene.String()


class MlflowSearchRunsInput(graphene.InputObjectType):
    experiment_ids = graphene.List(graphene.String)
    filter = graphene.String()
    run_view_type = graphene.Field(MlflowViewType)
    max_results = graphene.Int()
    order_by = graphene.List(graphene.String)
    page_token = graphene.String()


class MlflowGetMetricHistoryBulkIntervalInput(graphene.InputObjectType):
    run_ids = graphene.List(graphene.String)
    metric_key = graphene.String()
    start_step = graphene.Int()
    end_step = graphene.Int()
    max_results = graphene.Int()


class MlflowListArtifactsInput(graphene.InputObjectType):
    run_id = graphene.String()
    run_uuid = graphene.String()
    path = graphene.String()
    page_token = graphene.String()


class MlflowSearchModelVersionsInput(graphene.InputObjectType):
    filter = graphene.String()
    max_results = LongString()
    order_by = graphene.List(graphene.String)
    page_token = graphene.String()


class MlflowSearchDatasetsInput(graphene.InputObjectType):
    experiment_ids = graphene.List(graphene.String)


class Test(graphene.ObjectType):
    output = graphene.String(description="Echoes the input string")


def _fields(data: Any) -> dict[str, Any]:
    return dict(vars(data)) if data is not None else {}


def _search_runs(info: Any, data: Any) -> Any:
    return invoke(info, runs.search_runs, _fields(data))


def _search_datasets(info: Any, data: Any) -> Any:
    return invoke(info, datasets.search_datasets, _fields(data))


class Query(graphene.ObjectType):
    mlflow_get_experiment = graphene.Field(
        MlflowGetExperimentResponse, input=MlflowGetExperimentInput()
    )
    mlflow_get_metric_history_bulk_interval = graphene.Field(
        MlflowGetMetricHistoryBulkIntervalResponse, input=MlflowGetMetricHistoryBulkIntervalInput()
    )
    mlflow_get_run = graphene.Field(MlflowGetRunResponse, input=MlflowGetRunInput())
    mlflow_list_artifacts = graphene.Field(
        MlflowListArtifactsResponse, input=MlflowListArtifactsInput()
    )
    mlflow_search_model_versions = graphene.Field(
        MlflowSearchModelVersionsResponse, input=MlflowSearchModelVersionsInput()
    )
    mlflow_search_runs = graphene.Field(MlflowSearchRunsResponse, input=MlflowSearchRunsInput())
    test = graphene.Field(Test, input_string=graphene.String(), description="Simple echoing field")

    @staticmethod
    def resolve_mlflow_get_experiment(root: Any, info: Any, input: Any = None) -> Any:
        return invoke(info, experiments.get_experiment, _fields(input))

    @staticmethod
    def resolve_mlflow_get_metric_history_bulk_interval(
        root: Any,
        info: Any,
        input: Any = None,
    ) -> Any:
        return invoke(info, metric_history.get_metric_history_bulk_interval, _fields(input))

    @staticmethod
    def resolve_mlflow_get_run(root: Any, info: Any, input: Any = None) -> Any:
        return invoke(info, runs.get_run, _fields(input))

    @staticmethod
    def resolve_mlflow_list_artifacts(root: Any, info: Any, input: Any = None) -> Any:
        return invoke(info, artifacts.list_run_artifacts, _fields(input))

    @staticmethod
    def resolve_mlflow_search_model_versions(
        root: Any,
        info: Any,
        input: Any = None,
    ) -> Any:
        return invoke(info, registry.search_model_versions, _fields(input))

    @staticmethod
    def resolve_mlflow_search_runs(root: Any, info: Any, input: Any = None) -> Any:
        return _search_runs(info, input)

    @staticmethod
    def resolve_test(root: Any, info: Any, input_string: str | None = None) -> Any:
        return {"output": input_string}


class Mutation(graphene.ObjectType):
    mlflow_search_datasets = graphene.Field(
        MlflowSearchDatasetsResponse, input=MlflowSearchDatasetsInput()
    )
    mlflow_search_runs = graphene.Field(MlflowSearchRunsResponse, input=MlflowSearchRunsInput())
    testMutation = graphene.Field(
        Test, input_string=graphene.String(), description="Simple echoing field"
    )

    @staticmethod
    def resolve_mlflow_search_datasets(root: Any, info: Any, input: Any = None) -> Any:
        return _search_datasets(info, input)

    @staticmethod
    def resolve_mlflow_search_runs(root: Any, info: Any, input: Any = None) -> Any:
        return _search_runs(info, input)

    @staticmethod
    def resolve_testMutation(root: Any, info: Any, input_string: str | None = None) -> Any:
        return {"output": input_string}


# This process serves no other graphene schema.
set_default_resolver(proto_default_resolver)
schema = graphene.Schema(query=Query, mutation=Mutation, directives=[ComponentDirective])
