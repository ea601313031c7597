"""Kestra's Webhook trigger on the REST API, real Redis and a real worker: what a call
brings reaches the execution (``trigger.body``, ``headers``, ``parameters``) and its
templates; one 404 for a wrong key, an unknown flow and a flow without webhook; the
body's size limit (413, nothing stored); disabled flows and triggers (409); templated
keys; conditions (204); credentials in headers never stored in plaintext.

Kestra's cases: ``webserver/src/test/java/io/kestra/webserver/controllers/api/
ExecutionControllerTest.java`` (``webhook``, ``webhookFlowNotFound``,
``webhookDynamicKey``, ``webhookDynamicKeyFromASecret``, ``webhookWithCondition``).
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import redis
from fastapi.testclient import TestClient

from executor import Client, StateType
from executor.api.app import create_app
from executor.embedded import EmbeddedRedis, LocalWorker
from executor.encryption import MASK
from executor.store.base import TriggerRef
from tests.conftest import stored
from tests.helpers.secret_env import every_stored_byte

pytestmark = [pytest.mark.integration, pytest.mark.filterwarnings("ignore::DeprecationWarning")]

YAML = {"Content-Type": "application/x-yaml"}
KEY = "a-secret-key"

SHOW = "{{ trigger.body.a }}|{{ trigger.parameters.age[1] }}|{{ trigger.headers['x-event'][0] }}"
HOOKED = """
id: hooked
namespace: {ns}
labels:
  team: data
tasks:
  - id: show
    type: Return
    format: "{show}"
triggers:
  - id: hook
    type: io.kestra.plugin.core.trigger.Webhook
    key: {key}
    labels:
      source: webhook
"""

ECHO = """
id: echo
namespace: {ns}
tasks:
  - id: body
    type: Return
    format: "{{{{ trigger.body | json }}}}"
triggers:
  - id: hook
    type: Webhook
    key: {key}
