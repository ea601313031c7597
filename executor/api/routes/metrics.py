"""``/api/v1/metrics/{executionId}``: an execution's metrics."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter
from fastapi import Path as PathParam
from fastapi.responses import JSONResponse, Response

from executor.api.schemas import error_responses
from executor.api.service import ApiDep
from executor.models import MetricEntry

router = APIRouter(tags=["metrics"])


@router.get(
    "/metrics/{executionId}",
    response_model=list[MetricEntry],
    summary="An execution's metrics",
    responses=error_responses(404),
)
def get_metrics(
    api: ApiDep, execution_id: Annotated[str, PathParam(alias="executionId")]
) -> Response:
    return JSONResponse(
        [m.model_dump(mode="json", by_alias=True) for m in api.client.metrics(execution_id)]
    )
