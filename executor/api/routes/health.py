"""``/health``: liveness and whether Redis answers; whether a worker is alive and the
reconciler sweeps (``executor.observability.health``). Never behind a token."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse, Response

from executor.api.schemas import Health
from executor.api.service import ApiDep
from executor.observability import health as checks

router = APIRouter(tags=["health"])


@router.get(
    "/health",
    response_model=Health,
    summary="Liveness, Redis, live workers and the reconciler (no token needed)",
    responses={
        503: {
            "model": Health,
            "description": "Redis cannot be reached (or, with strict, anything is not UP)",
        }
    },
)
def health(
    api: ApiDep,
    strict: Annotated[
        bool,
        Query(description="Answer 503 unless Redis, a worker and the reconciler are all UP"),
    ] = False,
) -> Response:
    client = api.client
    try:
        client.ping()
        report = checks.check(client.store, client.settings.lease_seconds)
    except Exception:  # any failure to reach Redis is "DOWN"
        body = checks.Report(redis="DOWN", workers="UNKNOWN", reconciler="UNKNOWN").as_json()
        return JSONResponse(body, status_code=503)
    return JSONResponse(report.as_json(), status_code=503 if strict and not report.ok else 200)
