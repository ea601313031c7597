"""``/health``: liveness, and whether Redis answers. Never behind a token."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response

from executor.api.schemas import Health
from executor.api.service import ApiDep

router = APIRouter(tags=["health"])


@router.get(
    "/health",
    response_model=Health,
    summary="Liveness, and whether Redis answers (no token needed)",
    responses={503: {"model": Health, "description": "Redis cannot be reached"}},
)
def health(api: ApiDep) -> Response:
    try:
        api.client.ping()
    except Exception:  # any failure to reach Redis is "DOWN"
        return JSONResponse({"status": "DOWN", "redis": "DOWN"}, status_code=503)
    return JSONResponse({"status": "UP", "redis": "UP"})
