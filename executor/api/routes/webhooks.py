"""``/api/v1/executions/webhook/{namespace}/{flowId}/{key}``: Kestra's Webhook trigger.

``GET``, ``POST`` and ``PUT`` start an execution of the flow whose ``Webhook`` trigger
has ``key`` (``executor.triggers.webhook``) and answer it as Kestra does: 200 with the
execution, 204 when the webhook's conditions do not hold, 404 for an unknown flow, a
flow without a webhook or a wrong key (one answer for the three), 409 for a disabled
flow or trigger, 413 for a body over ``OSTRA_WEBHOOK_MAX_BYTES`` (1 MiB by default).
Kestra's SDK also calls ``.../{key}/{path}``: the same webhook, the path ignored.

These routes need no API token (``executor.api.security.OPEN_ROUTES``): as in Kestra,
the key guards them. The body is read as it arrives and refused as soon as it passes
the limit, so a huge body is never held whole.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response

from executor.api import kestra as K
from executor.api.schemas import error_responses
from executor.api.service import ApiDep
from executor.errors import BodyTooLarge
from executor.triggers.webhook import WebhookCall, receive

router = APIRouter(tags=["executions"])

PATH = "/executions/webhook/{namespace}/{flowId}/{key}"
METHODS = ["GET", "POST", "PUT"]


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refused (``BodyTooLarge``) once more than ``limit`` bytes came."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge(limit)
        chunks.append(chunk)
    return b"".join(chunks)


async def _webhook(
    api: ApiDep, request: Request, namespace: str, flow_id: str, key: str
) -> Response:
    limit: int = request.app.state.webhook_max_body
    body = await read_body(request, limit)
    call = WebhookCall(
        body=body,
        headers=[(k, v) for k, v in request.headers.items()],
        parameters=list(request.query_params.multi_items()),
    )
    execution = await run_in_threadpool(receive, api.client, namespace, flow_id, key, call)
    if execution is None:
        return Response(status_code=204)
    # Kestra's answer: the execution (its 2.0 WebhookResponse adds where the UI shows it)
    data = api.present(execution)
    data["url"] = (
        f"{str(request.base_url).rstrip('/')}/ui/{K.TENANT}/executions/"
        f"{execution.namespace}/{execution.flow_id}/{execution.id}"
    )
    return JSONResponse(data)


async def webhook(
    api: ApiDep,
    request: Request,
    namespace: str,
    flowId: str,  # Kestra's path parameter name
    key: str,
) -> Response:
    """Start an execution of the flow with the body, headers and query parameters of
    this call as ``trigger.body``, ``trigger.headers``, ``trigger.parameters``."""
    return await _webhook(api, request, namespace, flowId, key)


async def webhook_with_path(
    api: ApiDep,
    request: Request,
    namespace: str,
    flowId: str,
    key: str,
    path: str,
) -> Response:
    """The same as without ``path`` (Kestra's SDK sends one; it is not used)."""
    return await _webhook(api, request, namespace, flowId, key)


#: What a webhook answers besides 200 (the execution), as Kestra's.
RESPONSES: dict[int | str, dict[str, Any]] = {
    204: {"description": "The webhook's conditions do not hold: nothing was started"},
    **error_responses(404, 409, 413, 422),
}

# One route per method, as Kestra's webhookTriggerGet/Post/Put (one operation id each).
for _method in METHODS:
    router.add_api_route(
        PATH,
        webhook,
        methods=[_method],
        name=f"webhook_trigger_{_method.lower()}",
        summary=f"Start an execution by a webhook trigger ({_method})",
        responses=RESPONSES,
    )
    router.add_api_route(
        PATH + "/{path:path}",
        webhook_with_path,
        methods=[_method],
        name=f"webhook_trigger_{_method.lower()}_with_path",
        summary=f"Start an execution by a webhook trigger ({_method}, with a path)",
        responses=RESPONSES,
    )
