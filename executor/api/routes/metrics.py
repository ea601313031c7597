"""``/api/v1/metrics/{executionId}``: a page of an execution's metrics, as Kestra's
``MetricController`` answers it (``results``/``total``; ``page``, ``size``, ``taskRunId``,
``taskId``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi import Path as PathParam
from fastapi.responses import JSONResponse, Response

from executor.api import kestra as K
from executor.api.schemas import PagedMetrics, error_responses
from executor.api.service import ApiDep

router = APIRouter(tags=["metrics"])


@router.get(
    "/metrics/{executionId}",
    response_model=PagedMetrics,
    summary="A page of an execution's metrics, in the order they were emitted",
    responses=error_responses(404, 422),
)
def get_metrics(
    api: ApiDep,
    execution_id: Annotated[str, PathParam(alias="executionId")],
    page: Annotated[int, Query(ge=1, le=2**31)] = 1,
    size: Annotated[int, Query(ge=1, le=10_000)] = 10,
    task_run_id: Annotated[str | None, Query(alias="taskRunId")] = None,
    task_id: Annotated[str | None, Query(alias="taskId")] = None,
) -> Response:
    entries = api.metrics(execution_id)
    # Kestra's order: taskId wins over taskRunId when both are given
    if task_id is not None:
        entries = [m for m in entries if m["taskId"] == task_id]
    elif task_run_id is not None:
        entries = [m for m in entries if m["taskRunId"] == task_run_id]
    start = (page - 1) * size
    return JSONResponse(K.page_json(entries[start : start + size], len(entries)))
