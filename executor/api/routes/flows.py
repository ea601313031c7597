"""``/api/v1/flows``: deploy a flow, read one, deploy a new revision of one."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response

from executor.api.parsing import parse_flow, read_yaml
from executor.api.schemas import YAML_BODY, FlowOut, error_responses, flow_out
from executor.api.service import ApiDep
from executor.errors import FlowValidationError, Problem

router = APIRouter(tags=["flows"])


@router.post(
    "/flows",
    response_model=FlowOut,
    summary="Deploy a flow",
    openapi_extra=YAML_BODY,
    responses=error_responses(413, 415, 422),
)
async def deploy_flow(request: Request, api: ApiDep) -> Response:
    text = await read_yaml(request)
    flow = parse_flow(text)
    deployed = await run_in_threadpool(api.client.deploy, flow)
    return JSONResponse({**flow_out(deployed), "warnings": flow.warnings})


@router.get(
    "/flows/{namespace}/{id}",
    response_model=FlowOut,
    summary="A deployed flow",
    responses={
        **error_responses(404, 422),
        200: {
            "content": {
                "application/json": {},
                "application/x-yaml": {"schema": {"type": "string"}},
            },
            "description": "The flow (YAML if the Accept header asks for it)",
        },
    },
)
def get_flow(
    request: Request,
    api: ApiDep,
    namespace: str,
    id: str,
    revision: Annotated[int | None, Query(ge=1)] = None,
) -> Response:
    flow = api.client.flow(namespace, id, revision)
    accept = request.headers.get("accept", "")
    if "yaml" in accept and "json" not in accept:
        return Response(flow.to_yaml(), media_type="application/x-yaml")
    return JSONResponse({**flow_out(flow), "warnings": flow.warnings})


@router.put(
    "/flows/{namespace}/{id}",
    response_model=FlowOut,
    summary="Deploy a new revision of a flow",
    openapi_extra=YAML_BODY,
    responses=error_responses(404, 413, 415, 422),
)
async def update_flow(request: Request, api: ApiDep, namespace: str, id: str) -> Response:
    text = await read_yaml(request)
    flow = parse_flow(text)
    problems = [
        Problem(name, f"the body says {got!r} but the path says {want!r}")
        for name, got, want in (("namespace", flow.namespace, namespace), ("id", flow.id, id))
        if got != want
    ]
    if problems:
        raise FlowValidationError(problems)
    await run_in_threadpool(api.client.flow, namespace, id)  # 404 if not deployed
    deployed = await run_in_threadpool(api.client.deploy, flow)
    return JSONResponse({**flow_out(deployed), "warnings": flow.warnings})
