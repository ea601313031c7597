"""With API tokens on, the webhooks (and ``/health``) are the only routes reachable
without one: as in Kestra, a webhook is guarded by its key. Every other route of the
app, under both prefixes, still answers 401 without a token, including addresses that
look like a webhook's but are routed elsewhere.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from executor import Client
from executor.api.app import create_app
from executor.api.security import OPEN_ROUTES
from executor.embedded import EmbeddedRedis
from tests.conftest import stored

pytestmark = [pytest.mark.integration, pytest.mark.filterwarnings("ignore::DeprecationWarning")]

TOKEN = "hook-token-" + uuid.uuid4().hex
YAML = {"Content-Type": "application/x-yaml"}


@pytest.fixture(scope="module")
def api_client(redis_server: EmbeddedRedis) -> Iterator[Client]:
    c = Client(redis_server.url)
    yield c
    c.orchestrator.dispatcher.app.close()
    c.store.r.close()


@pytest.fixture(scope="module")
def guarded(api_client: Client) -> Iterator[TestClient]:
    with TestClient(create_app(api_client, token=TOKEN)) as client:
        yield client


def test_webhook_works_without_the_token(guarded: TestClient) -> None:
    ns = f"tests.hooksec.n{uuid.uuid4().hex[:8]}"
    source = f"""
id: hooked
namespace: {ns}
tasks:
  - {{id: a, type: Log, message: hi}}
triggers:
  - {{id: hook, type: Webhook, key: the-key}}
"""
    auth = {"Authorization": f"Bearer {TOKEN}"}
    assert guarded.post("/api/v1/flows", content=source, headers={**YAML, **auth}).is_success
    for url in (
        f"/api/v1/executions/webhook/{ns}/hooked/the-key",
        f"/api/v1/main/executions/webhook/{ns}/hooked/the-key",
        f"/api/v1/main/executions/webhook/{ns}/hooked/the-key/some/path",
    ):
        response = guarded.post(url, json={"x": 1})
        assert response.status_code == 200, (url, response.text)
        # The execution it started is not readable without the token.
        eid = response.json()["id"]
        assert guarded.get(f"/api/v1/executions/{eid}").status_code == 401
    # A wrong key is the same 404 with or without a token: the token opens nothing here.
    assert guarded.get(f"/api/v1/executions/webhook/{ns}/hooked/wrong").status_code == 404
    assert (
        guarded.get(f"/api/v1/executions/webhook/{ns}/hooked/wrong", headers=auth).status_code
        == 404
    )


def test_every_other_route_still_needs_the_token(guarded: TestClient, api_client: Client) -> None:
    before = stored(api_client)
    checked = 0
    paths = guarded.app.openapi()["paths"]  # type: ignore[attr-defined]
    open_paths = {p.replace(":path}", "}") for p in OPEN_ROUTES}  # as OpenAPI spells them
    for path, operations in paths.items():
        if path in open_paths or path == "/health":
            continue
        url = re.sub(r"\{tenant\}", "main", path)
        url = re.sub(r"\{[^}]+\}", "x", url)
        for method in operations:
            response = guarded.request(method.upper(), url)
            assert response.status_code == 401, (method, path, response.status_code)
            checked += 1
    assert any("webhook" in p for p in paths) and "/api/v1/flows" in paths
    assert checked > 30  # every router was walked, under both prefixes
    assert guarded.get("/openapi.json").status_code == 401
    assert stored(api_client) == before


@pytest.mark.parametrize(
    ("method", "url"),
    [
        # Too few segments for a webhook: the executions routes, guarded.
        ("POST", "/api/v1/executions/webhook/ns"),
        ("GET", "/api/v1/executions/webhook"),
        # A tenant named "executions": not the webhook route.
        ("GET", "/api/v1/executions/executions/webhook/a/b"),
        ("POST", "/api/v1/flows/webhook/a/b/c"),
    ],
)
def test_webhook_lookalike_addresses_need_the_token(
    guarded: TestClient, method: str, url: str
) -> None:
    response = guarded.request(method, url)
    assert response.status_code in (401, 404, 405), response.status_code
    assert response.status_code != 200
    if response.status_code != 401:
        # Not routed at all: nothing answered but the router's own refusal.
        assert "Webhook" not in response.text
