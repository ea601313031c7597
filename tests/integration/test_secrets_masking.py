"""Secrets and SECRET inputs never reach Redis, logs, outputs or the API in plaintext."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from fastapi.testclient import TestClient

from executor import Client, Flow
from executor.api.app import create_app
from executor.secrets import MASK
from executor.state import StateType
from tests.conftest import WORKER_ENV
from tests.helpers.secret_env import (
    INPUT_VALUE,
    JSON_SECRET,
    MULTILINE_VALUE,
    SECRET_VALUE,
    every_stored_byte,
    secret_world,
)

pytestmark = pytest.mark.integration

FLOW = """
id: uses-secrets
namespace: test.secrets
inputs:
  - id: password
    type: SECRET
tasks:
  - id: log-secret
    type: io.kestra.plugin.core.log.Log
    message: "secret is {{ secret('plain') }} and password is {{ inputs.password }}"
  - id: return-secret
    type: io.kestra.plugin.core.debug.Return
    format: "value={{ secret('PLAIN') }}"
  - id: return-input
    type: io.kestra.plugin.core.debug.Return
    format: "{{ inputs.password }}"
  - id: multiline
    type: io.kestra.plugin.core.debug.Return
    format: "{{ secret('new_line') }}"
  - id: json-key
    type: io.kestra.plugin.core.debug.Return
    format: "{{ (secret('my_secret') | fromJson).secretKey }}"  # Kestra's flow: json(...)
  - id: next
    type: io.kestra.plugin.core.log.Log
    message: "previous output: {{ outputs['return-secret'].value }}"
"""

UNKNOWN = """
id: unknown-secret
namespace: test.secrets
tasks:
  - id: boom
    type: io.kestra.plugin.core.log.Log
    message: "{{ secret('no_such_secret') }}"
"""

PLAINTEXTS = [
    SECRET_VALUE,
    INPUT_VALUE,
    "line-one-a8e2",
    "line-two-b7d3",
    "json-Secret-77aa",
]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Client, redis.Redis]]:
    with secret_world(tmp_path_factory.mktemp("secrets"), WORKER_ENV) as (client, server):
        yield client, redis.Redis.from_url(server.url)


def _run(client: Client, text: str, inputs: dict[str, Any] | None = None) -> Any:
    execution = client.submit(Flow.from_yaml(text), inputs=inputs)
    return client.wait(execution.id, timeout=60)


def test_secrets_are_masked_in_logs_outputs_api_and_absent_from_redis(
    world: tuple[Client, redis.Redis],
) -> None:
    client, raw = world
    done = _run(client, FLOW, {"password": INPUT_VALUE})
    assert done.state.current == StateType.SUCCESS, [t.attempts for t in done.task_run_list]
    outputs = {t.task_id: t.outputs for t in done.task_run_list}
    assert outputs["return-secret"] == {"value": f"value={MASK}"}
    assert outputs["return-input"] == {"value": MASK}
    assert outputs["multiline"] == {"value": MASK}
    assert outputs["json-key"] == {"value": MASK}
    # The client shows the SECRET input masked (it is stored encrypted: see the scan).
    assert done.inputs["password"] == MASK

    logs = [e.message for e in client.logs(done.id)]
    assert f"secret is {MASK} and password is {MASK}" in logs
    assert f"previous output: value={MASK}" in logs

    with TestClient(create_app(client, token="")) as http:
        answer = http.get(f"/api/v1/executions/{done.id}")
        assert answer.status_code == 200
        assert answer.json()["inputs"]["password"] == MASK
        api_logs = http.get(f"/api/v1/logs/{done.id}")
        assert api_logs.status_code == 200
        bodies = answer.text + api_logs.text
    for plain in [*PLAINTEXTS, MULTILINE_VALUE, JSON_SECRET]:
        assert plain not in bodies

    stored = every_stored_byte(raw)
    assert b"uses-secrets" in stored  # the scan did read the execution
    for plain in PLAINTEXTS:
        assert plain.encode() not in stored, plain


def test_unknown_secret_fails_the_task_run_naming_it(world: tuple[Client, redis.Redis]) -> None:
    client, _ = world
    done = _run(client, UNKNOWN)
    assert done.state.current == StateType.FAILED
    (boom,) = done.task_run_list
    assert boom.state.current == StateType.FAILED
    error = " ".join(m.message for m in client.logs(done.id) if m.level == "ERROR")
    assert "Cannot find secret for key 'no_such_secret'" in error
    assert "environment variables SECRET_*" in error


def test_secret_input_refused_without_key_through_the_api(
    world: tuple[Client, redis.Redis], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from executor.settings import get_settings

    client, raw = world
    client.deploy(Flow.from_yaml(FLOW))
    monkeypatch.delenv("OSTRA_ENCRYPTION_KEY")
    get_settings.cache_clear()
    try:
        before = raw.zcard(client.store.k.index_all)
        with TestClient(create_app(client, token="")) as http:
            answer = http.post(
                "/api/v1/executions/test.secrets/uses-secrets", json={"password": "x-refused"}
            )
        assert answer.status_code == 422
        assert "OSTRA_ENCRYPTION_KEY" in answer.text
        assert "x-refused" not in answer.text
        assert raw.zcard(client.store.k.index_all) == before
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()


CHILD = """
id: secret-child
namespace: test.secrets
inputs:
  - id: token
    type: SECRET
tasks:
  - id: use
    type: io.kestra.plugin.core.log.Log
    message: "child got {{ inputs.token }} of {{ inputs.token | length }} characters"
"""

PARENT = """
id: secret-parent
namespace: test.secrets
inputs:
  - id: password
    type: SECRET
tasks:
  - id: call
    type: io.kestra.plugin.core.flow.Subflow
    namespace: test.secrets
    flowId: secret-child
    inputs:
      token: "{{ inputs.password }}"
"""


def test_secret_input_passed_to_a_subflow_stays_encrypted(
    world: tuple[Client, redis.Redis],
) -> None:
    # The executor renders the subflow's inputs without decrypting: the child is given the
    # ciphertext, keeps it as it is, and its worker decrypts it.
    client, raw = world
    client.deploy(Flow.from_yaml(CHILD))
    done = _run(client, PARENT, {"password": "subflow-Pass-31c9"})
    assert done.state.current == StateType.SUCCESS
    child_id = done.task_run_list[0].outputs["executionId"]
    child = client.wait(child_id, timeout=30)
    assert child.state.current == StateType.SUCCESS
    assert [e.message for e in client.logs(child_id)] == [f"child got {MASK} of 17 characters"]
    assert b"subflow-Pass-31c9" not in every_stored_byte(raw)
