"""``/api/v1/logs/{executionId}``: an execution's log lines, in Kestra's ``LogEntry``
shape (``namespace``, ``flowId``, ``taskRunId``, ``attemptNumber`` from 0, ...): all of
them as Kestra's ``LogController`` answers, or a page of them from a cursor."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi import Path as PathParam
from fastapi.responses import JSONResponse, Response

from executor.api.schemas import PagedLogs, error_responses
from executor.api.service import ApiDep
from executor.loglimits import LEVELS, LogQuery

#: largest page of log lines
MAX_LOG_PAGE_SIZE = 10_000
#: lines of a page when only ``page`` or ``cursor`` is given
DEFAULT_LOG_PAGE_SIZE = 100

router = APIRouter(tags=["logs"])


@router.get(
    "/logs/{executionId}",
    response_model=list[dict[str, object]] | PagedLogs,
    summary="An execution's log lines, in order: all of them, or a page",
    description="Filtered by ``minLevel``, ``taskRunId``, ``taskId`` and ``attempt`` (the "
    "``attemptNumber`` of the lines: 0 for a task run's first attempt, as Kestra counts). "
    "Without ``page``, ``size`` or ``cursor``: every matching line, as a list (Kestra's "
    "answer). With any of them: a page ``{results, total, nextCursor}`` of ``size`` lines "
    f"(default {DEFAULT_LOG_PAGE_SIZE}) from position ``cursor`` (default 0) on; "
    "``total`` counts the matching lines from ``cursor`` on, and ``nextCursor`` is where "
    "to read on from to follow the log (nothing is read twice or missed).",
    responses=error_responses(404, 422),
)
def get_logs(
    api: ApiDep,
    execution_id: Annotated[str, PathParam(alias="executionId")],
    task_run_id: Annotated[str | None, Query(alias="taskRunId")] = None,
    task_id: Annotated[str | None, Query(alias="taskId")] = None,
    attempt: Annotated[int | None, Query(ge=0, le=2**31)] = None,
    min_level: Annotated[
        str | None, Query(alias="minLevel", pattern=f"^({'|'.join(LEVELS)})$")
    ] = None,
    page: Annotated[int | None, Query(ge=1, le=2**31)] = None,
    size: Annotated[int | None, Query(ge=1, le=MAX_LOG_PAGE_SIZE)] = None,
    cursor: Annotated[int | None, Query(ge=0, le=2**62)] = None,
) -> Response:
    query = LogQuery(
        min_level=min_level,
        task_run_id=task_run_id,
        task_id=task_id,
        attempt=None if attempt is None else attempt + 1,  # Ostra counts from 1
    )
    if page is None and size is None and cursor is None:
        return JSONResponse(api.logs(execution_id, query))
    found = api.logs_page(
        execution_id,
        query,
        page=page or 1,
        size=size or DEFAULT_LOG_PAGE_SIZE,
        cursor=cursor or 0,
    )
    return JSONResponse(found)
