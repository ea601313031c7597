"""``/health``: liveness and whether Redis answers (``{"status", "redis"}``, as before);
with ``?checks=true`` also whether a worker is alive and the reconciler sweeps
(``executor.observability.health``; ``ok`` says all are UP). 503 only when Redis is down.
Never behind a token."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse, Response

from executor.api.schemas import Health, error_responses
from executor.api.service import ApiDep
from executor.observability import health as checks

router = APIRouter(tags=["health"])


@router.get(
    "/health",
    response_model=Health,
    summary="Liveness, Redis, live workers and the reconciler (no token needed)",
    responses={
        **error_responses(422),
        503: {
            "model": Health,
            "description": "Redis cannot be reached",
        },
    },
)
def health(
    api: ApiDep,
    checks_: Annotated[
        bool,
        Query(
            alias="checks",
            description="Also say whether a worker is alive and the reconciler sweeps",
        ),
    ] = False,
) -> Response:
    client = api.client
    full = checks_
    try:
        client.ping()
        if not full:
            return JSONResponse({"status": "UP", "redis": "UP"})
        report = checks.check(client.store, client.settings.lease_seconds)
    except Exception:  # any failure to reach Redis is "DOWN"
        down = checks.Report(redis="DOWN", workers="UNKNOWN", reconciler="UNKNOWN")
        body = down.as_json() if full else {"status": "DOWN", "redis": "DOWN"}
        return JSONResponse(body, status_code=503)
    return JSONResponse(report.as_json())
