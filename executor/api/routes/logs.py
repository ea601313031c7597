"""``/api/v1/logs/{executionId}``: an execution's log lines."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi import Path as PathParam
from fastapi.responses import JSONResponse, Response

from executor.api.schemas import error_responses
from executor.api.service import ApiDep
from executor.models import LogEntry

#: log levels, lowest first (``minLevel`` keeps a level and those after it)
LEVELS = ("TRACE", "DEBUG", "INFO", "WARN", "ERROR")

router = APIRouter(tags=["logs"])


@router.get(
    "/logs/{executionId}",
    response_model=list[LogEntry],
    summary="An execution's log lines, in order",
    responses=error_responses(404),
)
def get_logs(
    api: ApiDep,
    execution_id: Annotated[str, PathParam(alias="executionId")],
    task_run_id: Annotated[str | None, Query(alias="taskRunId")] = None,
    min_level: Annotated[
        str | None, Query(alias="minLevel", pattern="^(TRACE|DEBUG|INFO|WARN|ERROR)$")
    ] = None,
) -> Response:
    entries = api.client.logs(execution_id)
    if task_run_id is not None:
        entries = [e for e in entries if e.task_run_id == task_run_id]
    if min_level is not None:
        floor = LEVELS.index(min_level)
        entries = [e for e in entries if LEVELS.index(e.level) >= floor]
    return JSONResponse([e.model_dump(mode="json", by_alias=True) for e in entries])
