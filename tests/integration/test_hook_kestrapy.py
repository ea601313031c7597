"""Kestra's own Python SDK (``kestrapy``) calls Ostra's webhooks: its
``ExecutionsApi.trigger_execution_by_get_webhook`` and the ``..._with_path`` variants
(``GET``, ``POST``, ``PUT``), against a real uvicorn server with API tokens on, from an
SDK client that has no token (webhooks need none; the key guards them). The answer is
validated strictly with the SDK's ``WebhookResponse`` model, as ``test_kestrapy`` does
for executions.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from kestrapy import KestraClient
from kestrapy.exceptions import NotFoundException, UnauthorizedException
from kestrapy.models import WebhookResponse

from executor import Client, StateType
from executor.api.app import create_app
from executor.embedded import EmbeddedRedis, LocalWorker
from tests.helpers.api import ThreadServer

pytestmark = [pytest.mark.integration, pytest.mark.filterwarnings("ignore::UserWarning")]

TOKEN = "kestrapy-hook-" + uuid.uuid4().hex
TENANT = "main"
KEY = "4wjtkzwVGBM9yKnjm3yv8r"

HOOKED = """
id: webhook_flow
namespace: {ns}
tasks:
  - id: who
    type: io.kestra.plugin.core.debug.Return
    format: "{{{{ trigger.parameters.user[0] ?? 'nobody' }}}}"
triggers:
  - id: webhook
    type: io.kestra.plugin.core.trigger.Webhook
    key: {key}
"""


@pytest.fixture(scope="module")
def server(redis_server: EmbeddedRedis) -> Iterator[tuple[str, Client]]:
    client = Client(redis_server.url)
    live = ThreadServer(create_app(client, token=TOKEN)).start()
    try:
        yield live.url, client
    finally:
        live.stop()
        client.orchestrator.dispatcher.app.close()
        client.store.r.close()


@pytest.fixture
def ns() -> str:
    return f"tests.kestrapy.hook.n{uuid.uuid4().hex[:8]}"


def deploy(url: str, ns: str) -> None:
    response = requests.post(
        f"{url}/api/v1/{TENANT}/flows",
        data=HOOKED.format(ns=ns, key=KEY),
        headers={"Content-Type": "application/x-yaml", "Authorization": f"Bearer {TOKEN}"},
        timeout=30,
    )
    assert response.status_code == 200, response.text


def strict(url: str, path: str, method: str = "GET") -> WebhookResponse:
    """The webhook's raw answer, validated strictly by the SDK's model (no fallback)."""
    data: dict[str, Any] = requests.request(method, url + path, timeout=30).json()
    state = data["state"]
    # The SDK's State requires getters Kestra never sends (see test_kestrapy._getters).
    state["getDuration"] = state["duration"]
    state["getStartDate"] = state["startDate"]
    state["getEndDate"] = state.get("endDate", state["startDate"])
    return WebhookResponse.from_dict(data)  # type: ignore[return-value]


def test_kestrapy_webhook_calls_start_executions_without_a_token(
    server: tuple[str, Client], worker: LocalWorker, ns: str
) -> None:
    url, client = server
    deploy(url, ns)
    anonymous = KestraClient(host=url, timeout=60)  # no token, no basic auth
    api = anonymous.executions

    got = api.trigger_execution_by_get_webhook(TENANT, ns, "webhook_flow", KEY)
    posted = api.trigger_execution_by_post_webhook_with_path(
        TENANT, ns, "webhook_flow", KEY, "events"
    )
    put = api.trigger_execution_by_put_webhook_with_path(TENANT, ns, "webhook_flow", KEY, "x")
    for answer in (got, posted, put):
        assert isinstance(answer, WebhookResponse)
        assert answer.namespace == ns and answer.flow_id == "webhook_flow"
        assert answer.trigger is not None and answer.trigger.id == "webhook"
        assert answer.trigger.type == "io.kestra.plugin.core.trigger.Webhook"
        assert answer.url and answer.url.endswith(f"/{answer.id}")
    assert len({got.id, posted.id, put.id}) == 3
    done = client.wait(str(got.id), timeout=30)
    assert done.state.current == StateType.SUCCESS
    assert done.task_run("who").outputs["value"] == "nobody"

    path = f"/api/v1/{TENANT}/executions/webhook/{ns}/webhook_flow/{KEY}?user=ada"
    checked = strict(url, path)
    assert checked.trigger is not None
    assert checked.trigger.variables is not None
    assert checked.trigger.variables["parameters"] == {"user": ["ada"]}
    assert client.wait(str(checked.id), timeout=30).task_run("who").outputs["value"] == "ada"


def test_kestrapy_wrong_key_is_not_found_and_other_calls_need_the_token(
    server: tuple[str, Client], ns: str
) -> None:
    url, _ = server
    deploy(url, ns)
    anonymous = KestraClient(host=url, timeout=60)
    with pytest.raises(NotFoundException):
        anonymous.executions.trigger_execution_by_get_webhook(TENANT, ns, "webhook_flow", "nope")
    with pytest.raises(UnauthorizedException):
        anonymous.flows.flow(TENANT, ns, "webhook_flow")
