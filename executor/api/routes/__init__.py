"""The REST API's routes, one router per resource; ``executor.api.app.create_app``
includes them in this order (it matters: see ``executions``).

- ``webhooks``: ``/api/v1/executions/webhook/{namespace}/{flowId}/{key}`` (Kestra's
  Webhook trigger; first, and without the token: ``security.OPEN_ROUTES``)
- ``flows``: ``/api/v1/flows`` (deploy, read, new revision, search, list, delete)
- ``executions``: ``/api/v1/executions`` (start, read, search, delete, control, follow)
- ``logs``: ``/api/v1/logs/{executionId}``
- ``metrics``: ``/api/v1/metrics/{executionId}``
- ``triggers``: ``/api/v1/triggers`` (list, enable/disable, unlock, backfill)
- ``kv``: ``/api/v1/[{tenant}/]namespaces/{namespace}/kv`` (the KV store; last)
- ``workers``: ``/api/v1/workers/queues`` (queue depth)
- ``health``: ``/health`` (never behind a token)
- ``prometheus``: ``/metrics`` (Prometheus; its own token rule, included by ``create_app``)

The routers carry no prefix, token check or shared error responses: ``create_app`` adds
them when it includes the routers, twice: under ``/api/v1`` and under Kestra's
``/api/v1/{tenant}`` (the tenant checked to be ``main``). Each route reaches the Client
through ``ApiDep`` (``executor.api.service``).
"""

from executor.api.routes import (
    executions,
    flows,
    health,
    kv,
    logs,
    metrics,
    triggers,
    webhooks,
    workers,
)

#: the routers under ``/api/v1``, behind the token when tokens are set, in order
API_ROUTERS = (
    webhooks.router,
    flows.router,
    executions.router,
    logs.router,
    metrics.router,
    workers.router,
    triggers.router,
    kv.router,
)

__all__ = [
    "API_ROUTERS",
    "executions",
    "flows",
    "health",
    "kv",
    "logs",
    "metrics",
    "triggers",
    "webhooks",
    "workers",
]
