"""``GET /metrics``: Prometheus metrics of this API process (``executor.observability``)
and the queue depth of every queue (``ostra_queue_*``, read at each scrape).

Not under ``/api/v1`` (``/api/v1/metrics/{id}`` is an execution's task metrics,
``executor.api.routes.metrics``). When API tokens are set it needs one of them, or the
scrape-only ``OSTRA_METRICS_TOKEN`` (accepted here and nowhere else);
``OSTRA_METRICS_PUBLIC=true`` opens it (for a scraper inside a trusted network).
"""

from __future__ import annotations

import os
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from fastapi.security import HTTPAuthorizationCredentials
from prometheus_client import REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from executor.api.security import _BEARER, basic_password, configured_tokens, token_ok
from executor.client import Client
from executor.errors import Unauthorized
from executor.observability.queues import QueueCollector

_TRUE = {"1", "true", "yes", "on"}


def metrics_router(client: Client, tokens: list[bytes]) -> APIRouter:
    """The ``/metrics`` route of an app whose Client is ``client`` and whose API accepts
    ``tokens`` (empty: no authentication)."""
    public = os.environ.get("OSTRA_METRICS_PUBLIC", "").strip().lower() in _TRUE
    accepted = [] if public or not tokens else [*tokens, *_scrape_tokens()]
    queues = CollectorRegistry(auto_describe=False)
    queues.register(QueueCollector(lambda: client.queue_stats()))
    router = APIRouter(tags=["observability"])

    def authenticate(
        request: Request,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_BEARER)],
    ) -> None:
        if not accepted:
            return
        if credentials is not None and token_ok(credentials.credentials, accepted):
            return
        password = basic_password(request.headers.get("authorization", ""))
        if password is None or not token_ok(password, accepted):
            raise Unauthorized()

    @router.get(
        "/metrics",
        summary="Prometheus metrics: counts, durations and queue depth",
        response_class=Response,
        dependencies=[Depends(authenticate)] if accepted else [],
        responses={200: {"content": {CONTENT_TYPE_LATEST: {}}}},
    )
    def prometheus_metrics() -> Response:
        body = generate_latest(REGISTRY) + generate_latest(queues)
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    return router


def _scrape_tokens() -> list[bytes]:
    return configured_tokens(os.environ.get("OSTRA_METRICS_TOKEN", ""))
