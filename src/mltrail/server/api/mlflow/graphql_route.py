"""``/graphql``: the queries of MLflow's web UI (schema in :mod:`.graphql_schema`).

The body is ``{"query", "variables", "operationName"}``; the answer is always
``{"data": ..., "errors": [messages] or null}`` with status 200, as MLflow sends it. Before a
query runs it is checked against MLflow's batching limits: at most 10 root fields, 10
aliases in one selection set, nesting 10 deep and 1000 selections in all (fragments
counted where they are spread). A body that is not a GraphQL document is a 400, never a 500.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from typing import Any

from mltrail.errors import InvalidParameterValue
from mltrail.server.api.mlflow.routing import Call, MlflowRouter

_router = MlflowRouter()

MAX_ROOT_FIELDS = 10
MAX_ALIASES = 10
MAX_DEPTH = 10
MAX_SELECTIONS = 1000


def router() -> MlflowRouter:
    return _router


class QueryTooLarge(Exception):
    pass


def _level(selection_set: Any, fragments: Mapping[str, Any]) -> tuple[list[Any], int]:
    """The fields of one level (fragments merged in) and how many of them are aliased."""
    from graphql.language.ast import FieldNode, FragmentSpreadNode, InlineFragmentNode

    fields: list[Any] = []
    aliases = 0
    pending = deque(selection_set.selections)
    seen: set[str] = set()
    while pending:
        node = pending.popleft()
        if isinstance(node, FieldNode):
            fields.append(node)
            aliases += 1 if node.alias else 0
        elif isinstance(node, InlineFragmentNode) and node.selection_set:
            pending.extend(node.selection_set.selections)
        elif isinstance(node, FragmentSpreadNode) and node.name.value not in seen:
            seen.add(node.name.value)
            fragment = fragments.get(node.name.value)
            if fragment is not None and fragment.selection_set:
                pending.extend(fragment.selection_set.selections)
    return fields, aliases


def check_limits(document: Any) -> None:
    """Raise QueryTooLarge with MLflow's message when a query is past its limits."""
    from graphql.language.ast import FragmentDefinitionNode, OperationDefinitionNode

    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    root_fields = max_aliases = selections = 0
    for definition in document.definitions:
        if not isinstance(definition, OperationDefinitionNode):
            continue
        stack = [(definition.selection_set, 1)]
        while stack:
            selection_set, depth = stack.pop()
            if depth > MAX_DEPTH:
                raise QueryTooLarge(f"Query exceeds maximum depth of {MAX_DEPTH}")
            fields, aliases = _level(selection_set, fragments)
            for field in fields:
                root_fields += depth == 1
                if field.selection_set:
                    stack.append((field.selection_set, depth + 1))
                selections += 1
                if selections > MAX_SELECTIONS:
                    raise QueryTooLarge(
                        f"Query exceeds maximum total selections of {MAX_SELECTIONS}"
                    )
            max_aliases = max(max_aliases, aliases)
    for count, limit, what in (
        (root_fields, MAX_ROOT_FIELDS, "root fields"),
        (max_aliases, MAX_ALIASES, "aliases"),
    ):
        if count > limit:
            raise QueryTooLarge(
                f"GraphQL queries should have at most {limit} {what}, got {count} {what}."
            )


def _request_fields(call: Call) -> tuple[str, Any, str | None]:
    args = call.args
    query = args.optional_string("query")
    if not query:
        raise InvalidParameterValue("A GraphQL request needs a 'query' string.")
    variables = args.message("variables")
    return (
        query,
        (variables.raw() if variables is not None else None),
        args.optional_string("operationName"),
    )


@_router.rpc(("GET", "POST"), "/graphql", access="experiment:read", version=0)
def graphql(call: Call) -> dict[str, Any]:
    from graphql import GraphQLError, parse

    from mltrail.server.api.mlflow.graphql_schema import schema

    query, variables, operation = _request_fields(call)
    try:
        document = parse(query)
    except GraphQLError as exc:
        raise InvalidParameterValue(f"Malformed GraphQL query: {exc.message}") from None
    try:
        check_limits(document)
    except QueryTooLarge as exc:
        return {"data": None, "errors": [str(exc)]}
    result = schema.execute(
        query,
        variables=variables,
        operation_name=operation,
        context_value={"request": call.request},
    )
    errors = [error.message for error in result.errors] if result.errors else None
    return {"data": result.data, "errors": errors}
