"""``/api/v1/flows``: deploy a flow, read one (with its source as deployed, byte for
byte), deploy a new revision of one, search and list flows, delete one.

``/flows/search`` comes before ``/flows/{namespace}``, which it takes precedence over.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response

from executor.api import kestra as K
from executor.api.parsing import parse_flow, read_yaml
from executor.api.schemas import YAML_BODY, FlowOut, PagedFlows, error_responses
from executor.api.service import ApiDep
from executor.errors import FlowValidationError, Problem

router = APIRouter(tags=["flows"])

#: the ``filters[...]`` a flow search takes (Kestra's ``QueryFilter``)
FLOW_FILTERS = {"namespace": ("EQUALS", "PREFIX", "STARTS_WITH"), "q": ("EQUALS",)}


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
    return JSONResponse(await run_in_threadpool(api.deploy, flow, text))


@router.get(
    "/flows/search",
    response_model=PagedFlows,
    summary="Search flows, by namespace then id",
    description="``namespace`` takes the flows of that namespace and of those under it "
    "(Kestra: a prefix); ``q`` those whose id or namespace contains it. Also as Kestra's "
    "``filters[namespace][EQUALS|PREFIX|STARTS_WITH]`` and ``filters[q][EQUALS]``.",
    responses=error_responses(422),
)
def search_flows(
    request: Request,
    api: ApiDep,
    namespace: str | None = None,
    q: str | None = None,
    page: Annotated[int, Query(ge=1, le=2**31)] = 1,
    size: Annotated[int, Query(ge=1, le=10_000)] = 10,
) -> Response:
    given = K.filters(request.query_params, FLOW_FILTERS)
    prefix = True
    if "namespace" in given:
        op, namespace = given["namespace"]
        prefix = op != "EQUALS"
    if "q" in given:
        q = given["q"][1]
    found = api.flows(namespace, prefix=prefix)
    if q:
        needle = q.lower()
        found = [f for f in found if needle in f.id.lower() or needle in f.namespace.lower()]
    start = (page - 1) * size
    results = [api.flow_json(f) for f in found[start : start + size]]
    for r in results:
        r.pop("source", None)  # Kestra's search answers Flow, without its source
    return JSONResponse(K.page_json(results, len(found)))


@router.get(
    "/flows/{namespace}",
    response_model=list[FlowOut],
    summary="The flows of a namespace",
    responses=error_responses(422),
)
def list_flows(api: ApiDep, namespace: str) -> Response:
    results = [api.flow_json(f) for f in api.flows(namespace)]
    for r in results:
        r.pop("source", None)
    return JSONResponse(results)


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
            "description": "The flow (its source if the Accept header asks for YAML)",
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
    data = api.flow_json(api.client.flow(namespace, id, revision))
    accept = request.headers.get("accept", "")
    if "yaml" in accept and "json" not in accept:
        return Response(data["source"], media_type="application/x-yaml")
    return JSONResponse(data)


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
    return JSONResponse(await run_in_threadpool(api.deploy, flow, text))


@router.delete(
    "/flows/{namespace}/{id}",
    status_code=204,
    summary="Delete a flow (its running executions go on)",
    responses=error_responses(404),
)
def delete_flow(api: ApiDep, namespace: str, id: str) -> Response:
    api.delete_flow(namespace, id)
    return Response(status_code=204)
