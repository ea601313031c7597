"""``/api/v1/executions``: start an execution of a deployed flow, read, search and
delete executions, control them (kill, restart, replay, pause, resume: each also under
``/actions/``, as Kestra's current API and its SDK have them), follow them as server-sent
events (``/follow``: Kestra's stream of whole executions; ``/events``: Ostra's stream of
state changes, resumable).

The order of the routes matters: ``/executions/search`` comes before
``/executions/{executionId}``, and ``/executions/{executionId}/restart|replay|pause|resume``
before ``/executions/{namespace}/{flowId}``, which they take precedence over.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request
from fastapi import Path as PathParam
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response, StreamingResponse

from executor.api import kestra as K
from executor.api.followers import FollowResponse
from executor.api.parsing import parse_labels, read_inputs
from executor.api.schemas import (
    EVENTS_RESPONSE,
    INPUTS_BODY,
    SSE_RESPONSE,
    PagedExecutions,
    error_responses,
)
from executor.api.service import ApiDep
from executor.durations import DurationError, parse_duration
from executor.errors import BadRequest, ExecutionNotFound, Problem
from executor.models import Execution
from executor.state import StateType

#: the largest page ``/executions/search`` serves
MAX_PAGE_SIZE = 10_000
#: the headers of a follow stream (no caching, no buffering by proxies)
SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
#: a ``Last-Event-ID`` the follow stream resumes after (else it starts from the first)
STREAM_ID = re.compile(r"^\d+-\d+(/\d+)?$")

router = APIRouter(tags=["executions"])

ExecutionId = Annotated[str, PathParam(alias="executionId")]
#: Kestra's ``?revision=`` of restart and replay: Ostra runs the execution's own revision
RevisionParam = Annotated[
    int | None,
    Query(ge=1, description="The flow revision: only the execution's own is supported"),
]


def same_revision(api: ApiDep, execution_id: str, revision: int | None) -> None:
    """Refuse (422) a ``revision`` other than the execution's: restarting or replaying
    with another revision of the flow is not supported."""
    if revision is None:
        return
    ref = api.client.store.flow_ref(execution_id)
    if ref is None:
        raise ExecutionNotFound(execution_id)
    if ref[2] != revision:
        raise BadRequest(
            [
                Problem(
                    "revision",
                    f"execution {execution_id} runs revision {ref[2]} of its flow; "
                    f"running it with revision {revision} is not supported",
                )
            ]
        )


#: the ``filters[...]`` a search takes (Kestra's ``QueryFilter``), and their operations
SEARCH_FILTERS = {
    "namespace": ("EQUALS", "PREFIX"),
    "flowId": ("EQUALS",),
    "state": ("EQUALS", "IN"),
    "startDate": ("GREATER_THAN_OR_EQUAL_TO",),
    "endDate": ("LESS_THAN_OR_EQUAL_TO",),
    "timeRange": ("EQUALS",),
}


def _search(
    request: Request,
    api: ApiDep,
    namespace: str | None,
    flow_id: str | None,
    state: list[StateType] | None,
    page: int,
    size: int,
    labels: list[str] | None = None,
    start_text: str | None = None,
    end_text: str | None = None,
    time_range: str | None = None,
) -> Response:
    given = K.filters(request.query_params, SEARCH_FILTERS)
    start_date = _date("startDate", start_text)
    end_date = _date("endDate", end_text)
    for field in ("startDate", "endDate"):
        if field in given:
            when = _date(f"filters[{field}]", given[field][1])
            start_date, end_date = (when, end_date) if field == "startDate" else (start_date, when)
    if "timeRange" in given:
        time_range = given["timeRange"][1]
    created_from, created_to = creation_range(start_date, end_date, time_range, datetime.now(UTC))
    label_map = parse_labels(labels)
    if len(label_map) < len(labels or []):  # one value per key: a label has one
        keys = [item.partition(":")[0] for item in labels or []]
        twice = sorted({key for key in keys if keys.count(key) > 1})
        raise BadRequest(
            [Problem("labels", f"label {key!r} given more than once") for key in twice]
        )
    prefix = None
    if "namespace" in given:
        if given["namespace"][0] == "PREFIX":
            prefix = given["namespace"][1]
        else:
            namespace = given["namespace"][1]
    if "flowId" in given:
        flow_id = given["flowId"][1]
    if "state" in given:
        values = [v.strip() for v in given["state"][1].split(",") if v.strip()]
        try:
            states = [StateType(v) for v in values]
        except ValueError:
            raise BadRequest(
                [Problem("filters[state]", f"not a state: {given['state'][1]!r}")]
            ) from None
        if given["state"][0] == "EQUALS" and len(states) != 1:
            raise BadRequest([Problem("filters[state][EQUALS]", "one state; IN takes several")])
        if not states:
            raise BadRequest([Problem("filters[state]", "no state given")])
        state = states
    return JSONResponse(
        api.search(
            namespace,
            flow_id,
            state,
            page,
            size,
            namespace_prefix=prefix,
            labels=label_map,
            created_from=created_from,
            created_to=created_to,
        )
    )


def _date(name: str, text: str | None) -> datetime | None:
    """Query parameter ``name``, an ISO-8601 date and time (``BadRequest`` otherwise:
    a number is not taken for one)."""
    if text is None:
        return None
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise BadRequest([Problem(name, f"not an ISO-8601 date: {text!r}")]) from None


def creation_range(
    start_date: datetime | None, end_date: datetime | None, time_range: str | None, now: datetime
) -> tuple[datetime | None, datetime | None]:
    """The creation times a search keeps, from Kestra's ``startDate``, ``endDate`` and
    ``timeRange`` (``ExecutionController.resolveAbsoluteDateTime``: ``timeRange`` is
    ``now`` minus its absolute value, and excludes ``startDate``; ``DateUtils.
    validateTimeline``: the start may not follow the end). A naive datetime is UTC.
    ``BadRequest`` naming the parameter otherwise."""
    start, end = (
        d if d is None or d.tzinfo else d.replace(tzinfo=UTC) for d in (start_date, end_date)
    )
    if time_range is not None:
        if start is not None:
            raise BadRequest(
                [
                    Problem(
                        "timeRange", "Parameters 'startDate' and 'timeRange' are mutually exclusive"
                    )
                ]
            )
        try:
            start = now - abs(parse_duration(time_range))
        except DurationError as exc:
            raise BadRequest([Problem("timeRange", str(exc))]) from None
    if start is not None and end is not None and start > end:
        raise BadRequest([Problem("startDate", "Start date must be before End Date")])
    return start, end


@router.get(
    "/executions/search",
    response_model=PagedExecutions,
    summary="Search executions, newest first",
    description="Filters as parameters (``namespace``, ``flowId``, ``state`` (repeatable: any "
    "of them), ``labels`` as "
    "``key:value``, repeatable) or as Kestra's ``filters[namespace][EQUALS|PREFIX]`` (PREFIX: "
    "the namespace and its sub-namespaces), ``filters[flowId][EQUALS]``, "
    "``filters[state][EQUALS|IN]`` (IN: comma-separated, any of them); the creation time "
    "as ``startDate``, "
    "``endDate`` (ISO-8601) or ``timeRange`` (an ISO-8601 duration back from now), or "
    "``filters[startDate][GREATER_THAN_OR_EQUAL_TO]``, "
    "``filters[endDate][LESS_THAN_OR_EQUAL_TO]``, ``filters[timeRange][EQUALS]``.",
    responses=error_responses(422),
)
def search_executions(
    request: Request,
    api: ApiDep,
    namespace: str | None = None,
    flow_id: Annotated[str | None, Query(alias="flowId")] = None,
    state: Annotated[
        list[StateType] | None,
        Query(description="A state (repeatable: any of them)"),
    ] = None,
    page: Annotated[int, Query(ge=1, le=2**31)] = 1,
    size: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 25,
    labels: Annotated[
        list[str] | None, Query(description="A label as key:value (repeatable): all must match")
    ] = None,
    start_date: Annotated[
        str | None,
        Query(
            alias="startDate",
            description="Created at or after (ISO-8601; no zone: UTC)",
            json_schema_extra={"format": "date-time"},
        ),
    ] = None,
    end_date: Annotated[
        str | None,
        Query(
            alias="endDate",
            description="Created at or before (ISO-8601; no zone: UTC)",
            json_schema_extra={"format": "date-time"},
        ),
    ] = None,
    time_range: Annotated[
        str | None,
        Query(
            alias="timeRange",
            description="Created within this ISO-8601 duration of now (PT5M, P1D); "
            "not with startDate",
        ),
    ] = None,
) -> Response:
    return _search(
        request,
        api,
        namespace,
        flow_id,
        state,
        page,
        size,
        labels,
        start_date,
        end_date,
        time_range,
    )


@router.get(
    "/executions",
    response_model=PagedExecutions,
    summary="The executions of a flow, newest first",
    responses=error_responses(422),
)
def list_executions(
    request: Request,
    api: ApiDep,
    namespace: str,
    flow_id: Annotated[str, Query(alias="flowId")],
    page: Annotated[int, Query(ge=1, le=2**31)] = 1,
    size: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 25,
) -> Response:
    return _search(request, api, namespace, flow_id, None, page, size)


@router.get(
    "/executions/{executionId}",
    response_model=Execution,
    summary="An execution",
    responses=error_responses(404),
)
def get_execution(api: ApiDep, execution_id: ExecutionId) -> Response:
    return api.respond(api.client.get(execution_id))


@router.delete(
    "/executions/{executionId}",
    status_code=204,
    summary="Delete an ended execution, its logs and metrics",
    responses=error_responses(404, 409),
)
def delete_execution(api: ApiDep, execution_id: ExecutionId) -> Response:
    api.delete_execution(execution_id)
    return Response(status_code=204)


@router.delete(
    "/executions/{executionId}/kill",
    response_model=Execution,
    status_code=202,
    summary="Kill an execution",
    responses=error_responses(404, 409),
)
@router.delete(
    "/executions/{executionId}/actions/kill",
    response_model=Execution,
    status_code=202,
    summary="Kill an execution",
    responses=error_responses(404, 409),
)
def kill_execution(api: ApiDep, execution_id: ExecutionId) -> Response:
    return api.respond(api.client.kill(execution_id), 202)


@router.post(
    "/executions/{executionId}/restart",
    response_model=Execution,
    summary="Restart a FAILED or KILLED execution",
    responses=error_responses(404, 409),
)
@router.post(
    "/executions/{executionId}/actions/restart",
    response_model=Execution,
    summary="Restart a FAILED or KILLED execution",
    responses=error_responses(404, 409),
)
def restart_execution(
    api: ApiDep, execution_id: ExecutionId, revision: RevisionParam = None
) -> Response:
    same_revision(api, execution_id, revision)
    return api.respond(api.client.restart(execution_id))


@router.post(
    "/executions/{executionId}/replay",
    response_model=Execution,
    summary="Replay an execution (a new execution)",
    openapi_extra=INPUTS_BODY,
    responses=error_responses(404, 409, 413, 415, 422),
)
@router.post(
    "/executions/{executionId}/actions/replay",
    response_model=Execution,
    summary="Replay an execution (a new execution)",
    openapi_extra=INPUTS_BODY,
    responses=error_responses(404, 409, 413, 415, 422),
)
@router.post(
    "/executions/{executionId}/actions/replay-with-inputs",
    response_model=Execution,
    summary="Replay an execution with new inputs (a new execution)",
    openapi_extra=INPUTS_BODY,
    responses=error_responses(404, 409, 413, 415, 422),
)
async def replay_execution(
    request: Request,
    api: ApiDep,
    execution_id: ExecutionId,
    task_run_id: Annotated[
        str | None, Query(alias="taskRunId", description="Replay from this task run")
    ] = None,
    revision: RevisionParam = None,
) -> Response:
    await run_in_threadpool(same_revision, api, execution_id, revision)
    inputs = await read_inputs(request)
    execution = await run_in_threadpool(
        api.client.replay, execution_id, task_run_id, inputs or None
    )
    return api.respond(execution)


@router.post(
    "/executions/{executionId}/pause",
    response_model=Execution,
    summary="Pause a RUNNING execution",
    responses=error_responses(404, 409),
)
@router.post(
    "/executions/{executionId}/actions/pause",
    response_model=Execution,
    summary="Pause a RUNNING execution",
    responses=error_responses(404, 409),
)
def pause_execution(api: ApiDep, execution_id: ExecutionId) -> Response:
    return api.respond(api.client.pause(execution_id))


@router.post(
    "/executions/{executionId}/resume",
    response_model=Execution,
    summary="Resume a PAUSED execution",
    responses=error_responses(404, 409),
)
@router.post(
    "/executions/{executionId}/actions/resume",
    response_model=Execution,
    summary="Resume a PAUSED execution",
    responses=error_responses(404, 409),
)
def resume_execution(api: ApiDep, execution_id: ExecutionId) -> Response:
    return api.respond(api.client.resume(execution_id))


# After the routes of /executions/{executionId}/restart|replay|pause|resume, which
# take precedence: a flow with one of these ids cannot be started over the API.
@router.post(
    "/executions/{namespace}/{flowId}",
    response_model=Execution,
    summary="Start an execution of a deployed flow",
    openapi_extra=INPUTS_BODY,
    responses=error_responses(404, 409, 413, 415, 422),
)
async def create_execution(
    request: Request,
    api: ApiDep,
    namespace: str,
    flow_id: Annotated[str, PathParam(alias="flowId")],
    labels: Annotated[
        list[str] | None, Query(description="A label as key:value (repeatable)")
    ] = None,
    wait: Annotated[bool, Query(description="Answer when the execution ends")] = False,
) -> Response:
    inputs = await read_inputs(request)
    label_map = parse_labels(labels)
    if len(label_map) < len(labels or []):  # one value per key: a label has one
        keys = [item.partition(":")[0] for item in labels or []]
        twice = sorted({key for key in keys if keys.count(key) > 1})
        raise BadRequest(
            [Problem("labels", f"label {key!r} given more than once") for key in twice]
        )
    execution = await run_in_threadpool(api.client.submit, (namespace, flow_id), inputs, label_map)
    if wait:
        done = await api.wait(request, execution.id)
        if done is None:  # the caller went away; the execution goes on
            return Response(status_code=204)
        execution = done
    data = api.present(execution)
    # Kestra's ExecutionResponse: the execution and where the UI shows it
    data["url"] = (
        f"{str(request.base_url).rstrip('/')}/ui/{K.TENANT}/executions/"
        f"{execution.namespace}/{execution.flow_id}/{execution.id}"
    )
    return JSONResponse(data)


@router.get(
    "/executions/{executionId}/follow",
    summary="Follow an execution (server-sent events, as Kestra streams them)",
    response_class=StreamingResponse,
    responses={**SSE_RESPONSE, **error_responses(404)},
)
async def follow_execution(api: ApiDep, execution_id: ExecutionId) -> Response:
    release = api.followers.acquire()  # 503 when the process has all the streams it serves
    try:
        await api.followers.call(api.client.state, execution_id)  # 404 before streaming
    except BaseException:
        release()
        raise
    return FollowResponse(api.follow(execution_id), release, headers=SSE_HEADERS)


@router.get(
    "/executions/{executionId}/events",
    summary="Every state change of an execution (server-sent events, resumable)",
    response_class=StreamingResponse,
    responses={**EVENTS_RESPONSE, **error_responses(404)},
)
async def execution_events(
    api: ApiDep,
    execution_id: ExecutionId,
    last_event_id: Annotated[
        str | None, Header(alias="Last-Event-ID", description="Resume after this event")
    ] = None,
) -> Response:
    release = api.followers.acquire()  # 503 when the process has all the streams it serves
    try:
        await api.followers.call(api.client.state, execution_id)  # 404 before streaming
    except BaseException:
        release()
        raise
    start = last_event_id if last_event_id and STREAM_ID.match(last_event_id) else "0"
    return FollowResponse(api.events(execution_id, start), release, headers=SSE_HEADERS)
