"""``/api/v1/workers/queues``: the depth of every queue (default queue and worker
groups), as ``ostra queue stats`` and the ``ostra_queue_*`` metrics show it."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse, Response

from executor.api.service import ApiDep
from executor.flow import WORKER_GROUP_RE

router = APIRouter(tags=["workers"])


@router.get(
    "/workers/queues",
    summary="Queue depth per queue and worker group (waiting, reserved, retries, oldest)",
    responses={200: {"content": {"application/json": {}}}},
)
def worker_queues(
    api: ApiDep,
    queue: Annotated[
        str | None,
        Query(
            description="Also report this queue (a worker group)", pattern=WORKER_GROUP_RE.pattern
        ),
    ] = None,
) -> Response:
    asked = [queue] if queue else []
    stats: list[dict[str, Any]] = [s.as_json() for s in api.client.queue_stats(asked)]
    return JSONResponse({"results": stats, "total": len(stats)})
