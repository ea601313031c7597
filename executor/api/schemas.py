"""What the REST API's OpenAPI document says: the response models, the request bodies the
routes read by themselves, and the problem responses each route may give.

The routes answer plain JSON (``JSONResponse``); these models only describe it.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from executor.api import problems as P
from executor.api.kestra import flow_json
from executor.api.parsing import YAML_TYPES
from executor.flow import Flow
from executor.models import Execution


class FlowOut(BaseModel):
    """A deployed flow in Kestra's shape (``FlowWithSource``), with its ``revision`` and
    its ``source``: the text it was deployed as, byte for byte."""

    model_config = ConfigDict(extra="allow")

    id: str
    namespace: str
    revision: int
    disabled: bool
    deleted: bool
    draft: bool
    source: str
    tasks: list[dict[str, Any]]


class PagedFlows(BaseModel):
    """One page of a flow search (Kestra's ``PagedResults``)."""

    results: list[FlowOut]
    total: int


class PagedMetrics(BaseModel):
    """One page of an execution's metrics (Kestra's ``PagedResults``)."""

    results: list[dict[str, Any]]
    total: int


class PagedLogs(BaseModel):
    """One page of an execution's log lines (Kestra's ``PagedResults``), and the cursor
    to read on from (``nextCursor``: pass it as ``cursor`` to follow the log)."""

    results: list[dict[str, Any]]
    total: int
    nextCursor: int


class PagedExecutions(BaseModel):
    """One page of a search (Kestra's ``PagedResults``)."""

    results: list[Execution]
    total: int


class Health(BaseModel):
    # No docstring: it would show in the OpenAPI document. ``UP`` or ``DOWN``, for the API
    # and for its Redis; workers UP/DOWN, reconciler UP/STALLED/NEVER.

    status: str
    redis: str
    workers: str = "UNKNOWN"
    reconciler: str = "UNKNOWN"
    ok: bool = False
    details: dict[str, Any] = {}


def flow_out(flow: Flow) -> dict[str, Any]:
    """The JSON of a deployed flow (``FlowOut``), its source written from the flow (the
    routes give the text it was deployed as: ``Api.flow_json``)."""
    return flow_json(flow.to_dict(), flow.revision or 1, flow.to_yaml())


#: What each problem status means, in the OpenAPI document.
ERROR_DESCRIPTIONS = {
    401: "No or a wrong bearer token",
    404: "Not found",
    409: "The request does not fit the current state",
    413: "The request body is too large",
    415: "Unsupported request content type",
    422: "Invalid flow, inputs or parameters (every problem listed)",
    503: "Redis cannot be reached",
}


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for the problem responses a route may give."""
    return {s: {"model": P.Problem, "description": ERROR_DESCRIPTIONS[s]} for s in statuses}


def problem_media_types(schema: dict[str, Any]) -> dict[str, Any]:
    """Error responses are application/problem+json, not the application/json FastAPI
    writes for a response ``model``."""
    ref = "#/components/schemas/Problem"
    for path in schema.get("paths", {}).values():
        for operation in path.values():
            for status, response in operation.get("responses", {}).items():
                content = response.get("content", {})
                body = content.get("application/json")
                if status[0] in "45" and body and body.get("schema", {}).get("$ref") == ref:
                    content[P.PROBLEM_JSON] = content.pop("application/json")
    return schema


#: The body of ``POST /flows`` and ``PUT /flows/{namespace}/{id}``.
YAML_BODY = {
    "requestBody": {
        "required": True,
        "description": "The flow, in Kestra's YAML",
        "content": {t: {"schema": {"type": "string"}} for t in YAML_TYPES},
    },
}
_INPUTS_SCHEMA = {
    "type": "object",
    "additionalProperties": True,
    "description": "Input values by input id",
}
_FORM_SCHEMA = {
    "type": "object",
    "additionalProperties": {"type": "string"},
    "description": "Input values by input id (one field per input)",
}
#: The body of the routes that take inputs (start, replay).
INPUTS_BODY = {
    "requestBody": {
        "required": False,
        "content": {
            "application/json": {"schema": _INPUTS_SCHEMA},
            "multipart/form-data": {"schema": _FORM_SCHEMA},
            "application/x-www-form-urlencoded": {"schema": _FORM_SCHEMA},
        },
    },
}
#: The answer of ``GET /executions/{executionId}/follow``.
SSE_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "Server-sent events as Kestra sends them: the execution now, then "
        "again after every change of it, of a task run or an attempt (event and id "
        "`progress`, data: the execution), then once it ended (event and id `end`, data: "
        "the execution). An ended execution is sent as `end` alone. An event `error` "
        "(data: a problem) ends a stream that cannot go on.",
        "content": {"text/event-stream": {"schema": {"type": "string"}}},
    },
}
#: The answer of ``GET /executions/{executionId}/events``.
EVENTS_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "Server-sent events: one per state change of the execution, a task "
        "run or an attempt (data: a StateEvent; its id resumes the stream as "
        "`Last-Event-ID`), then an event `end` (data: the execution). An event `error` "
        "(data: a problem) ends a stream that cannot go on.",
        "content": {"text/event-stream": {"schema": {"type": "string"}}},
    },
}
