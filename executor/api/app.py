"""Ostra's REST API: Kestra's paths under ``/api/v1``, on FastAPI.

::

    uvicorn executor.api.app:create_app --factory --port 8080
    ostra server api --port 8080          # the same, with Ostra's logging

Routes (JSON in Kestra's shape, camelCase; errors are ``application/problem+json``);
each is also under Kestra's tenant path ``/api/v1/{tenant}/...`` (the tenant is ``main``,
any other is a 404), and the controls also as ``/executions/{id}/actions/kill|...``:

=========================================  ============================================
``POST   /api/v1/flows``                    deploy a flow (YAML body)
``GET    /api/v1/flows/{namespace}/{id}``   a deployed flow (``?revision=``), its source
                                            as deployed
``PUT    /api/v1/flows/{namespace}/{id}``   deploy a new revision of an existing flow
``DELETE /api/v1/flows/{namespace}/{id}``   delete a flow (204)
``GET    /api/v1/flows/search``             ``namespace`` (and under it), ``q``, pages
``GET    /api/v1/flows/{namespace}``        the flows of a namespace
``POST   /api/v1/executions/{ns}/{flowId}``  submit (inputs as JSON or a form; ``labels=k:v``;
                                            ``?wait=true`` answers when it ends)
``GET    /api/v1/executions/{id}``          an execution
``DELETE /api/v1/executions/{id}``          delete an ended execution (204)
``GET    /api/v1/executions/search``        ``namespace, flowId, state, page (1-based), size``
                                            (or ``filters[field][EQUALS]``)
``GET    /api/v1/executions``               ``namespace, flowId``: the executions of a flow
``DELETE /api/v1/executions/{id}/kill``     kill (202)
``POST   /api/v1/executions/{id}/restart``  restart a FAILED or KILLED execution
``POST   /api/v1/executions/{id}/replay``   a new execution (``?taskRunId=``; optional inputs)
``POST   /api/v1/executions/{id}/pause``    pause a RUNNING execution
``POST   /api/v1/executions/{id}/resume``   resume a PAUSED execution
``GET    /api/v1/executions/{id}/follow``   server-sent events as Kestra's: the execution
                                            as ``progress`` on every change, ``end`` last
``GET    /api/v1/executions/{id}/events``   server-sent events: every state change, then
                                            ``end`` with the execution (``Last-Event-ID``)
``GET    /api/v1/logs/{id}``                the execution's log lines (a page from a
                                            ``cursor`` with ``page``/``size``/``cursor``)
``GET    /api/v1/metrics/{id}``             a page of the execution's metrics
``GET    /api/v1/workers/queues``           queue depth per queue and worker group
``GET|POST|PUT /api/v1/executions/webhook/{namespace}/{flowId}/{key}``
                                            Kestra's Webhook trigger: a new execution
                                            (no token needed: the key guards it)
``GET    /health``                          liveness and Redis (no token; ``?checks=true``:
                                            also live workers and the reconciler)
``GET    /metrics``                         Prometheus metrics and queue depth (a token, or
                                            ``OSTRA_METRICS_TOKEN``, when tokens are set)
``GET    /ui``                              the web UI (``executor.ui``; ``/`` redirects)
``GET    /docs``                            Swagger UI, served from the package (off with tokens)
=========================================  ============================================

Configuration (environment, or ``create_app`` arguments): ``OSTRA_API_TOKEN`` (a
comma-separated list of accepted tokens, sent as a bearer token or as the password of
basic auth, as Kestra's SDK sends either; unset: no authentication),
``OSTRA_API_MAX_BODY`` (bytes, default 1 MiB), ``OSTRA_WEBHOOK_MAX_BYTES`` (a webhook's
body, default 1 MiB), ``OSTRA_API_MAX_FOLLOWERS`` (follow streams
open at once, default 1000; one more is answered 503 with ``Retry-After``), and the
``OSTRA_*`` settings of the Client.

Nothing is stored for a refused request: flows and inputs are validated in full before
the Client writes anything. Tokens and SECRET input values are never logged or answered
(a SECRET input shows as ``******`` in executions).

Where things are: this module assembles the app (``create_app``); the routes are in
``executor.api.routes`` (one router per resource), their shared logic around the Client in
``executor.api.service``, request bodies are read by ``executor.api.parsing``, tokens and
the body limit are ``executor.api.security``, what keeps follow streams cheap (one Redis
reader per process waking them) ``executor.api.followers``, the OpenAPI models
``executor.api.schemas``;
errors are answered by ``executor.api.handlers`` with the status and problem+json body that
``executor.api.problems`` gives each (the error classes are all in ``executor.errors``).
The routes call the Client only, never the store.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI
from fastapi import Path as PathParam
from fastapi.params import Depends as DependsParam
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.utils import generate_unique_id

from executor import __version__
from executor.api import followers, security
from executor.api.handlers import install_error_handlers
from executor.api.kestra import check_tenant
from executor.api.parsing import MAX_YAML_NODES, YAML_TYPES, yaml_nodes
from executor.api.routes import API_ROUTERS, health, prometheus
from executor.api.routes.executions import MAX_PAGE_SIZE
from executor.api.schemas import (
    FlowOut,
    Health,
    PagedExecutions,
    error_responses,
    problem_media_types,
)
from executor.api.security import DEFAULT_MAX_BODY, BodyLimit, bearer_auth, configured_tokens
from executor.api.service import PING_INTERVAL, Api
from executor.client import Client
from executor.encryption import MASK
from executor.errors import BadRequest, BodyTooLarge, Unauthorized
from executor.ui import mount_ui, swagger_page

API_PREFIX = "/api/v1"


def tenant(
    name: Annotated[str, PathParam(alias="tenant", description="Always main: Ostra has one")],
) -> None:
    """The ``{tenant}`` of Kestra's paths: 404 unless it is ``main``."""
    check_tenant(name)


