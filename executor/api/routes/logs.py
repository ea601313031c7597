"""``/api/v1/logs/{executionId}``: an execution's log lines, in Kestra's ``LogEntry``
shape (``namespace``, ``flowId``, ``taskRunId``, ``attemptNumber`` from 0, ...)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi import Path as PathParam
from fastapi.responses import JSONResponse, Response

from executor.api.schemas import error_responses
from executor.api.service import ApiDep

#: log levels, lowest first (``minLevel`` keeps a level and those after it)
LEVELS = ("TRACE", "DEBUG", "INFO", "WARN", "ERROR")

router = APIRouter(tags=["logs"])


@router.get(
    "/logs/{executionId}",
    summary="An execution's log lines, in order",
    description="Filtered by ``minLevel``, ``taskRunId``, ``taskId`` and ``attempt`` (the "
    "``attemptNumber`` of the lines: 0 for a task run's first attempt, as Kestra counts).",
    responses=error_responses(404, 422),
)
def get_logs(
    api: ApiDep,
    execution_id: Annotated[str, PathParam(alias="executionId")],
    task_run_id: Annotated[str | None, Query(alias="taskRunId")] = None,
    task_id: Annotated[str | None, Query(alias="taskId")] = None,
    attempt: Annotated[int | None, Query(ge=0)] = None,
    min_level: Annotated[
        str | None, Query(alias="minLevel", pattern="^(TRACE|DEBUG|INFO|WARN|ERROR)$")
    ] = None,
) -> Response:
    entries = api.logs(execution_id)
    if task_run_id is not None:
        entries = [e for e in entries if e["taskRunId"] == task_run_id]
    if task_id is not None:
        entries = [e for e in entries if e["taskId"] == task_id]
    if attempt is not None:
        entries = [e for e in entries if e["attemptNumber"] == attempt]
    if min_level is not None:
        floor = LEVELS.index(min_level)
        entries = [e for e in entries if LEVELS.index(e["level"]) >= floor]
    return JSONResponse(entries)