"""


@pytest.fixture(scope="module")
def api_client(redis_server: EmbeddedRedis) -> Iterator[Client]:
    c = Client(redis_server.url)
    yield c
    c.orchestrator.dispatcher.app.close()
    c.store.r.close()


@pytest.fixture(scope="module")
def http(api_client: Client) -> Iterator[TestClient]:
    with TestClient(create_app(api_client, token="", webhook_max_body=4096)) as client:
        yield client


@pytest.fixture
def ns() -> str:
    return f"tests.hook.n{uuid.uuid4().hex[:10]}"


def deploy(http: TestClient, text: str) -> None:
    response = http.post("/api/v1/flows", content=text, headers=YAML)
    assert response.status_code == 200, response.text


def hook_url(ns: str, flow_id: str, key: str = KEY, tenant: bool = True) -> str:
    return f"/api/v1/{'main/' if tenant else ''}executions/webhook/{ns}/{flow_id}/{key}"


def test_post_json_with_parameters_and_headers_reaches_execution_and_templates(
    http: TestClient, api_client: Client, worker: LocalWorker, ns: str
) -> None:
    deploy(http, HOOKED.format(ns=ns, key=KEY, show=SHOW))
    response = http.post(
        hook_url(ns, "hooked") + "?name=john&age=12&age=13",
        json={"a": 1, "b": True},
        headers={"X-Event": "push"},
    )
    assert response.status_code == 200, response.text
    answered = response.json()
    # Kestra's answer: the execution, with its trigger.
    assert answered["namespace"] == ns and answered["flowId"] == "hooked"
    assert answered["state"]["current"] == "CREATED"
    trigger = answered["trigger"]
    assert trigger["id"] == "hook" and trigger["type"] == "io.kestra.plugin.core.trigger.Webhook"
    assert trigger["variables"]["body"] == {"a": 1, "b": True}
    assert trigger["variables"]["parameters"] == {"name": ["john"], "age": ["12", "13"]}
    assert trigger["variables"]["headers"]["x-event"] == ["push"]
    labels = {lb["key"]: lb["value"] for lb in answered["labels"]}
    assert labels["team"] == "data" and labels["source"] == "webhook"

    done = api_client.wait(answered["id"], timeout=30)
    assert done.state.current == StateType.SUCCESS
    assert done.task_run("show").outputs["value"] == "1|13|push"
    assert done.trigger is not None and done.trigger.variables["body"] == {"a": 1, "b": True}


def test_array_text_and_empty_bodies_each_start_a_new_execution(
    http: TestClient, api_client: Client, worker: LocalWorker, ns: str
) -> None:
    deploy(http, ECHO.format(ns=ns, key=KEY))
    url = hook_url(ns, "echo", tenant=False)  # the tenant-less path too
    array = http.put(url, json=[{"a": 1, "b": True}])
    text = http.post(url, content=b"bla")
    empty = http.get(url)
    # JSON-looking text that is not an object or an array stays text, as Kestra's test.
    escaped = http.post(url, content=b'{\\"a\\":\\"\\"}')
    answers = [r.json() for r in (array, text, empty, escaped)]
    assert [r.status_code for r in (array, text, empty, escaped)] == [200] * 4
    assert [a["trigger"]["variables"]["body"] for a in answers] == [
        [{"a": 1, "b": True}],
        "bla",
        None,
        '{\\"a\\":\\"\\"}',
    ]
    assert len({a["id"] for a in answers}) == 4
    done = api_client.wait(answers[0]["id"], timeout=30)
    assert json.loads(done.task_run("body").outputs["value"]) == [{"a": 1, "b": True}]


def test_wrong_key_unknown_flow_and_flow_without_webhook_get_one_answer(
    http: TestClient, api_client: Client, ns: str
) -> None:
    deploy(http, ECHO.format(ns=ns, key=KEY))
    deploy(http, f"id: plain\nnamespace: {ns}\ntasks:\n  - {{id: a, type: Log, message: hi}}\n")
    before = stored(api_client)
    answers = [
        http.post(hook_url(ns, "echo", "wrong-key"), json={"a": 1}),
        http.post(hook_url(ns, "echo", KEY[:-1]), json={"a": 1}),  # a prefix of the key
        http.post(hook_url(ns, "missing"), json={"a": 1}),
        http.post(hook_url(ns, "plain"), json={"a": 1}),
        http.get(hook_url("no.such.ns", "echo")),
    ]
    assert [r.status_code for r in answers] == [404] * 5
    bodies = {r.text for r in answers}
    assert len(bodies) == 1, bodies  # nothing tells them apart
    assert "Webhook not found" in bodies.pop()
    assert stored(api_client) == before
    assert (
        http.post(hook_url(ns, "echo", KEY, tenant=False).replace("/v1/", "/v1/acme/")).status_code
        == 404
    )


def test_oversized_body_is_413_and_nothing_is_stored(
    http: TestClient, api_client: Client, ns: str
) -> None:
    deploy(http, ECHO.format(ns=ns, key=KEY))
    before = stored(api_client)
    # Declared too large: refused before the body is read.
    declared = http.post(hook_url(ns, "echo"), content=b"x" * 5000)
    assert declared.status_code == 413, declared.text

    # Chunked (no Content-Length): counted as it arrives, refused once past the limit.
    def chunks() -> Iterator[bytes]:
        for _ in range(10):
            yield b"y" * 1000

    streamed = http.post(hook_url(ns, "echo"), content=chunks())
    assert streamed.status_code == 413, streamed.text
    assert streamed.headers["content-type"].startswith("application/problem+json")
    assert stored(api_client) == before
    # At the limit it is taken.
    assert http.post(hook_url(ns, "echo"), content=b"z" * 4096).status_code == 200


def test_a_body_too_deep_is_refused_with_nothing_stored(
    http: TestClient, api_client: Client, ns: str
) -> None:
    deploy(http, ECHO.format(ns=ns, key=KEY))
    before = stored(api_client)
    response = http.post(hook_url(ns, "echo"), content=b"[" * 150 + b"]" * 150)
    assert response.status_code == 422, response.text
    assert "nested more than 100 levels" in response.text
    assert stored(api_client) == before


def test_disabled_flow_and_disabled_trigger_are_refused_409(
    http: TestClient, api_client: Client, ns: str
) -> None:
    deploy(http, ECHO.format(ns=ns, key=KEY) + "disabled: true\n")
    deploy(
        http,
        ECHO.format(ns=ns, key=KEY).replace("id: echo", "id: off") + "    disabled: true\n",
    )
    deploy(http, ECHO.format(ns=ns, key=KEY).replace("id: echo", "id: paused"))
    api_client.store.set_trigger_disabled(TriggerRef(ns, "paused", "hook"), True)
    before = stored(api_client)
    for flow_id, why in (
        ("echo", "disabled flow"),
        ("off", "disabled trigger"),
        ("paused", "disabled trigger"),
    ):
        response = http.post(hook_url(ns, flow_id), json={})
        assert response.status_code == 409, (flow_id, response.text)
        assert why in response.text
    # Without the key, a disabled flow is not told apart from a missing one.
    assert http.post(hook_url(ns, "echo", "nope"), json={}).status_code == 404
    assert stored(api_client) == before
    api_client.store.set_trigger_disabled(TriggerRef(ns, "paused", "hook"), False)
    assert http.post(hook_url(ns, "paused"), json={}).status_code == 200


def test_keys_rendered_as_kestra_does_flow_id_and_secret(
    http: TestClient, ns: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SECRET_HOOK_KEY", base64.b64encode(b"from-a-secret").decode())
    deploy(http, ECHO.format(ns=ns, key='"{{ flow.id }}"'))
    deploy(
        http,
        ECHO.format(ns=ns, key="\"{{ secret('HOOK_KEY') }}\"").replace("id: echo", "id: sealed"),
    )
    deploy(
        http,
        ECHO.format(ns=ns, key="\"{{ secret('NO_SUCH') }}\"").replace("id: echo", "id: broken"),
    )
    assert http.get(hook_url(ns, "echo", "echo")).status_code == 200
    assert http.get(hook_url(ns, "sealed", "from-a-secret")).status_code == 200
    assert http.get(hook_url(ns, "sealed", "{{ secret('HOOK_KEY') }}")).status_code == 404
    # A key that cannot be rendered matches nothing (Kestra: "the webhook will be ignored").
    assert http.get(hook_url(ns, "broken", "")).status_code == 404


def test_expression_condition_false_answers_204_and_starts_nothing(
    http: TestClient, api_client: Client, ns: str
) -> None:
    deploy(
        http,
        ECHO.format(ns=ns, key=KEY)
        + "    conditions:\n"
        + "      - type: io.kestra.plugin.core.condition.ExpressionCondition\n"
        + "        expression: \"{{ trigger.body.hello == 'world' }}\"\n",
    )
    before = stored(api_client)
    miss = http.post(hook_url(ns, "echo"), json={"hello": "webhook"})
    assert miss.status_code == 204 and miss.content == b""
    assert stored(api_client) == before
    hit = http.post(hook_url(ns, "echo"), json={"hello": "world"})
    assert hit.status_code == 200 and hit.json()["id"]
    state = api_client.store.trigger_state(TriggerRef(ns, "echo", "hook"))
    assert state is not None and state.execution_id == hit.json()["id"]


def test_a_condition_that_fails_to_render_is_422_and_recorded(
    http: TestClient, api_client: Client, ns: str
) -> None:
    deploy(
        http,
        ECHO.format(ns=ns, key=KEY)
        + "    conditions:\n"
        + "      - type: Expression\n"
        + '        expression: "{{ trigger.body.missing.deeper }}"\n',
    )
    before = stored(api_client)
    response = http.post(hook_url(ns, "echo"), json={"hello": "world"})
    assert response.status_code == 422, response.text
    assert "undefined" in response.text
    assert stored(api_client) == before
    state = api_client.store.trigger_state(TriggerRef(ns, "echo", "hook"))
    assert state is not None and state.error and "undefined" in state.error


def test_credentials_in_headers_are_masked_and_never_stored(
    http: TestClient, api_client: Client, worker: LocalWorker, ns: str
) -> None:
    deploy(
        http,
        ECHO.format(ns=ns, key=KEY).replace("trigger.body | json", "trigger.headers | json"),
    )
    secrets = {
        "Authorization": "Bearer tok-" + uuid.uuid4().hex,
        "Cookie": "session=ck-" + uuid.uuid4().hex,
        "X-Api-Key": "ak-" + uuid.uuid4().hex,
        "X-Hub-Token": "ht-" + uuid.uuid4().hex,
    }
    response = http.post(
        hook_url(ns, "echo") + "?access_token=qt-secret-1234&page=2",
        json={},
        headers={**secrets, "X-Request-Id": "req-42"},
    )
    assert response.status_code == 200, response.text
    variables = response.json()["trigger"]["variables"]
    for name in secrets:
        assert variables["headers"][name.lower()] == [MASK]
    assert variables["headers"]["x-request-id"] == ["req-42"]
    assert variables["parameters"] == {"access_token": [MASK], "page": ["2"]}
    done = api_client.wait(response.json()["id"], timeout=30)
    assert json.loads(done.task_run("body").outputs["value"])["authorization"] == [MASK]
    raw = redis.Redis.from_url(api_client.settings.url)
    try:
        everything = every_stored_byte(raw)
    finally:
        raw.close()
    for value in [*secrets.values(), "qt-secret-1234"]:
        secret_part = value.split("-", 1)[1]
        assert secret_part.encode() not in everything, value


def test_the_key_in_the_address_is_not_stored(
    http: TestClient, api_client: Client, ns: str
) -> None:
    key = "k-" + uuid.uuid4().hex
    deploy(http, ECHO.format(ns=ns, key="\"{{ secret('ROTATED') }}\""))
    # (the flow source holds the template only; the call's path is not kept)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SECRET_ROTATED", base64.b64encode(key.encode()).decode())
        assert http.post(hook_url(ns, "echo", key), json={"k": 1}).status_code == 200
    raw = redis.Redis.from_url(api_client.settings.url)
    try:
        assert key.encode() not in every_stored_byte(raw)
    finally:
        raw.close()


def test_real_http_server_with_keep_alive(api_client: Client, ns: str) -> None:
    """Over a real uvicorn server: a body refused mid-stream does not break the next call."""
    from tests.helpers.api import ThreadServer

    app = create_app(api_client, token="", webhook_max_body=1000)
    server = ThreadServer(app).start()
    try:
        with httpx.Client(base_url=server.url, timeout=10) as h:
            deploy(h, ECHO.format(ns=ns, key=KEY))  # type: ignore[arg-type]
            big: Any = (b"q" * 500 for _ in range(5))
            assert h.post(hook_url(ns, "echo"), content=big).status_code == 413
            ok = h.post(hook_url(ns, "echo"), json={"after": True})
            assert ok.status_code == 200 and ok.json()["trigger"]["variables"]["body"] == {
                "after": True
            }
    finally:
        server.stop()