def create_app(
    client: Client | None = None,
    token: str | Sequence[str] | None = None,
    *,
    max_body: int | None = None,
    ping_interval: float = PING_INTERVAL,
    max_followers: int | None = None,
    webhook_max_body: int | None = None,
) -> FastAPI:
    """The API around ``client`` (default: a Client of ``OSTRA_REDIS_URL``).

    Args:
        client: the Client the routes use; one is made (and closed at shutdown) if None.
        token: accepted bearer tokens (a list, or a comma-separated string); None reads
            ``OSTRA_API_TOKEN``; empty: no authentication.
        max_body: the largest request body in bytes (None: ``OSTRA_API_MAX_BODY``, 1 MiB).
        ping_interval: seconds of silence after which a follow stream sends a comment.
        max_followers: the most follow streams (``/follow``, ``/events``) open at once
            (None: ``OSTRA_API_MAX_FOLLOWERS``, 1000); one more is answered 503.
        webhook_max_body: the largest webhook body in bytes (None:
            ``OSTRA_WEBHOOK_MAX_BYTES``, 1 MiB).
    """
    tokens = configured_tokens(token)
    limit = security.max_body(max_body)
    webhook_limit = security.webhook_max_body(webhook_max_body)
    most_followers = followers.max_followers(max_followers)
    own = client is None
    the_client = client if client is not None else Client()

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        await api.followers.aclose()
        if own:
            the_client.close()

    # With tokens, every route but /health and the webhooks (security.OPEN_ROUTES) needs
    # one: the OpenAPI document is served by a route of the guarded router below, and the
    # interactive docs are off.
    app = FastAPI(
        title="Ostra",
        version=__version__,
        lifespan=lifespan,
        description="Kestra-style workflow executions on Celery workers, state in Redis. "
        "Errors are application/problem+json (RFC 9457).",
        openapi_url=None if tokens else "/openapi.json",
        docs_url=None,  # served below, with Swagger UI from the package (no CDN)
        redoc_url=None,
    )
    app.state.client = the_client
    api = Api(the_client, ping_interval, most_followers)
    app.state.api = api
    app.state.webhook_max_body = webhook_limit
    app.add_middleware(BodyLimit, limit=limit, webhook_limit=webhook_limit)
    install_error_handlers(app)

    dependencies: list[DependsParam] = []
    auth_errors: tuple[int, ...] = ()
    if tokens:
        dependencies.append(Depends(bearer_auth(tokens)))
        auth_errors = (401,)

    for router in API_ROUTERS:
        app.include_router(
            router,
            prefix=API_PREFIX,
            dependencies=dependencies,
            responses=error_responses(*auth_errors, 422, 503),
        )
    # Kestra's paths with a tenant, /api/v1/{tenant}/...: after the tenant-less ones, which
    # take precedence (a tenant named like a resource, "flows", is not reachable).
    for router in API_ROUTERS:
        app.include_router(
            router,
            prefix=API_PREFIX + "/{tenant}",
            dependencies=[*dependencies, Depends(tenant)],
            responses=error_responses(*auth_errors, 404, 422, 503),
            generate_unique_id_function=lambda route: generate_unique_id(route) + "_tenant",
        )

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = problem_media_types(FastAPI.openapi(app))
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    if tokens:
        guarded = APIRouter(dependencies=dependencies)

        @guarded.get("/openapi.json", include_in_schema=False)
        def openapi_document() -> JSONResponse:
            return JSONResponse(app.openapi())

        app.include_router(guarded)

    else:

        @app.get("/docs", include_in_schema=False)
        def docs() -> HTMLResponse:
            return swagger_page("/openapi.json")

    app.include_router(health.router)
    app.include_router(prometheus.metrics_router(the_client, tokens))
    mount_ui(app, tokens)  # the web UI at /ui (executor.ui)
    return app


# Names this module had before the routes moved out; kept importable from here.
__all__ = [
    "API_PREFIX",
    "DEFAULT_MAX_BODY",
    "MASK",
    "MAX_PAGE_SIZE",
    "MAX_YAML_NODES",
    "PING_INTERVAL",
    "YAML_TYPES",
    "Api",
    "BadRequest",
    "BodyLimit",
    "BodyTooLarge",
    "FlowOut",
    "Health",
    "PagedExecutions",
    "Unauthorized",
    "configured_tokens",
    "create_app",
    "yaml_nodes",
]
